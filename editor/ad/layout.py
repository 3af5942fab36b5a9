"""Drawing the text block on the composite, in colours that are measured to read.

The geometry comes from `editor.ad.composition` (where every line's ink goes); this module
chooses the colours and draws. Colours start from the layout (the user's, else the brand's,
else the product's palette) and are checked against the actual pixels around every glyph: a
colour that does not reach WCAG 4.5:1 gets its CIELAB lightness moved (same hue); where no
lightness can (a busy photo with both dark and light pixels), the block gets a backing panel.
The price may be emphasised (accent colour, bold) and an old price is struck through in a
quieter colour that still reads. The button is the accent with text that reads on it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np
from PIL import Image, ImageDraw

from editor.ad.badges import Sticker
from editor.ad.colour import (
    MARGIN,
    MIN_CONTRAST,
    RGB,
    contrast_ratio,
    lightness,
    min_contrast,
    on_fill,
    parse_hex,
    readable,
    to_hex,
    with_lightness,
)
from editor.ad.composition import Geometry
from editor.ad.fonts import FontBook
from editor.ad.palette import Palette, accent_colour, text_colour
from editor.ad.saliency import busy_map, gradient_magnitude
from editor.ad.typography import BrandMark, Line, ink

SUPERSAMPLE = 4  # shapes (button, panel) are drawn this much larger and averaged down: smooth edges


@dataclass(frozen=True)
class Colours:
    text: RGB
    muted: RGB  # the struck-through old price
    accent: RGB  # the price
    button: RGB
    button_text: RGB
    panel: RGB | None = None
    panel_opacity: float = 0.0


@dataclass(frozen=True)
class TextPlan:
    geometry: Geometry
    colours: Colours
    panel_box: tuple[int, int, int, int] | None
    notes: tuple[str, ...] = field(default_factory=tuple)


def ring_radius(size: int) -> int:
    return max(1, round(size * 0.03))


def _disk(r: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))


def min_contrast_under(fill, under: np.ndarray, glyph_alpha: np.ndarray, size: int) -> float:
    """Worst WCAG contrast between the text colour and every pixel under or just around its glyphs."""
    ink_mask = (glyph_alpha > 0).astype(np.uint8)
    if not ink_mask.any():
        return float("inf")
    zone = cv2.dilate(ink_mask, _disk(ring_radius(size))).astype(bool)
    return min_contrast(fill, under[zone])


# ---------------------------------------------------------------------------------- glyph masks

def _region(geometry: Geometry, shape, pad: int) -> tuple[int, int, int, int]:
    x0, y0, x1, y1 = geometry.block_box()
    h, w = shape[:2]
    return max(x0 - pad, 0), max(y0 - pad, 0), min(x1 + pad, w), min(y1 + pad, h)


def _run_masks(line: Line, origin: tuple[int, int], book: FontBook, region) -> list[tuple[str, np.ndarray]]:
    """(colour role, alpha float32 in region coordinates) for every run of the line, strikes
    included; `origin` is where the line's coordinates start on the canvas (a block's axis and top)."""
    rx0, ry0, rx1, ry1 = region
    out = []
    for run in line.runs:
        font = book.font(run.size, run.weight)
        img = Image.new("L", (rx1 - rx0, ry1 - ry0), 0)
        ox = origin[0] + line.x + run.dx - rx0
        oy = origin[1] + line.baseline - ry0
        draw = ImageDraw.Draw(img)
        draw.text((ox, oy), run.text, font=font, fill=255, anchor="ls")
        box = ink(book, run.size, run.weight, run.text) if run.strike else None
        if box is not None and box.right > box.left:  # (text the font draws nothing for: nothing to strike)
            thickness = max(1, round(run.size * 0.07))
            mid = oy - round(run.size * 0.36)
            draw.rectangle((ox + box.left, mid - thickness // 2, ox + box.right - 1, mid - thickness // 2 + thickness - 1), fill=255)
        out.append((run.colour, np.asarray(img, np.float32) / 255.0))
    return out


def _shape_mask(box, region, radius_fraction: float) -> np.ndarray:
    """A rounded rectangle (absolute box) as a float alpha in region coordinates, anti-aliased."""
    rx0, ry0, rx1, ry1 = region
    x0, y0, x1, y1 = box
    s = SUPERSAMPLE
    img = Image.new("L", ((rx1 - rx0) * s, (ry1 - ry0) * s), 0)
    radius = max(1, round((y1 - y0) * radius_fraction * s))
    ImageDraw.Draw(img).rounded_rectangle(((x0 - rx0) * s, (y0 - ry0) * s, (x1 - rx0) * s - 1, (y1 - ry0) * s - 1),
                                          radius=radius, fill=255)
    small = img.resize((rx1 - rx0, ry1 - ry0), Image.BOX)
    return np.asarray(small, np.float32) / 255.0


def _pill_box(geometry: Geometry):
    p = geometry.block.pill
    if p is None:
        return None
    return geometry.axis + p.left, geometry.top + p.top, geometry.axis + p.right, geometry.top + p.bottom


def _blend(under: np.ndarray, colour, alpha: np.ndarray) -> np.ndarray:
    return under * (1.0 - alpha[..., None]) + np.asarray(colour, np.float32) * alpha[..., None]


# ---------------------------------------------------------------------------------- colours

def _zone_pixels(layer: np.ndarray, masks: list[np.ndarray], size: int) -> np.ndarray:
    if not masks:
        return np.zeros((0, 3))
    ink_mask = (np.maximum.reduce(masks) > 0).astype(np.uint8)
    zone = cv2.dilate(ink_mask, _disk(ring_radius(size))).astype(bool)
    return layer[zone].reshape(-1, 3)


def _prefs(colour: str | None, fallback) -> RGB | None:
    return parse_hex(colour) if colour else fallback


def plan_text(canvas: np.ndarray, geometry: Geometry, book: FontBook, palette: Palette, text_colour_hex: str | None = None,
              accent_hex: str | None = None) -> TextPlan:
    """Colours (and a backing panel if needed) so every glyph reaches the minimum contrast."""
    block = geometry.block
    pad = geometry.panel_pad
    region = _region(geometry, canvas.shape, pad + 4)
    rx0, ry0, rx1, ry1 = region
    layer = canvas[ry0:ry1, rx0:rx1].astype(np.float32)
    masks: dict[str, list[np.ndarray]] = {"text": [], "muted": [], "accent": []}
    for line in block.lines:
        if line.element in ("cta", "badge"):  # drawn on their own fill, not on the picture
            continue
        for role, mask in _run_masks(line, (geometry.axis, geometry.top), book, region):
            masks[role].append(mask)
    size = max(block.sizes.values())
    notes: list[str] = []
    wanted_text = _prefs(text_colour_hex, None)
    wanted_accent = _prefs(accent_hex, None)
    bx0, by0, bx1, by1 = geometry.block_box()
    panel_box = (bx0 - pad, by0 - pad, bx1 + pad, by1 + pad)

    def pick(under: np.ndarray, accent_under: np.ndarray, muted_under: np.ndarray):
        text = readable(wanted_text, under) if wanted_text is not None else (text_colour(palette, under) if len(under) else (17, 17, 17))
        if text is None or min_contrast(text, under) < MIN_CONTRAST + MARGIN:
            return None
        accent = readable(wanted_accent, accent_under) if wanted_accent is not None else accent_colour(palette, accent_under)
        if accent is None:
            accent = readable(text, accent_under)
            if accent is None:
                return None
        muted = text
        if len(muted_under):
            bg = np.median(muted_under, axis=0)
            quiet = tuple(int(round(v)) for v in 0.55 * np.asarray(text, np.float64) + 0.45 * bg)
            muted = readable(quiet, muted_under) or text
        return text, accent, muted

    text_under = _zone_pixels(layer, masks["text"], size)
    accent_under = _zone_pixels(layer, masks["accent"], size)
    muted_under = _zone_pixels(layer, masks["muted"], size)
    chosen = pick(text_under, accent_under, muted_under)
    panel, opacity = None, 0.0
    if chosen is None:  # no single lightness reads on this background: back the block with a panel
        all_under = np.concatenate([text_under, accent_under, muted_under]) if len(text_under) else layer.reshape(-1, 3)
        light_bg = float(np.median(all_under @ np.array([0.299, 0.587, 0.114]))) > 128
        base = palette.dominant
        panel = with_lightness(base, 97.0, 0.15) if light_bg else with_lightness(base, 12.0, 0.3)
        shape = _shape_mask(panel_box, region, min(0.06, pad / max(panel_box[3] - panel_box[1], 1)))
        for opacity in (0.82, 0.9, 1.0):
            backed = _blend(layer, panel, shape * opacity)
            chosen = pick(_zone_pixels(backed, masks["text"], size), _zone_pixels(backed, masks["accent"], size),
                          _zone_pixels(backed, masks["muted"], size))
            if chosen is not None:
                break
        if chosen is None:  # an opaque panel always has a readable text colour
            chosen = (_extreme(panel),) * 3
        notes.append("the background behind the text is busy: the text got a backing panel")
    text, accent, muted = chosen
    if wanted_text is not None and tuple(text) != wanted_text:
        notes.append(f"the text colour {to_hex(wanted_text)} was adjusted to {to_hex(text)} to stay readable")
    if wanted_accent is not None and tuple(accent) != wanted_accent and masks["accent"]:
        notes.append(f"the price colour {to_hex(wanted_accent)} was adjusted to {to_hex(accent)} to stay readable")
    button, button_text = on_fill(wanted_accent if wanted_accent is not None else _button_base(palette, accent))
    colours = Colours(tuple(text), tuple(muted), tuple(accent), tuple(button), tuple(button_text), panel, opacity)
    return TextPlan(geometry, colours, panel_box if panel is not None else None, tuple(notes))


def _extreme(panel) -> RGB:
    return (17, 17, 17) if float(contrast_ratio(panel, (17, 17, 17))) >= float(contrast_ratio(panel, (255, 255, 255))) else (255, 255, 255)


def _button_base(palette: Palette, accent: RGB) -> RGB:
    """The button: the product's accent when it is colourful, else the (readable) price colour."""
    return palette.accent if palette.is_colourful and 25 <= lightness(palette.accent) <= 70 else accent


