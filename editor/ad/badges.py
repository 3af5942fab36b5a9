"""Badges as stickers: round tags ("NEW", "-18%") at the product's top corner or in a free corner
of the live area.

A badge can sit in the text block (a row above the headline, or beside the price: see
`editor.ad.typography`) or, placed here, as a sticker outside it. A sticker goes where a shop's
sale sticker would: at the product's top corner on the side away from the text (just above the
corner, or beside the product's top), else in the live area's corner nearest to it. It never
covers the product's box, the text block, a corner logo or a framed card, and never leaves the
live area; when no such place exists the caller draws the badges above the headline instead.
"""

from __future__ import annotations

from dataclasses import dataclass

from editor.ad.fonts import FontBook
from editor.ad.typography import Line, Pill, tag_row, tag_row_width

Box = tuple[int, int, int, int]  # x0, y0, x1, y1, exclusive ends
STICKER_SCALE = 1.05  # a sticker's type, times the button's: it stands alone, so a touch larger than a tag


@dataclass(frozen=True)
class Sticker:
    """Round tags side by side, in canvas pixels (the line's coordinates are the canvas's too)."""

    pills: tuple[Pill, ...]
    line: Line
    texts: tuple[str, ...]

    def box(self) -> Box:
        return self.pills[0].left, self.pills[0].top, self.pills[-1].right, self.pills[-1].bottom

    def boxes(self) -> list[Box]:
        return [(p.left, p.top, p.right, p.bottom) for p in self.pills]


def sticker_size(sizes: dict) -> int:
    return max(8, round(sizes["cta"] * STICKER_SCALE))


def _overlaps(a: Box, b: Box, margin: int) -> bool:
    return a[0] < b[2] + margin and b[0] < a[2] + margin and a[1] < b[3] + margin and b[1] < a[3] + margin


def _inside(box: Box, live: Box) -> bool:
    return live[0] <= box[0] and live[1] <= box[1] and box[2] <= live[2] and box[3] <= live[3]


def candidate_corners(size: tuple[int, int], product: Box, live: Box, text_side: str, gap: int) -> list[tuple[int, int]]:
    """Top-left points to try, best first: the product's top corner away from the text (above the
    corner, then beside the product's top), the other top corner, then the live area's corners
    nearest to the product's top."""
    w, h = size
    px0, py0, px1, py1 = product
    sides = ("left", "right") if text_side == "right" else ("right", "left")
    points: list[tuple[int, int]] = []
    for side in sides:
        corner_x = px1 if side == "right" else px0
        points.append((corner_x - w // 2, py0 - gap - h))  # above the corner, centred on it
        points.append((px1 + gap, py0) if side == "right" else (px0 - gap - w, py0))  # beside the top
    lx0, ly0, lx1, ly1 = live
    near_x = px1 if sides[0] == "right" else px0
    corners = [(lx1 - w, ly0), (lx0, ly0), (lx1 - w, ly1 - h), (lx0, ly1 - h)]
    corners.sort(key=lambda p: abs(p[0] + w / 2 - near_x) + abs(p[1] + h / 2 - py0))
    return points + corners


def place_sticker(texts: tuple[str, ...], book: FontBook, sizes: dict, live: Box, product: Box, avoid: list[Box],
                  text_side: str, gap: int) -> Sticker | None:
    """The sticker for `texts` at the first place that keeps it in the live area and clear (by
    half a gutter) of the product's box and every box in `avoid`; None where there is none."""
    size = sticker_size(sizes)
    width = tag_row_width(texts, book, size, round_tags=True)
    pills, line = tag_row(texts, book, size, 0, 0, round_tags=True)
    height = pills[0].bottom - pills[0].top
    margin = max(1, gap // 2)
    for x, y in candidate_corners((width, height), product, live, text_side, gap):
        # clamp into the live area: a sticker above a corner near the edge slides inwards
        x = min(max(x, live[0]), live[2] - width)
        y = min(max(y, live[1]), live[3] - height)
        box = (x, y, x + width, y + height)
        if not _inside(box, live) or _overlaps(box, product, margin) or any(_overlaps(box, b, margin) for b in avoid):
            continue
        moved = tuple(Pill(p.left + x, p.top + y, p.right + x, p.bottom + y) for p in pills)
        placed = Line(line.element, line.runs, line.x + x, line.baseline + y, line.left + x, line.right + x,
                      line.top + y, line.bottom + y)
        return Sticker(moved, placed, texts)
    return None
