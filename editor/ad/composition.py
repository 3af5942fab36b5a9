"""Composition: where the product and the text block go on one format.

The canvas is shared by a grid. The text block sits on one side of the product (a suggested
position of the format: left, right, top or bottom), in a column or a band of the live area
(inside the margins, clear of the bands a story's UI covers). The product takes the rest at the
largest size that fits whole (never cropped), and the pair is centred as one group, so there is
no gap between them and no empty third. For an automatic layout every suggested position and a
few column widths are tried, and the arrangement with the biggest product, the biggest type, and
the calmest background under the text wins (text over the calm part of a photo).

`resolve` turns a complete `AdLayout` into pixels on this canvas; the automatic layout is built
by the same function, so editing a field and resolving again changes only what was edited.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from editor.ad.badges import Sticker, place_sticker
from editor.ad.composite import PlacementRequest, requested_placement
from editor.ad.design import AdLayout, TextSettings
from editor.ad.fonts import FontBook
from editor.ad.formats import AdFormat
from editor.ad.templates import DEFAULT_TEMPLATE, Decor, get_template, make_decor
from editor.ad.typography import Block, BrandMark, Copy, fit_block, tags_at
from editor.errors import IntactError

Box = tuple[int, int, int, int]  # x0, y0, x1, y1, exclusive ends
PRODUCT_FILL = 0.94  # the product's largest share of the live area's height (beside text) or width (under it)
TEXT_SHARES = (0.58, 0.5, 0.42)  # column widths tried beside the product, fractions of the live width
TEXT_BANDS = (0.46, 0.36, 0.28)  # heights tried for a text band above or below the product, fractions of the live height
DEFAULT_ALIGN = {"left": "left", "right": "left", "top": "center", "bottom": "center"}
_SIDE = {"left": "beside", "right": "beside", "top": "above", "bottom": "below"}


@dataclass(frozen=True)
class Geometry:
    """A layout resolved to pixels on one canvas."""

    position: str
    align: str
    product_box: Box  # the product's visible box on the canvas
    region: Box  # where the text block may go
    axis: int  # the block's alignment axis (x of the left edge, or of the centre)
    top: int
    block: Block
    logo_box: Box | None = None  # a logo in a corner (a stacked logo is part of the block)
    notes: tuple[str, ...] = field(default_factory=tuple)
    panel_pad: int = 0  # how far a backing panel may reach around the block: half the gutter, never the product
    template: str = DEFAULT_TEMPLATE
    decor: Decor | None = None  # the template's shape behind the text (drawn before the product)
    sticker: Sticker | None = None  # badges placed as a sticker at the product's top corner (editor.ad.badges)

    def block_box(self) -> Box:
        b = self.block
        return self.axis + b.left, self.top, self.axis + b.right, self.top + b.height


def gutter(fmt: AdFormat) -> int:
    return max(2, round(0.045 * fmt.short_side))


def panel_pad(fmt: AdFormat) -> int:
    return gutter(fmt) // 2


def _size(box: Box) -> tuple[int, int]:
    return box[2] - box[0], box[3] - box[1]


def text_region(position: str, live: Box, product: Box, gap: int) -> Box:
    """The part of the live area on the `position` side of the product, `gap` away from it."""
    x0, y0, x1, y1 = live
    px0, py0, px1, py1 = product
    return {
        "left": (x0, y0, min(x1, px0 - gap), y1),
        "right": (max(x0, px1 + gap), y0, x1, y1),
        "top": (x0, y0, x1, min(y1, py0 - gap)),
        "bottom": (x0, max(y0, py1 + gap), x1, y1),
    }[position]


def place_block(position: str, block: Block, region: Box, live: Box) -> tuple[int, int]:
    """(axis, top): beside the product the block hugs it and is centred vertically on the live
    area; above or below it the block hugs it and sits on the live area's centre line (centred
    text) or its left margin."""
    rx0, ry0, rx1, ry1 = region
    if position in ("left", "right"):
        axis = rx1 - block.right if position == "left" else rx0 - block.left
        top = round((live[1] + live[3] - block.height) / 2)
    else:
        axis = round((live[0] + live[2]) / 2) if block.align == "center" else live[0] - block.left
        top = ry1 - block.height if position == "top" else ry0
    axis = min(max(axis, rx0 - block.left), rx1 - block.right)
    top = min(max(top, ry0), ry1 - block.height)
    return axis, top


def product_box(cut_size: tuple[int, int], fmt: AdFormat, request: PlacementRequest) -> Box:
    p = requested_placement(cut_size, fmt, request)
    return p.x, p.y, p.x + p.width, p.bottom


def placement_request(box: Box, fmt: AdFormat) -> PlacementRequest:
    x0, y0, x1, y1 = box
    return PlacementRequest(center_x=round((x0 + x1) / 2 / fmt.width, 5), bottom_y=round(y1 / fmt.height, 5),
                            height=round((y1 - y0) / fmt.height, 5))


def _fit_aspect(aspect: float, max_w: float, max_h: float) -> tuple[float, float]:
    w = min(max_w, max_h * aspect)
    return w, w / aspect


def auto_product_box(position: str, live: Box, aspect: float, block: Block, gap: int) -> Box | None:
    """The biggest uncropped product beside/under the block, the pair centred as one group."""
    lx0, ly0, lx1, ly1 = live
    lw, lh = lx1 - lx0, ly1 - ly0
    if position in ("left", "right"):
        w, h = _fit_aspect(aspect, lw - block.width - gap, lh * PRODUCT_FILL)
        if w < 0.15 * lw and h < 0.6 * lh:  # a tall, narrow bottle is fine narrow when it is tall
            return None
        x = lx0 + (lw - (block.width + gap + w)) / 2
        px0 = x + block.width + gap if position == "left" else x
        py0 = ly0 + (lh - h) / 2
    else:
        w, h = _fit_aspect(aspect, lw * PRODUCT_FILL, lh - block.height - gap)
        if h < 0.15 * lh:
            return None
        y = ly0 + (lh - (block.height + gap + h)) / 2
        py0 = y + block.height + gap if position == "top" else y
        px0 = lx0 + (lw - w) / 2
    return round(px0), round(py0), round(px0 + w), round(py0 + h)


def _stacked(brand: BrandMark | None, logo: str) -> BrandMark | None:
    return brand if brand is not None and logo == "stack" else None


def _corner_logo(brand: BrandMark | None, logo: str, fmt: AdFormat, live: Box, avoid: list[Box], gap: int) -> Box | None:
    if brand is None or brand.logo is None or logo in ("stack", "none"):
        return None
    lh = max(8, round(brand.height * fmt.short_side))
    lw = round(brand.logo.shape[1] * lh / max(brand.logo.shape[0], 1))
    x0 = live[0] if logo.endswith("left") else live[2] - lw
    y0 = live[1] if logo.startswith("top") else live[3] - lh
    box = (x0, y0, x0 + lw, y0 + lh)
    for other in avoid:
        if box[0] < other[2] + gap and other[0] < box[2] + gap and box[1] < other[3] + gap and other[1] < box[3] + gap:
            return None
    return box


def _gap(fmt: AdFormat, layout: AdLayout) -> int:
    return round(gutter(fmt) * get_template(layout.template or DEFAULT_TEMPLATE).gap_scale)


def _decorated(g: Geometry, fmt: AdFormat, layout: AdLayout) -> Geometry:
    template = get_template(layout.template or DEFAULT_TEMPLATE)
    decor = make_decor(template, g.position, g.block_box(), g.product_box, fmt, _gap(fmt, layout))
    return replace(g, template=template.name, decor=decor)


Badges = tuple[tuple[str, str], ...]  # (text, place) per badge drawn: "above", "beside" or "corner"


def _with_sticker(g: Geometry, fmt: AdFormat, layout: AdLayout, book: FontBook, badges: Badges) -> Geometry | None:
    """The geometry with its corner badges placed as a sticker (unchanged when there are none);
    None when the sticker has no free place."""
    corner = tags_at(badges, "corner")
    if not corner:
        return g
    avoid = [g.block_box()] + ([g.logo_box] if g.logo_box is not None else [])
    if g.decor is not None and g.decor.kind == "card":  # a sticker on a card's edge looks misplaced
        avoid.append(g.decor.box())
    sticker = place_sticker(corner, book, g.block.sizes, fmt.live_area(), g.product_box, avoid, g.position,
                            _gap(fmt, layout))
    return None if sticker is None else replace(g, sticker=sticker)


def corner_to_above(badges: Badges) -> tuple[Badges, str]:
    """The badges with the corner ones moved above the headline, and the note that says so."""
    moved = tuple((text, "above" if place == "corner" else place) for text, place in badges)
    names = ", ".join(tags_at(badges, "corner"))
    return moved, f"the {names} badge has no free corner beside the product and the text; drawn above the headline"


def resolve(fmt: AdFormat, layout: AdLayout, cut_size: tuple[int, int], copy: Copy, book: FontBook,
            brand: BrandMark | None = None, badges: Badges = ()) -> Geometry:
    """A complete layout (every field set) in pixels on this canvas. Raises IntactError when the
    text has no room beside the product at any size. Corner badges that find no free place are
    drawn above the headline, with a note."""
    g = _resolve(fmt, layout, cut_size, copy, book, brand, badges)
    placed = _with_sticker(g, fmt, layout, book, badges)
    if placed is not None:
        return placed
    moved, note = corner_to_above(badges)
    g = _resolve(fmt, layout, cut_size, copy, book, brand, moved)
    return replace(g, notes=g.notes + (note,))


def _resolve(fmt: AdFormat, layout: AdLayout, cut_size: tuple[int, int], copy: Copy, book: FontBook,
             brand: BrandMark | None, badges: Badges) -> Geometry:
    t = layout.text
    live = fmt.live_area()
    gap = _gap(fmt, layout)
    box = product_box(cut_size, fmt, layout.product)
    region = text_region(t.position, live, box, gap)
    rw, rh = _size(region)
    logo = layout.logo or "stack"
    block = None
    if rw > 0 and rh > 0:
        # The line length is the layout's; the region only has to hold the ink of the lines.
        for measure in (t.width * fmt.width, rw):
            block = fit_block(copy, book, fmt, measure, rh, align=t.align, emphasis=t.price_emphasis,
                              brand=_stacked(brand, logo), headline_px=max(8, round(t.size * fmt.scale)), badges=badges)
            if block is not None and block.width <= rw:
                break
            block = None
    if block is None:
        raise IntactError(
            f"There is no room for the text {_SIDE[t.position]} the product in the {fmt.name} format. "
            "Make the product smaller, move it, or shorten the text.",
            key="ad_no_room_for_text", field="layout", format=fmt.name)
    axis, top = place_block(t.position, block, region, live)
    notes = list(block.notes)
    logo_box = None
    if brand is not None and brand.logo is not None and logo not in ("stack", "none"):
        block_box = (axis + block.left, top, axis + block.right, top + block.height)
        logo_box = _corner_logo(brand, logo, fmt, live, [block_box, box], gap)
        if logo_box is None:
            notes.append(f"the logo does not fit in the {logo} corner beside the text and the product; left out")
    return _decorated(Geometry(t.position, t.align, box, region, axis, top, block, logo_box, tuple(notes), panel_pad(fmt)),
                      fmt, layout)


def _thirds_covered(fmt: AdFormat, boxes: list[Box]) -> int:
    """How many of the live area's thirds (along its longer side) hold some content."""
    x0, y0, x1, y1 = fmt.live_area()
    vertical = (y1 - y0) >= (x1 - x0)
    lo, hi = (y0, y1) if vertical else (x0, x1)
    covered = 0
    for i in range(3):
        a, b = lo + (hi - lo) * i / 3, lo + (hi - lo) * (i + 1) / 3
        span = sum(max(0.0, min(b, (bx[3] if vertical else bx[2])) - max(a, (bx[1] if vertical else bx[0]))) for bx in boxes)
        covered += span >= 0.3 * (b - a)
    return covered