# ---------------------------------------------------------------------------------- drawing

def _colour_of(role: str, colours: Colours) -> RGB:
    return {"text": colours.text, "muted": colours.muted, "accent": colours.accent, "button": colours.button_text}[role]


def _paste_logo(out: np.ndarray, logo: np.ndarray, box) -> None:
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    if w <= 0 or h <= 0:
        return
    interp = cv2.INTER_AREA if w < logo.shape[1] else cv2.INTER_CUBIC
    rgba = logo.astype(np.float32)
    premult = cv2.resize(rgba[..., :3] * (rgba[..., 3:] / 255.0), (w, h), interpolation=interp)
    alpha = np.clip(cv2.resize(rgba[..., 3] / 255.0, (w, h), interpolation=interp), 0, 1)
    H, W = out.shape[:2]
    cx0, cy0, cx1, cy1 = max(x0, 0), max(y0, 0), min(x1, W), min(y1, H)
    if cx1 <= cx0 or cy1 <= cy0:
        return
    sl = (slice(cy0 - y0, cy1 - y0), slice(cx0 - x0, cx1 - x0))
    under = out[cy0:cy1, cx0:cx1].astype(np.float32)
    a = alpha[sl][..., None]
    out[cy0:cy1, cx0:cx1] = np.clip(under * (1 - a) + premult[sl], 0, 255).round().astype(np.uint8)  # premultiplied "over"


