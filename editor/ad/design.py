"""An ad's layout as data: what a user can change after the build, saved and read as JSON.

`AdLayout` holds, per format, the text block's position (one of the format's suggested
positions), alignment, size, line length, font and colours, how the price is emphasised, the
product's scale and position, and where the brand mark goes. Every field may be left out (None):
the composition fills it in, and the layout that comes back from a build has every field set, so
it can be edited and sent back to re-render without cutting the product out or making the
background again.

File format (`save_layouts` / `load_layouts`):

    {"version": 1, "formats": {"instagram-square": {"text": {...}, "product": {...}, "logo": "stack"}}}
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

from editor.ad.colour import parse_hex, to_hex
from editor.ad.composite import PlacementRequest
from editor.ad.formats import POSITIONS, canonical_name
from editor.ad.typography import ALIGNS, EMPHASES
from editor.atomic import atomic_write_text
from editor.errors import InputError
from models.data_files import JsonFileError, parse_json, read_json_text

LAYOUT_VERSION = 1
LOGO_POSITIONS = ("stack", "top-left", "top-right", "bottom-left", "bottom-right", "none")
BADGE_KINDS = ("discount", "new")  # "-18%" from the two prices; "NEW" for a headline announcing something new
# A tag in a row above the headline, a tag right after the new price, a round sticker at the product's
# top corner (or a free corner of the live area: editor.ad.badges), or left out.
BADGE_PLACES = ("above", "beside", "corner", "none")
ELEMENT_KINDS = ("headline", "subline", "price", "old_price", "badge", "cta", "logo", "brand", "product", "shadow", "panel")
MAX_LAYOUT_BYTES = 256 * 1024


def _bad(message: str, **values) -> InputError:
    return InputError(f"The layout is invalid: {message}", key="ad_bad_layout", field="layout", detail=message, **values)


@dataclass(frozen=True)
class TextSettings:
    position: str | None = None  # where the block sits relative to the product: one of the format's positions
    align: str | None = None  # "left" or "center": one alignment axis for the whole block
    size: int | None = None  # headline size in pixels at the format's full size
    width: float | None = None  # longest line allowed, fraction of the canvas width
    font: str | None = None  # font family key (editor.ad.fonts.FontCatalogue)
    color: str | None = None  # "#rrggbb": headline, sub-line, old price
    accent: str | None = None  # "#rrggbb": price and button
    price_emphasis: str | None = None  # "accent", "bold" or "plain"
    style: str | None = None  # type pair (assets/fonts/pairs.json): the headline's display face and the text face

    def __post_init__(self):
        if self.position is not None and self.position not in POSITIONS:
            raise _bad(f"text position must be one of {', '.join(POSITIONS)}; got '{self.position}'.")
        if self.align is not None and self.align not in ALIGNS:
            raise _bad(f"text align must be one of {', '.join(ALIGNS)}; got '{self.align}'.")
        if self.size is not None and (isinstance(self.size, bool) or not isinstance(self.size, int) or not 8 <= self.size <= 400):
            raise _bad(f"text size must be a whole number of pixels from 8 to 400; got {self.size!r}.")
        if self.width is not None and (isinstance(self.width, bool) or not isinstance(self.width, (int, float))
                                       or not 0.15 <= self.width <= 1.0):
            raise _bad(f"text width must be a fraction from 0.15 to 1; got {self.width!r}.")
        if self.price_emphasis is not None and self.price_emphasis not in EMPHASES:
            raise _bad(f"price emphasis must be one of {', '.join(EMPHASES)}; got '{self.price_emphasis}'.")
        for name in ("color", "accent"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, to_hex(parse_hex(value)))
        if self.style is not None:
            from editor.ad.fonts import PAIR_STYLES

            if self.style not in PAIR_STYLES:
                raise _bad(f"text style must be one of {', '.join(PAIR_STYLES)}; got '{self.style}'.")


@dataclass(frozen=True)
class AdLayout:
    text: TextSettings = field(default_factory=TextSettings)
    product: PlacementRequest | None = None  # None: placed by the composition
    logo: str | None = None  # one of LOGO_POSITIONS
    template: str | None = None  # editor.ad.templates.TEMPLATES; None: the best fit (or --design N)
    badges: tuple[tuple[str, str], ...] | None = None  # (kind, place) per badge; None: every badge the copy earns, above
    # What a build drew, for the owner to read (kind, box, font per element); never an input.
    elements: tuple = field(default=(), compare=False)

    def __post_init__(self):
        if self.logo is not None and self.logo not in LOGO_POSITIONS:
            raise _bad(f"logo must be one of {', '.join(LOGO_POSITIONS)}; got '{self.logo}'.")
        if self.template is not None:
            from editor.ad.templates import TEMPLATES

            if self.template not in TEMPLATES:
                raise _bad(f"template must be one of {', '.join(TEMPLATES)}; got '{self.template}'.")
        if self.badges is not None:
            if isinstance(self.badges, dict):
                object.__setattr__(self, "badges", tuple(self.badges.items()))
            for kind, place in self.badges:
                if kind not in BADGE_KINDS:
                    raise _bad(f"badge must be one of {', '.join(BADGE_KINDS)}; got '{kind}'.")
                if place not in BADGE_PLACES:
                    raise _bad(f"a badge's place must be one of {', '.join(BADGE_PLACES)}; got '{place}'.")

    def badge_place(self, kind: str) -> str:
        return dict(self.badges or ()).get(kind, "above")

    def merged(self, other: AdLayout | None) -> AdLayout:
        """This layout with every field `other` sets taken from `other`."""
        if other is None:
            return self
        text = replace(self.text, **{f.name: getattr(other.text, f.name) for f in fields(TextSettings)
                                     if getattr(other.text, f.name) is not None})
        return AdLayout(text, other.product or self.product, other.logo or self.logo, other.template or self.template,
                        other.badges if other.badges is not None else self.badges)

    def to_dict(self) -> dict:
        text = {k: v for k, v in asdict(self.text).items() if v is not None}
        out: dict = {"text": text}
        if self.template is not None:
            out["template"] = self.template
        if self.product is not None:
            out["product"] = {k: round(v, 5) for k, v in asdict(self.product).items()}
        if self.logo is not None:
            out["logo"] = self.logo
        if self.badges is not None:
            out["badges"] = dict(self.badges)
        if self.elements:
            out["elements"] = [dict(e) for e in self.elements]
        return out

    @classmethod
    def from_dict(cls, data) -> AdLayout:
        if not isinstance(data, dict):
            raise _bad("each format's layout must be an object.")
        unknown = set(data) - {"text", "product", "logo", "template", "badges", "elements"}
        if unknown:
            raise _bad(f"unknown keys {', '.join(sorted(unknown))}.")
        text = data.get("text") or {}
        if not isinstance(text, dict):
            raise _bad("'text' must be an object.")
        names = {f.name for f in fields(TextSettings)}
        if set(text) - names:
            raise _bad(f"unknown text settings {', '.join(sorted(set(text) - names))}.")
        product = data.get("product")
        if product is not None:
            if not isinstance(product, dict) or set(product) != {"center_x", "bottom_y", "height"}:
                raise _bad("'product' needs center_x, bottom_y and height (fractions of the canvas).")
            if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in product.values()):
                raise _bad("product center_x, bottom_y and height must be numbers.")
            product = PlacementRequest(**{k: float(v) for k, v in product.items()})
        badges = data.get("badges")
        if badges is not None and not isinstance(badges, dict):
            raise _bad(f"'badges' must be an object: kind -> place ({', '.join(BADGE_PLACES)}).")
        if data.get("elements") is not None and not isinstance(data.get("elements"), list):
            raise _bad("'elements' must be a list (it is written by a build and read back unchanged).")
        # "elements" describes what a build drew; it is recomputed on every build, so it is not an input.
        return cls(TextSettings(**text), product, data.get("logo"), data.get("template"),
                   tuple(badges.items()) if badges is not None else None)


def layouts_to_json(layouts: dict[str, AdLayout]) -> str:
    body = {"version": LAYOUT_VERSION, "formats": {name: layout.to_dict() for name, layout in layouts.items()}}
    return json.dumps(body, indent=2, ensure_ascii=False) + "\n"


def layouts_from_json(text: str) -> dict[str, AdLayout]:
    try:
        data = parse_json(text)
    except JsonFileError as exc:
        raise _bad(str(exc).replace("not valid JSON:", "not JSON:", 1)) from None
    if not isinstance(data, dict) or not isinstance(data.get("formats"), dict):
        raise _bad("expected an object with 'formats'.")
    if data.get("version", LAYOUT_VERSION) != LAYOUT_VERSION:
        raise _bad(f"version {data.get('version')!r} is not supported (this build reads version {LAYOUT_VERSION}).")
    out: dict[str, AdLayout] = {}
    for name, value in data["formats"].items():
        try:
            key = canonical_name(name)
        except InputError:
            raise _bad(f"unknown format '{name}'.") from None
        out[key] = AdLayout.from_dict(value)
    return out


def save_layouts(path: str | Path, layouts: dict[str, AdLayout]) -> None:
    atomic_write_text(path, layouts_to_json(layouts))


def load_layouts(path: str | Path) -> dict[str, AdLayout]:
    try:
        text = read_json_text(path, MAX_LAYOUT_BYTES)  # a FIFO or a folder is refused, never opened
    except JsonFileError as exc:
        if not exc.unreadable:  # too large
            raise _bad(str(exc)) from None
        raise InputError("The layout file cannot be read.", key="ad_layout_unreadable", field="layout") from None
    return layouts_from_json(text)