def _calm(busy: np.ndarray | None, box: Box) -> float:
    """How busy the picture is under the text: the 90th percentile, so text half over a busy
    area counts as busy (a mean would let the calm half hide it)."""
    if busy is None:
        return 0.0
    x0, y0, x1, y1 = box
    patch = busy[max(y0, 0) : max(y1, 0), max(x0, 0) : max(x1, 0)]
    return float(np.percentile(patch, 90)) if patch.size else 0.0


def auto_layout(fmt: AdFormat, cut_size: tuple[int, int], copy: Copy, book: FontBook, wanted: AdLayout | None = None,
                brand: BrandMark | None = None, busy: np.ndarray | None = None, defaults: TextSettings | None = None,
                badges: Badges = ()) -> tuple[AdLayout, Geometry]:
    """The best complete layout for this canvas, keeping every field `wanted` sets.

    `busy` (H×W in [0, 1], editor.ad.saliency.busy_map of the background) steers the text to calm
    areas; `defaults` fills unset text fields that are not geometry (font, colours, emphasis).
    Corner badges get a sticker place beside the product (the product is made a little smaller
    when that frees one); where no arrangement has one they are drawn above the headline, with a note.
    """
    try:
        return _auto_layout(fmt, cut_size, copy, book, wanted, brand, busy, defaults, badges)
    except _NoCorner:
        moved, note = corner_to_above(badges)
        layout, g = _auto_layout(fmt, cut_size, copy, book, wanted, brand, busy, defaults, moved)
        return layout, replace(g, notes=g.notes + (note,))