def render_text(canvas: np.ndarray, product_alpha: np.ndarray, plan: TextPlan, book: FontBook,
                brand: BrandMark | None = None) -> tuple[np.ndarray, list[dict]]:
    """Draw the block; returns the picture and, per element, what a reviewer checks (measured on it)."""
    g = plan.geometry
    block = g.block
    c = plan.colours
    region = _region(g, canvas.shape, g.panel_pad + 4)
    rx0, ry0, rx1, ry1 = region
    layer = canvas[ry0:ry1, rx0:rx1].astype(np.float32)
    if plan.panel_box is not None:
        corner = min(0.06, g.panel_pad / max(plan.panel_box[3] - plan.panel_box[1], 1))
        layer = _blend(layer, c.panel, _shape_mask(plan.panel_box, region, corner) * c.panel_opacity)
    pill = _pill_box(g)
    if pill is not None:
        layer = _blend(layer, c.button, _shape_mask(pill, region, 0.5))
    for tag in block.badges:  # badges: small tags in the button's (the brand's) colour
        layer = _blend(layer, c.button, _shape_mask(_abs(g, tag), region, 0.5))
    under = np.clip(np.round(layer), 0, 255)  # what every glyph is drawn on (panel and button included)
    drawn = under.copy()
    per_element: dict[str, dict] = {}
    for line in block.lines:
        entry = per_element.setdefault(line.element, {"lines": [], "contrast": float("inf"), "runs": []})
        for run, (role, mask) in zip(line.runs, _run_masks(line, (g.axis, g.top), book, region)):
            colour = _colour_of(role, c)
            drawn = _blend(drawn, colour, mask)
            entry["contrast"] = min(entry["contrast"], min_contrast_under(colour, under, mask, run.size))
            entry["runs"].append(run)
        entry["lines"].append({"text": " ".join(r.text for r in line.runs),
                               "box": [g.axis + line.left, g.top + line.top, g.axis + line.right, g.top + line.bottom]})
    out = canvas.copy()
    out[ry0:ry1, rx0:rx1] = np.clip(drawn + 0.5, 0, 255).astype(np.uint8)
    if g.sticker is not None:
        _draw_sticker(out, g.sticker, c, book, per_element.setdefault("badge", {"lines": [], "contrast": float("inf"),
                                                                                "runs": []}))
    if brand is not None and brand.logo is not None:
        for box in (_abs(g, block.logo), g.logo_box):
            if box is not None:
                _paste_logo(out, brand.logo, box)
    return out, _report(canvas, product_alpha, plan, per_element)


