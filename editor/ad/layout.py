"""The layout engine: where each text goes, how big, in which colour, and how readable it is.

Replaces the old "ask GPT-4V where to put the text" step with a search that is fast, local
and deterministic. For each element (headline, sub-line, price, call-to-action, in that order):

1. candidates are every font size from large to small and a few wrap widths; each gives a
   block of lines (wrapped at eojeol boundaries) and a reserved frame around it;
2. every grid position of that frame inside the safe margins that touches neither the
   (dilated) product nor an earlier element is scored with summed-area tables:
   busyness under the frame (saliency + gradient energy) + distance from where the element
   would naturally sit (top for the headline, under the previous element for the rest)
   + a penalty for small type; the lowest score wins (ties: first found, so deterministic);
3. the colour is chosen so the WCAG contrast ratio against everything under and just around
   the glyphs is at least 4.5: plain text when the background allows it, else an outline
   (stroke) for large type or a backing panel; the call-to-action is always a button.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import cv2
import numpy as np
from PIL import Image, ImageDraw

from editor.ad import text as textlib
from editor.ad.fonts import FontBook
from editor.ad.formats import AdFormat
from editor.ad.saliency import busy_map, gradient_magnitude
from editor.errors import IntactError

MIN_CONTRAST = 4.5
WHITE, DARK = (255, 255, 255), (17, 17, 17)
ELEMENT_ORDER = ("headline", "subline", "price", "cta")


@dataclass(frozen=True)
class ElementSpec:
    name: str
    weight: str
    max_size: float  # font size bounds as fractions of the canvas's shorter side
    min_size: float
    max_lines: int
    button: bool = False


ELEMENT_SPECS = {
    "headline": ElementSpec("headline", "bold", 0.105, 0.034, 3),
    "subline": ElementSpec("subline", "regular", 0.046, 0.022, 3),
    "price": ElementSpec("price", "bold", 0.075, 0.028, 1),
    "cta": ElementSpec("cta", "bold", 0.042, 0.022, 1, button=True),
}


@dataclass(frozen=True)
class ElementPlan:
    name: str
    text: str  # what is drawn (normalised, without characters the font lacks)
    lines: tuple[str, ...]
    weight: str
    size: int
    align: str
    box: tuple[int, int, int, int]  # the text block, x0 y0 x1 y1 (exclusive ends)
    frame: tuple[int, int, int, int]  # the space reserved for it (panel / button padding included)
    fill: tuple[int, int, int] = DARK
    mode: str = "plain"  # "plain" | "stroke" | "box" | "button"
    stroke_width: int = 0
    stroke_color: tuple[int, int, int] | None = None
    panel_color: tuple[int, int, int] | None = None
    panel_opacity: float = 0.0
    missing: tuple[str, ...] = ()


@dataclass(frozen=True)
class LayoutPlan:
    size: tuple[int, int]
    elements: tuple[ElementPlan, ...]
    notes: tuple[str, ...] = field(default_factory=tuple)


# ---------------------------------------------------------------- contrast

def relative_luminance(rgb) -> np.ndarray:
    c = np.asarray(rgb, np.float64) / 255.0
    lin = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    return lin[..., 0] * 0.2126 + lin[..., 1] * 0.7152 + lin[..., 2] * 0.0722


def contrast_ratio(a, b) -> np.ndarray:
    la, lb = relative_luminance(a), relative_luminance(b)
    return (np.maximum(la, lb) + 0.05) / (np.minimum(la, lb) + 0.05)


def ring_radius(size: int) -> int:
    return max(1, round(size * 0.03))


def stroke_width_for(size: int) -> int:
    return max(2, round(size * 0.07))


def min_contrast_under(fill, under: np.ndarray, glyph_alpha: np.ndarray, size: int) -> float:
    """Worst WCAG contrast between the text colour and every pixel under or just around its glyphs."""
    ink = (glyph_alpha > 0).astype(np.uint8)
    if not ink.any():
        return float("inf")
    r = ring_radius(size)
    zone = cv2.dilate(ink, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))).astype(bool)
    return float(contrast_ratio(np.asarray(fill, np.float64)[None, :], under[zone].astype(np.float64)).min())


# ---------------------------------------------------------------- drawing one element

def _local(frame, shape, margin: int):
    x0, y0, x1, y1 = frame
    h, w = shape[:2]
    return max(x0 - margin, 0), max(y0 - margin, 0), min(x1 + margin, w), min(y1 + margin, h)


def _glyph_masks(el: ElementPlan, font, region) -> tuple[np.ndarray, np.ndarray]:
    """(fill alpha, stroke-expanded alpha) of the element's text, float32, in `region` coordinates."""
    rx0, ry0, rx1, ry1 = region
    size = (rx1 - rx0, ry1 - ry0)
    block = textlib.measure(font, el.lines)
    origin = (el.box[0] - rx0, el.box[1] - ry0)
    fill = Image.new("L", size, 0)
    textlib.draw_block(ImageDraw.Draw(fill), origin, block, font, 255, align=el.align)
    fill_a = np.asarray(fill, np.float32) / 255.0
    if el.stroke_width <= 0:
        return fill_a, np.zeros_like(fill_a)
    stroke = Image.new("L", size, 0)
    textlib.draw_block(ImageDraw.Draw(stroke), origin, block, font, 255, align=el.align, stroke_width=el.stroke_width, stroke_fill=255)
    return fill_a, np.asarray(stroke, np.float32) / 255.0


