"""Layout templates: the different designs one ad can take, and which suits a product and a copy.

A template says how the text relates to the product beyond "which side": a plain column beside
or above the product; a split canvas with the text on a colour field of its own; a framed card
holding the text; a diagonal band behind the text. Each has a type pair (display face for the
headline, text face for the rest, see assets/fonts/pairs.json) and the gap it keeps between
product and text (a card or a split needs air around it). Every format can take every template;
`ranked` orders them for a product's shape and the copy's length, and "design N" (`--design N`,
the app's "다른 디자인") walks that order without touching the copy.

The decoration (panel, card, band) is a shape drawn on the background before the product is
composited, so the product always sits on top and the text's colours are measured on it.
"""

from __future__ import annotations

from dataclasses import dataclass

from editor.ad.formats import AdFormat
from editor.errors import InputError

Box = tuple[int, int, int, int]
Polygon = tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class Template:
    name: str
    label: str
    decor: str  # "none", "split", "card" or "band"
    pair: str  # type style in assets/fonts/pairs.json
    gap_scale: float  # the gutter between product and text, times the format's gutter
    prefer: tuple[str, ...] = ()  # text positions this design leans to (so designs differ in arrangement too)


TEMPLATES: dict[str, Template] = {t.name: t for t in (
    Template("column", "Centred column: the text beside or above the product", "none", "modern", 1.0),
    Template("split", "Split: the text on a colour field of its own, the product on the backdrop", "split", "classic", 2.2,
             ("right", "left", "bottom", "top")),
    Template("card", "Framed card: the text on a card beside the product", "card", "friendly", 1.8,
             ("top", "left", "right", "bottom")),
    Template("band", "Diagonal band: the text on a slanted band across the canvas", "band", "bold", 2.0,
             ("bottom", "top", "left", "right")),
)}
DEFAULT_TEMPLATE = "column"


def get_template(name: str) -> Template:
    if name not in TEMPLATES:
        raise InputError(f"Unknown layout template '{name}'. Choose from: {', '.join(TEMPLATES)}.",
                         key="ad_unknown_template", field="layout", name=name)
    return TEMPLATES[name]


def ranked(fmt: AdFormat, cut_size: tuple[int, int], copy_length: int) -> list[str]:
    """Template names, best fit first, for this format, product shape (width / height) and copy
    length (characters of headline and sub-line). Deterministic: the same inputs, the same order."""
    aspect = cut_size[0] / max(cut_size[1], 1)
    score = {"column": 0.3, "split": 0.25, "card": 0.2, "band": 0.15}
    if copy_length > 28:  # long copy wants a calm field of its own
        score["split"] += 0.3
        score["card"] += 0.2
    elif copy_length <= 12:  # a short line can be set big on a band
        score["band"] += 0.3
        score["column"] += 0.1
    if aspect < 0.75:  # a tall product (bottle) stands best beside a text field
        score["split"] += 0.2
        score["band"] += 0.1
    elif aspect > 1.3:  # a wide one (cake, plate) under or over the text
        score["column"] += 0.2
        score["card"] += 0.1
    if fmt.width > 1.5 * fmt.height:  # banners read left to right: a split suits them
        score["split"] += 0.2
    elif fmt.height > 1.5 * fmt.width:  # stories stack: a band across the canvas suits them
        score["band"] += 0.15
    return sorted(TEMPLATES, key=lambda k: (-score[k], list(TEMPLATES).index(k)))


def for_design(fmt: AdFormat, cut_size: tuple[int, int], copy_length: int, design: int) -> str:
    """The template of design number `design` (1 = the best fit, 2 = the next, ... wrapping)."""
    order = ranked(fmt, cut_size, copy_length)
    return order[(max(1, int(design)) - 1) % len(order)]


# ------------------------------------------------------------------------------- decoration

@dataclass(frozen=True)
class Decor:
    kind: str  # "split", "card", "band"
    polygon: Polygon  # canvas pixels, clockwise
    radius: float = 0.0  # rounded corners (cards)

    def box(self) -> Box:
        xs = [p[0] for p in self.polygon]
        ys = [p[1] for p in self.polygon]
        return round(min(xs)), round(min(ys)), round(max(xs)), round(max(ys))


def _rect(x0, y0, x1, y1) -> Polygon:
    return ((x0, y0), (x1, y0), (x1, y1), (x0, y1))