def _draw_sticker(out: np.ndarray, sticker: Sticker, c: Colours, book: FontBook, entry: dict) -> None:
    """Round tags in the button's colour with their text, drawn in place on `out`; what was drawn
    (lines, runs, the contrast measured under the glyphs) goes into the badge element's `entry`."""
    h, w = out.shape[:2]
    x0, y0, x1, y1 = sticker.box()
    region = (max(x0 - 2, 0), max(y0 - 2, 0), min(x1 + 2, w), min(y1 + 2, h))
    rx0, ry0, rx1, ry1 = region
    layer = out[ry0:ry1, rx0:rx1].astype(np.float32)
    for box in sticker.boxes():
        layer = _blend(layer, c.button, _shape_mask(box, region, 0.5))
    under = np.clip(np.round(layer), 0, 255)
    drawn = under.copy()
    line = sticker.line
    for run, (role, mask) in zip(line.runs, _run_masks(line, (0, 0), book, region)):
        colour = _colour_of(role, c)
        drawn = _blend(drawn, colour, mask)
        entry["contrast"] = min(entry["contrast"], min_contrast_under(colour, under, mask, run.size))
        entry["runs"].append(run)
    entry["lines"].append({"text": " ".join(r.text for r in line.runs), "box": [line.left, line.top, line.right, line.bottom]})
    out[ry0:ry1, rx0:rx1] = np.clip(drawn + 0.5, 0, 255).astype(np.uint8)


def _abs(g: Geometry, box) -> tuple[int, int, int, int] | None:
    if box is None:
        return None
    return g.axis + box.left, g.top + box.top, g.axis + box.right, g.top + box.bottom


def _report(canvas: np.ndarray, product_alpha: np.ndarray, plan: TextPlan, per_element: dict) -> list[dict]:
    grad = gradient_magnitude(canvas)
    saliency = busy_map(canvas)
    c = plan.colours
    reports = []
    for name, entry in per_element.items():
        boxes = np.array([ln["box"] for ln in entry["lines"]])
        x0, y0 = boxes[:, 0].min(), boxes[:, 1].min()
        x1, y1 = boxes[:, 2].max(), boxes[:, 3].max()
        # Product pixels under the element: under its panel, else under each of its lines (a badge's
        # tags may sit apart, above the headline and as a sticker: the box around both is not the element).
        frames = [plan.panel_box] if plan.panel_box is not None else [ln["box"] for ln in entry["lines"]]
        covered = [product_alpha[max(int(b[1]), 0):max(int(b[3]), 0), max(int(b[0]), 0):max(int(b[2]), 0)] > 0.02
                   for b in frames]
        over_pixels = sum(int(part.sum()) for part in covered)
        over_area = sum(part.size for part in covered)
        main = entry["runs"][-1]
        colour = _colour_of(main.colour, c)
        reports.append({
            "element": name,
            "text": " ".join(ln["text"] for ln in entry["lines"]),
            "lines": entry["lines"],
            "box": [int(x0), int(y0), int(x1), int(y1)],
            "font_size": main.size,
            "font_weight": main.weight,
            "color": to_hex(colour),
            "mode": "button" if name in ("cta", "badge") else ("panel" if plan.panel_box is not None else "plain"),
            "panel_color": to_hex(c.panel) if c.panel is not None else None,
            "button_color": to_hex(c.button) if name in ("cta", "badge") else None,
            "strike": any(r.strike for r in entry["runs"]),
            # (None when the fonts drew nothing of it: no text pixel to measure, never "infinite")
            "contrast_ratio": round(float(entry["contrast"]), 3) if np.isfinite(entry["contrast"]) else None,
            "product_overlap_pixels": over_pixels,
            "product_overlap": round(over_pixels / over_area, 6) if over_area else 0.0,
            # unreadability on the background, and mean saliency under the text (inside the canvas:
            # a box reaching past its edge would slice nothing and report NaN, which cannot be saved)
            "mean_gradient": _mean_inside(grad, x0, y0, x1, y1),
            "occlusion": _mean_inside(saliency, x0, y0, x1, y1),
        })
    return reports