def _panel_mask(el: ElementPlan, region) -> np.ndarray:
    rx0, ry0, rx1, ry1 = region
    x0, y0, x1, y1 = el.frame
    img = Image.new("L", (rx1 - rx0, ry1 - ry0), 0)
    radius = max(2, round((y1 - y0) * (0.5 if el.mode == "button" else 0.18)))
    ImageDraw.Draw(img).rounded_rectangle((x0 - rx0, y0 - ry0, x1 - rx0 - 1, y1 - ry0 - 1), radius=radius, fill=255)
    return np.asarray(img, np.float32) / 255.0


def _blend(under: np.ndarray, colour, alpha: np.ndarray) -> np.ndarray:
    return under * (1.0 - alpha[..., None]) + np.asarray(colour, np.float32) * alpha[..., None]


def render_element(canvas: np.ndarray, el: ElementPlan, font) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple]:
    """Draw one element. Returns (new canvas, the layer under the fill, fill alpha, region), locals in region."""
    region = _local(el.frame, canvas.shape, 2)
    rx0, ry0, rx1, ry1 = region
    under = canvas[ry0:ry1, rx0:rx1].astype(np.float32)
    fill_a, stroke_a = _glyph_masks(el, font, region)
    if el.mode in ("box", "button"):
        under = _blend(under, el.panel_color, _panel_mask(el, region) * float(el.panel_opacity))
    if el.mode == "stroke":
        under = _blend(under, el.stroke_color, stroke_a)
    under = np.clip(np.round(under), 0, 255)
    out = canvas.copy()
    out[ry0:ry1, rx0:rx1] = np.clip(_blend(under, el.fill, fill_a) + 0.5, 0, 255).astype(np.uint8)
    return out, under, fill_a, region


def element_contrast(canvas: np.ndarray, el: ElementPlan, font) -> float:
    _, under, fill_a, _ = render_element(canvas, el, font)
    return min_contrast_under(el.fill, under, fill_a, el.size)


# ---------------------------------------------------------------- colour choice

def _opposite(colour) -> tuple[int, int, int]:
    return DARK if contrast_ratio(colour, DARK) >= contrast_ratio(colour, WHITE) else WHITE


def _button_colours(accent) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    """(button colour, text colour): the accent, darkened or lightened until text on it reads."""
    colour = np.asarray(accent, np.float64)
    for _ in range(40):
        c = tuple(int(round(v)) for v in colour)
        text = WHITE if contrast_ratio(c, WHITE) >= contrast_ratio(c, DARK) else DARK
        if contrast_ratio(c, text) >= MIN_CONTRAST + 0.1:
            return c, text
        colour = colour * 0.9 if text == WHITE else colour + (255 - colour) * 0.1
    return DARK, WHITE