def make_decor(template: Template, position: str, block: Box, product: Box, fmt: AdFormat, gap: int) -> Decor | None:
    """The shape behind the text for this template, clear of the product's box."""
    if template.decor == "none":
        return None
    W, H = fmt.size
    bx0, by0, bx1, by1 = block
    px0, py0, px1, py1 = product
    if template.decor == "card":
        pad = round(0.42 * gap)
        return Decor("card", _rect(bx0 - pad, by0 - pad, bx1 + pad, by1 + pad), radius=0.35 * pad)
    # split and band: a field from the line between text and product to the canvas edge
    slant = 0.0 if template.decor == "split" else 0.35 * gap
    if position in ("left", "right"):
        mid = (bx1 + px0) / 2 if position == "left" else (px1 + bx0) / 2
        if position == "left":
            return Decor(template.decor, ((0, 0), (mid + slant, 0), (mid - slant, H), (0, H)))
        return Decor(template.decor, ((mid + slant, 0), (W, 0), (W, H), (mid - slant, H)))
    mid = (by1 + py0) / 2 if position == "top" else (py1 + by0) / 2
    if template.decor == "split":
        return Decor("split", _rect(0, 0, W, mid) if position == "top" else _rect(0, mid, W, H))
    # A band: slanted edges above and below the text, across the whole width.
    pad = round(0.45 * gap)
    top, bottom = by0 - pad, by1 + pad
    if position == "top":
        bottom = min(bottom, mid)
    else:
        top = max(top, mid)
    return Decor("band", ((0, top + slant), (W, top - slant), (W, bottom - slant), (0, bottom + slant)))


def decor_colours(decor: Decor, accent, palette_dominant) -> tuple[tuple[int, int, int], float]:
    """(fill, opacity) of a decoration: pale tints of the accent (so a price in the accent colour
    still reads on them), a near-white card."""
    from editor.ad.colour import with_lightness

    if decor.kind == "card":
        return with_lightness(palette_dominant, 98.5, 0.04), 0.96
    if decor.kind == "split":
        return with_lightness(accent, 93.0, 0.28), 1.0
    return with_lightness(accent, 90.0, 0.42), 0.97


def paint_decor(rgb, decor: Decor, fill, opacity: float, supersample: int = 4):
    """The decoration drawn onto the background (uint8 H×W×3), anti-aliased; a card also gets a
    soft shadow under it and a hairline edge."""
    import cv2
    import numpy as np
    from PIL import Image, ImageDraw

    h, w = rgb.shape[:2]
    s = supersample
    img = Image.new("L", (w * s, h * s), 0)
    draw = ImageDraw.Draw(img)
    if decor.kind == "card":
        x0, y0, x1, y1 = decor.box()
        draw.rounded_rectangle((x0 * s, y0 * s, x1 * s - 1, y1 * s - 1), radius=max(1, round(decor.radius * s)), fill=255)
    else:
        draw.polygon([(x * s, y * s) for x, y in decor.polygon], fill=255)
    mask = np.asarray(img.resize((w, h), Image.BOX), np.float32) / 255.0
    out = rgb.astype(np.float32)
    if decor.kind == "card":
        soft = max(1.0, 0.012 * min(w, h))
        shadow = cv2.GaussianBlur(np.roll(mask, round(soft * 0.6), axis=0), (0, 0), soft)
        out *= (1.0 - 0.16 * shadow * (1.0 - mask))[..., None]
    out = out * (1.0 - opacity * mask[..., None]) + np.asarray(fill, np.float32) * (opacity * mask[..., None])
    if decor.kind == "card":
        edge = np.clip(mask - cv2.erode(mask, np.ones((3, 3), np.uint8)), 0, 1)
        out *= (1.0 - 0.08 * edge)[..., None]
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def next_design(layout, order: list[str]):
    """The layout of the next design after `layout`'s (in `order`, the format's ranking as a
    build reports it), keeping what is about the brand and the copy (accent, emphasis, logo,
    badges) and letting the new template arrange the rest."""
    from editor.ad.design import AdLayout, TextSettings

    current = layout.template if layout.template in order else order[-1]
    following = order[(order.index(current) + 1) % len(order)]
    text = TextSettings(accent=layout.text.accent, price_emphasis=layout.text.price_emphasis)
    return AdLayout(text, None, layout.logo, following, layout.badges)