class _NoCorner(Exception):
    """Every arrangement fits the text and the product but none has a free corner for the sticker."""


STICKER_ROOM = (1.0, 0.92, 0.84, 0.76)  # product sizes tried (times the largest) to free a corner for a sticker


def _shrunk(box: Box, factor: float) -> Box:
    """The product's box `factor` as large, standing on the same base at the same centre."""
    x0, y0, x1, y1 = box
    w, h = (x1 - x0) * factor, (y1 - y0) * factor
    cx = (x0 + x1) / 2
    return round(cx - w / 2), round(y1 - h), round(cx + w / 2), y1


def _auto_layout(fmt: AdFormat, cut_size: tuple[int, int], copy: Copy, book: FontBook, wanted: AdLayout | None,
                 brand: BrandMark | None, busy: np.ndarray | None, defaults: TextSettings | None,
                 badges: Badges) -> tuple[AdLayout, Geometry]:
    wanted = wanted or AdLayout()
    want = wanted.text
    base = defaults or TextSettings()
    live = fmt.live_area()
    lw, lh = _size(live)
    gap = _gap(fmt, wanted)
    aspect = cut_size[0] / max(cut_size[1], 1)
    logo = wanted.logo or "stack"
    template = wanted.template or DEFAULT_TEMPLATE
    prefer = get_template(template).prefer
    positions = [want.position] if want.position else [p for p in fmt.positions]
    if prefer and not want.position:  # the design's own arrangement first, the format's order after
        positions = [p for p in prefer if p in positions] + [p for p in positions if p not in prefer]
    best: tuple[float, AdLayout, Geometry] | None = None
    failure: IntactError | None = None
    no_corner = False
    for rank, position in enumerate(positions):
        align = want.align or DEFAULT_ALIGN[position]
        beside = position in ("left", "right")
        widths = [want.width * fmt.width] if want.width else ([s * lw for s in TEXT_SHARES] if beside else [lw])
        heights = [lh] if beside or wanted.product is not None else [b * lh for b in TEXT_BANDS]
        for max_w, max_h in ((w_, h_) for w_ in widths for h_ in heights):
            text = TextSettings(position, align, want.size, round(max_w / fmt.width, 6), want.font or base.font,
                                want.color or base.color, want.accent or base.accent,
                                want.price_emphasis or base.price_emphasis or "accent", want.style or base.style)
            if wanted.product is not None:  # the user placed the product: only the text is laid out
                layout = _sized(replace(wanted, text=text, logo=logo, template=template), fmt, book, copy, brand,
                                cut_size, badges)
                try:
                    geometry = resolve(fmt, layout, cut_size, copy, book, brand, badges)
                except IntactError as exc:
                    failure = failure or exc
                    continue
            else:
                block = fit_block(copy, book, fmt, max_w, max_h, align=align, emphasis=text.price_emphasis,
                                  brand=_stacked(brand, logo),
                                  headline_px=None if want.size is None else max(8, round(want.size * fmt.scale)),
                                  badges=badges)
                if block is None:
                    continue
                largest = auto_product_box(position, live, aspect, block, gap)
                if largest is None:
                    continue
                text = replace_size(text, fmt, block.headline_px)
                for factor in STICKER_ROOM if tags_at(badges, "corner") else (1.0,):
                    box = largest if factor == 1.0 else _shrunk(largest, factor)
                    layout = replace(wanted, text=text, product=placement_request(box, fmt), logo=logo, template=template)
                    region = text_region(position, live, box, gap)
                    axis, top = place_block(position, block, region, live)
                    geometry = _decorated(Geometry(position, align, box, region, axis, top, block, None, block.notes,
                                                   panel_pad(fmt)), fmt, layout)
                    if brand is not None and brand.logo is not None and logo not in ("stack", "none"):
                        geometry = _resolve(fmt, layout, cut_size, copy, book, brand, badges)
                    geometry = _with_sticker(geometry, fmt, layout, book, badges)
                    if geometry is not None:
                        break
                if geometry is None:
                    no_corner = True
                    continue
            score = _score(fmt, geometry, busy, rank) - (0.2 * rank if prefer else 0.0)
            if best is None or score > best[0] + 1e-9:
                best = (score, layout, geometry)
    if best is None:
        if no_corner:
            raise _NoCorner()
        raise failure or IntactError(
            f"There is no room for the text and the product together in the {fmt.name} format. Shorten the text.",
            key="ad_no_room_for_text", field="layout", format=fmt.name)
    return best[1], best[2]