def _mean_inside(values: np.ndarray, x0, y0, x1, y1) -> float:
    """Mean of `values` over the box clipped to the array (0.0 for a box wholly outside it)."""
    h, w = values.shape[:2]
    rows = slice(min(max(int(y0), 0), h), min(max(int(y1), 0), h))
    cols = slice(min(max(int(x0), 0), w), min(max(int(x1), 0), w))
    part = values[rows, cols]
    return round(float(part.mean()), 6) if part.size else 0.0


def describe_elements(g: Geometry, book: FontBook, logo_box=None, shadow_box=None) -> list[dict]:
    """Every element of the ad as the layout file lists it: kind, box (canvas pixels, x0 y0 x1 y1)
    and, for text, its font, size and text. The old price is its own element (it shares the
    price's row); a shop name set as a wordmark is "brand"."""
    out: list[dict] = []
    by_kind: dict[str, dict] = {}
    for line in g.block.lines:
        if line.element in ("badge", "cta"):
            continue
        for run in line.runs:
            kind = "old_price" if run.strike else line.element
            x = g.axis + line.x + run.dx
            box = ink(book, run.size, run.weight, run.text)
            rect = [x + box.left, g.top + line.baseline + box.top, x + box.right, g.top + line.baseline + box.bottom]
            entry = by_kind.get(kind)
            if entry is None:
                src = book.source(run.weight)
                entry = by_kind[kind] = {"kind": kind, "text": run.text, "box": rect,
                                         "font": {"family": src.family, "style": src.style, "size": run.size}}
                out.append(entry)
            else:
                entry["text"] += " " + run.text
                entry["box"] = [min(entry["box"][0], rect[0]), min(entry["box"][1], rect[1]),
                                max(entry["box"][2], rect[2]), max(entry["box"][3], rect[3])]
    tags = iter(zip(g.block.badges, g.block.badge_places))
    for line in g.block.lines:
        if line.element == "cta":
            run = line.runs[0]
            src = book.source(run.weight)
            out.append({"kind": "cta", "text": run.text,
                        "box": [g.axis + line.left, g.top + line.top, g.axis + line.right, g.top + line.bottom],
                        "font": {"family": src.family, "style": src.style, "size": run.size}})
        elif line.element == "badge":  # a row of tags: each its own element, in its own pill
            for run in line.runs:
                tag, place = next(tags)
                src = book.source(run.weight)
                out.append({"kind": "badge", "text": run.text, "place": place, "box": list(_abs(g, tag)),
                            "font": {"family": src.family, "style": src.style, "size": run.size}})
    if g.sticker is not None:
        for run, box in zip(g.sticker.line.runs, g.sticker.boxes()):
            src = book.source(run.weight)
            out.append({"kind": "badge", "text": run.text, "place": "corner", "box": list(box),
                        "font": {"family": src.family, "style": src.style, "size": run.size}})
    for box in (_abs(g, g.block.logo), logo_box):
        if box is not None:
            out.append({"kind": "logo", "box": [int(v) for v in box]})
    out.append({"kind": "product", "box": [int(v) for v in g.product_box]})
    if shadow_box is not None:
        out.append({"kind": "shadow", "box": [int(v) for v in shadow_box]})
    if g.decor is not None:
        out.append({"kind": "panel", "shape": g.decor.kind, "box": [int(v) for v in g.decor.box()]})
    for e in out:
        e["box"] = [int(v) for v in e["box"]]
    return out