def choose_appearance(canvas: np.ndarray, el: ElementPlan, font, accent) -> ElementPlan:
    """Colours and treatment so the element reaches the minimum contrast (measured, not assumed)."""
    if el.mode == "button":
        button, fill = _button_colours(accent)
        return replace(el, fill=fill, panel_color=button, panel_opacity=1.0)
    candidates = [tuple(accent)] if el.name == "price" else []
    candidates += [DARK, WHITE]
    scored = [(element_contrast(canvas, replace(el, fill=c, mode="plain"), font), c) for c in candidates]
    for ratio, colour in scored:  # preferred order first: the accent price when it reads
        if ratio >= MIN_CONTRAST + 0.05:
            return replace(el, fill=colour, mode="plain")
    best = max(scored, key=lambda rc: rc[0])[1]
    if best == tuple(accent):
        best = DARK if scored[-2][0] >= scored[-1][0] else WHITE
    backing = _opposite(best)
    if el.name in ("headline", "price"):  # big type: an outline keeps the picture visible
        stroked = replace(el, fill=best, mode="stroke", stroke_width=stroke_width_for(el.size), stroke_color=backing)
        if element_contrast(canvas, stroked, font) >= MIN_CONTRAST + 0.05:
            return stroked
    for opacity in (0.6, 0.75, 0.9, 1.0):
        boxed = replace(el, fill=best, mode="box", panel_color=backing, panel_opacity=opacity)
        if element_contrast(canvas, boxed, font) >= MIN_CONTRAST + 0.05 or opacity == 1.0:
            return boxed
    raise AssertionError("unreachable: an opaque panel always contrasts")


# ---------------------------------------------------------------- placement search