def replace_size(text: TextSettings, fmt: AdFormat, headline_px: int) -> TextSettings:
    """The text settings with the headline size this canvas got, in pixels at the format's full size."""
    return replace(text, size=max(8, round(headline_px / fmt.scale)))


def _sized(layout: AdLayout, fmt: AdFormat, book: FontBook, copy: Copy, brand: BrandMark | None, cut_size,
           badges: Badges = ()) -> AdLayout:
    """A layout whose text size is unset gets the largest size that fits beside the placed product."""
    if layout.text.size is not None:
        return layout
    live = fmt.live_area()
    gap = _gap(fmt, layout)
    box = product_box(cut_size, fmt, layout.product)
    region = text_region(layout.text.position, live, box, gap)
    rw, rh = _size(region)
    block = None
    if rw > 0 and rh > 0:
        block = fit_block(copy, book, fmt, min(rw, layout.text.width * fmt.width), rh, align=layout.text.align,
                          emphasis=layout.text.price_emphasis, brand=_stacked(brand, layout.logo or "stack"), badges=badges)
    size = block.headline_px if block is not None else round(fmt.headline_min * fmt.short_side)
    return replace(layout, text=replace_size(layout.text, fmt, size))


def _score(fmt: AdFormat, g: Geometry, busy: np.ndarray | None, rank: int) -> float:
    """Higher is better: a prominent product (by its linear size, up to half the live area's area;
    little gained beyond) that fills its side of the grid (a wide product beside the text would
    leave empty bands above and below it), a headline near the format's largest size, calm pixels
    under the text, content in every third, a one-line headline."""
    live = fmt.live_area()
    lw, lh = _size(live)
    pw, ph = _size(g.product_box)
    product = pw * ph / (lw * lh)
    prominence = min(1.0, (product / 0.5) ** 0.5) + 0.25 * max(product - 0.5, 0.0)
    type_scale = min(1.0, g.block.headline_px / (fmt.headline_max * fmt.short_side))
    fill = ph / lh if g.position in ("left", "right") else pw / lw
    calm = _calm(busy, g.block_box())
    thirds = _thirds_covered(fmt, [g.product_box, g.block_box()])
    # A headline kept on one line at a size not below the format's one-line minimum is preferred
    # to an arrangement that breaks it (a busy background under the text still weighs more).
    one_line = len(g.block.headline_lines()) <= 1 and g.block.headline_px >= fmt.headline_one_line_min * fmt.short_side
    return (prominence + type_scale + 0.5 * one_line - max(0.0, 0.6 - fill) - 1.5 * calm - 0.5 * (3 - thirds)
            - 0.03 * rank)
