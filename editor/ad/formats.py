"""Ad sizes, and what each one asks of the composition and the type.

Every format is laid out on its own (a story is not a cropped square). A format says where
content may go (its margins, and for stories the bands Instagram covers with its own controls),
where the text block may sit relative to the product (its suggested positions, best first), and
its type scale: one ratio between headline, price, sub-line and button, and the headline's
largest size and the smallest size at which it is still kept on one line.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from editor.errors import InputError

POSITIONS = ("left", "right", "top", "bottom")  # where the text block sits relative to the product


@dataclass(frozen=True)
class AdFormat:
    name: str
    width: int
    height: int
    label: str
    margins: tuple[float, float, float, float]  # left, top, right, bottom: fractions kept clear of content
    positions: tuple[str, ...]  # suggested text positions, in order of preference
    type_ratio: float  # size ratio between neighbouring steps of the type scale
    headline_max: float  # headline size bounds, fractions of the shorter side
    headline_one_line_min: float  # a headline that fits on one line at this size or larger stays on one line
    headline_min: float  # smallest headline; with the ratio it keeps the button's text readable
    logo_height: float  # brand mark height, fraction of the shorter side (a logo reads at ~8-10 %: 97 px on a square)
    ui_covered: tuple[float, float] = (0.0, 0.0)  # top, bottom bands the app's own UI covers (stories)
    scale: float = 1.0  # rendered at this fraction of the full size (previews, tests)

    @property
    def size(self) -> tuple[int, int]:
        return self.width, self.height

    @property
    def short_side(self) -> int:
        return min(self.width, self.height)

    def live_area(self) -> tuple[int, int, int, int]:
        """x0, y0, x1, y1 where product, text and logo may go: inside the margins and clear of
        any band the platform covers."""
        ml, mt, mr, mb = self.margins
        top = max(mt, self.ui_covered[0] + 0.5 * mt)
        bottom = max(mb, self.ui_covered[1] + 0.5 * mb)
        return (round(ml * self.width), round(top * self.height),
                self.width - round(mr * self.width), self.height - round(bottom * self.height))


_SPECS = [
    AdFormat("instagram-square", 1080, 1080, "Instagram square 1:1", (0.07, 0.07, 0.07, 0.07),
             ("left", "top", "right", "bottom"), 1.414, 0.105, 0.08, 0.06, 0.09),
    AdFormat("instagram-portrait", 1080, 1350, "Instagram portrait 4:5", (0.07, 0.06, 0.07, 0.06),
             ("top", "left", "bottom", "right"), 1.414, 0.11, 0.085, 0.06, 0.09),
    # Stories: Instagram draws its progress bar, account name and close button over about the top
    # 14% and the reply bar and "send message" over about the bottom 20%.
    AdFormat("story", 1080, 1920, "Instagram / Kakao story 9:16", (0.08, 0.04, 0.08, 0.04),
             ("top", "bottom"), 1.414, 0.12, 0.09, 0.065, 0.085, ui_covered=(0.14, 0.20)),
    AdFormat("web-banner", 1200, 628, "Web banner 1200×628", (0.06, 0.09, 0.06, 0.09),
             ("left", "right"), 1.333, 0.12, 0.09, 0.065, 0.1),
]
FORMAT_SPECS: dict[str, AdFormat] = {spec.name: spec for spec in _SPECS}
FORMATS: dict[str, tuple[int, int]] = {spec.name: spec.size for spec in _SPECS}
ALIASES = {"square": "instagram-square", "portrait": "instagram-portrait", "instagram-story": "story", "banner": "web-banner"}


def canonical_name(name: str) -> str:
    key = ALIASES.get(str(name).strip().lower(), str(name).strip().lower())
    if key not in FORMAT_SPECS:
        raise InputError(f"Unknown ad format '{name}'. Choose from: {', '.join(FORMAT_SPECS)}.",
                         key="ad_unknown_format", field="formats", name=str(name))
    return key


def get_format(name: str) -> AdFormat:
    return FORMAT_SPECS[canonical_name(name)]


def unique_formats(names) -> tuple[str, ...]:
    """Canonical names in the order given, each once ("square" and "instagram-square" are one)."""
    return tuple(dict.fromkeys(canonical_name(n) for n in names))


def scaled(fmt: AdFormat, scale: float) -> AdFormat:
    """The same format at a fraction of its size (previews and fast tests); layout is size-relative."""
    if scale == 1.0:
        return fmt
    w, h = max(64, round(fmt.width * scale)), max(64, round(fmt.height * scale))
    return replace(fmt, width=w, height=h, scale=w / fmt.width)