class _Grid:
    """Busyness and blocked maps reduced to cells, with summed-area tables for O(1) box sums."""

    def __init__(self, cost_cells: np.ndarray, blocked_cells: np.ndarray, cell: int):
        self.cell = cell
        self.shape = cost_cells.shape
        self.cost_cells = cost_cells
        self.cost_sat = self._sat(cost_cells)
        self.blocked_cells = blocked_cells
        self.blocked_sat = self._sat(blocked_cells.astype(np.float64))

    @classmethod
    def from_maps(cls, cost: np.ndarray, blocked: np.ndarray, cell: int) -> _Grid:
        H, W = cost.shape
        gh, gw = math.ceil(H / cell), math.ceil(W / cell)
        pad = ((0, gh * cell - H), (0, gw * cell - W))
        c = np.pad(cost, pad, constant_values=1.0).reshape(gh, cell, gw, cell).mean(axis=(1, 3))
        b = np.pad(blocked, pad, constant_values=True).reshape(gh, cell, gw, cell).any(axis=(1, 3))
        return cls(c, b, cell)

    def block(self, x0: int, y0: int, x1: int, y1: int) -> _Grid:
        """A copy with every cell touching the pixel box blocked."""
        b = self.blocked_cells.copy()
        c = self.cell
        b[max(y0 // c, 0) : max(math.ceil(y1 / c), 0), max(x0 // c, 0) : max(math.ceil(x1 / c), 0)] = True
        return _Grid(self.cost_cells, b, c)

    @staticmethod
    def _sat(a: np.ndarray) -> np.ndarray:
        s = np.zeros((a.shape[0] + 1, a.shape[1] + 1), np.float64)
        s[1:, 1:] = np.cumsum(np.cumsum(a, axis=0), axis=1)
        return s

    @staticmethod
    def _box_sums(sat: np.ndarray, bh: int, bw: int) -> np.ndarray:
        return sat[bh:, bw:] - sat[:-bh, bw:] - sat[bh:, :-bw] + sat[:-bh, :-bw]

    def scan(self, bw: int, bh: int) -> tuple[np.ndarray, np.ndarray] | None:
        """(feasible, mean cost) for every top-left cell of a bw×bh-cell box, or None if it never fits."""
        gh, gw = self.shape
        if bw > gw or bh > gh:
            return None
        feasible = self._box_sums(self.blocked_sat, bh, bw) == 0
        return feasible, self._box_sums(self.cost_sat, bh, bw) / (bw * bh)


def _sizes(spec: ElementSpec, short_side: int) -> list[int]:
    hi, lo = max(8, round(spec.max_size * short_side)), max(7, round(spec.min_size * short_side))
    sizes, s = [], float(hi)
    while s >= lo:
        if not sizes or round(s) != sizes[-1]:
            sizes.append(round(s))
        s *= 0.9
    return sizes or [lo]


def _disk(r: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))


def _place_elements(texts, fmt: AdFormat, fonts: FontBook, grid0: _Grid, size: tuple[int, int], safe, size_scale: float):
    """One arrangement with every element's largest size scaled by `size_scale`.

    Returns (elements without colours, total score, notes), or raises IntactError when an
    element finds no room at all.
    """
    W, H = size
    S = min(W, H)
    grid = grid0
    cell = grid.cell
    centred = fmt.text_align == "center"
    anchor = ((safe[0] + safe[2]) / 2 if centred else safe[0], safe[1])
    safe_w = safe[2] - safe[0]
    notes: list[str] = []
    placed: list[ElementPlan] = []
    total = 0.0
    for name in ELEMENT_ORDER:
        raw = textlib.normalise(texts.get(name))
        if not raw:
            continue
        spec = ELEMENT_SPECS[name]
        all_sizes = _sizes(spec, S)
        sizes = [z for z in all_sizes if z <= all_sizes[0] * size_scale + 0.5] or all_sizes[-1:]
        drawn, missing = textlib.drop_missing(fonts.font(sizes[0], spec.weight), raw)
        if missing:
            notes.append(f"{name}: the font has no glyph for {''.join(missing)!r}; left out")
        if not drawn:
            continue
        best = None
        for size in sizes:
            font = fonts.font(size, spec.weight)
            pad_x, pad_y = (round(0.9 * size), round(0.45 * size)) if spec.button else (max(round(0.3 * size), stroke_width_for(size) + 1),) * 2
            tried: set[tuple[str, ...]] = set()
            for frac in (1.0, 0.8, 0.62, 0.45):
                lines = tuple(textlib.wrap(font, drawn, max(size, safe_w * frac - 2 * pad_x)))
                if lines in tried or len(lines) > spec.max_lines:
                    continue
                tried.add(lines)
                block = textlib.measure(font, lines)
                fw, fh = block.width + 2 * pad_x, block.height + 2 * pad_y
                scan = grid.scan(math.ceil(fw / cell), math.ceil(fh / cell))
                if scan is None or not scan[0].any():
                    continue
                feasible, mean_cost = scan
                gy, gx = np.mgrid[0 : feasible.shape[0], 0 : feasible.shape[1]]
                x, y = gx * cell, gy * cell
                ax = anchor[0] - fw / 2 if centred else anchor[0]
                distance = 0.8 * np.abs(x - ax) / S + 0.5 * np.abs(y - anchor[1]) / S
                score = mean_cost + 0.5 * distance + 0.35 * (1.0 - size / all_sizes[0])
                score = np.where(feasible, score, np.inf)
                i = int(np.argmin(score))  # first minimum in row-major order: deterministic
                if best is None or score.flat[i] < best[0]:
                    best = (float(score.flat[i]), size, lines, int(x.flat[i]), int(y.flat[i]), fw, fh, pad_x, pad_y, block)
        if best is None:
            raise IntactError(
                f"There is no room for the {name} in the {fmt.name} format without covering the product. "
                "Shorten the text or make the product smaller."
            )
        score, size, lines, x, y, fw, fh, pad_x, pad_y, block = best
        total += score
        frame = (x, y, x + fw, y + fh)
        box = (x + pad_x, y + pad_y, x + pad_x + block.width, y + pad_y + block.height)
        placed.append(ElementPlan(name, drawn, lines, spec.weight, size, "center" if centred else "left", box, frame,
                                  mode="button" if spec.button else "plain", missing=tuple(missing)))
        # Later elements keep clear of this one and line up under it.
        sep = max(1, round(0.012 * S))
        grid = grid.block(x - sep, y - sep, x + fw + sep, y + fh + sep)
        anchor = ((x + fw / 2) if centred else x, y + fh)
    return placed, total, notes


SIZE_SCALES = (1.0, 0.85, 0.72, 0.6)  # whole-group auto-fit: smaller type when it keeps the group together


def plan_layout(canvas: np.ndarray, product_alpha: np.ndarray, texts: dict[str, str], fmt: AdFormat, fonts: FontBook,
                accent=(214, 69, 61)) -> LayoutPlan:
    """Place every non-empty text of `texts` (keys from ELEMENT_ORDER) on the composite `canvas`.

    Several arrangements are tried, each with the largest type scaled down a little more; the one
    with the lowest total score wins, so a huge headline cannot push the rest of the group into
    leftover corners.
    """
    H, W = canvas.shape[:2]
    S = min(W, H)
    ml, mt, mr, mb = fmt.safe_margins
    safe = (round(ml * W), round(mt * H), W - round(mr * W), H - round(mb * H))
    gap = max(2, round(0.025 * S))
    blocked = cv2.dilate((product_alpha > 0.02).astype(np.uint8), _disk(gap)).astype(bool)
    outside = np.ones((H, W), bool)
    outside[safe[1] : safe[3], safe[0] : safe[2]] = False
    blocked |= outside
    grid = _Grid.from_maps(busy_map(canvas, product_alpha), blocked, max(2, round(S / 160)))
    best, failure = None, None
    for scale in SIZE_SCALES:
        try:
            placed, total, notes = _place_elements(texts, fmt, fonts, grid, (W, H), safe, scale)
        except IntactError as exc:
            failure = failure or exc
            continue
        if best is None or total < best[1] - 1e-9:
            best = (placed, total, notes)
    if best is None:
        raise failure
    placed, _, notes = best
    elements = tuple(choose_appearance(canvas, el, fonts.font(el.size, el.weight), accent) for el in placed)
    return LayoutPlan((W, H), elements, tuple(notes))


# ---------------------------------------------------------------- rendering + report

def render_layout(canvas: np.ndarray, product_alpha: np.ndarray, plan: LayoutPlan, fonts: FontBook) -> tuple[np.ndarray, list[dict]]:
    """Draw the plan and report, per element, what a reviewer checks (measured on the result)."""
    out = canvas.copy()
    grad = gradient_magnitude(canvas)
    saliency = busy_map(canvas)
    reports = []
    for el in plan.elements:
        font = fonts.font(el.size, el.weight)
        out, under, fill_a, _ = render_element(out, el, font)
        x0, y0, x1, y1 = el.box
        fx0, fy0, fx1, fy1 = el.frame
        frame_product = product_alpha[fy0:fy1, fx0:fx1] > 0.02
        reports.append({
            "element": el.name,
            "text": el.text,
            "lines": list(el.lines),
            "box": [x0, y0, x1, y1],
            "frame": [fx0, fy0, fx1, fy1],
            "font_size": el.size,
            "font_weight": el.weight,
            "color": "#%02x%02x%02x" % el.fill,
            "mode": el.mode,
            "stroke_color": None if el.stroke_color is None else "#%02x%02x%02x" % el.stroke_color,
            "panel_color": None if el.panel_color is None else "#%02x%02x%02x" % el.panel_color,
            "panel_opacity": el.panel_opacity,
            "contrast_ratio": round(min_contrast_under(el.fill, under, fill_a, el.size), 3),
            "product_overlap_pixels": int(frame_product.sum()),
            "product_overlap": round(float(frame_product.mean()) if frame_product.size else 0.0, 6),
            "mean_gradient": round(float(grad[y0:y1, x0:x1].mean()), 6),  # unreadability, on the background
            "occlusion": round(float(saliency[y0:y1, x0:x1].mean()), 6),  # mean saliency under the text
            "missing_glyphs": list(el.missing),
        })
    return out, reports
