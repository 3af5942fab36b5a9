"""Synthetic product shots with a known alpha, for tests, benchmarks and demos.

A bottle-like product (shaded body, neck, cap and a pale label) is drawn at 4× and averaged
down, so its alpha has real anti-aliased edges, then composited over a plain, gradient or
textured backdrop (a tinted texture photograph shipped with scikit-image) with mild noise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

BACKDROPS = ("plain", "gradient", "textured")


@dataclass(frozen=True)
class ProductShot:
    rgb: np.ndarray  # uint8 H×W×3, the photo
    alpha: np.ndarray  # float32 H×W, the true product alpha
    product: np.ndarray  # uint8 H×W×3, the product's own colours


def _product_layers(w: int, h: int, colour: tuple[int, int, int]) -> tuple[np.ndarray, np.ndarray]:
    ss = 4
    W, H = w * ss, h * ss
    mask = Image.new("L", (W, H), 0)
    d = ImageDraw.Draw(mask)
    cx = W // 2
    bw, top, bottom = int(W * 0.30), int(H * 0.38), int(H * 0.86)
    d.rounded_rectangle((cx - bw // 2, top, cx + bw // 2, bottom), radius=int(bw * 0.18), fill=255)
    d.rectangle((cx - bw // 6, int(H * 0.22), cx + bw // 6, top + 4 * ss), fill=255)  # neck
    d.ellipse((cx - bw // 2, top - bw // 5, cx + bw // 2, top + bw // 5), fill=255)  # shoulders
    d.rounded_rectangle((cx - bw // 5, int(H * 0.16), cx + bw // 5, int(H * 0.23)), radius=2 * ss, fill=255)  # cap
    alpha = np.asarray(mask.resize((w, h), Image.BOX), np.float32) / 255.0
    xs = (np.arange(w) - w / 2) / (w * 0.15)
    shade = np.clip(1.0 - 0.35 * xs**2, 0.55, 1.0)[None, :, None]  # a cylinder lit from the front
    body = np.ones((h, w, 3), np.float32) * np.array(colour, np.float32) * shade
    label = np.zeros((h, w), bool)
    label[int(h * 0.55) : int(h * 0.72), int(w * 0.40) : int(w * 0.60)] = True
    body[label] = (244, 236, 214)
    for row in range(int(h * 0.59), int(h * 0.68), max(2, h // 60)):  # "printed" lines on the label
        body[row, int(w * 0.43) : int(w * 0.57)] = (60, 50, 40)
    cap = np.zeros((h, w), bool)
    cap[: int(h * 0.23)] = True
    body[cap] = (30, 30, 34)
    return np.clip(body, 0, 255).astype(np.uint8), alpha


def backdrop(kind: str, w: int, h: int, seed: int = 0) -> np.ndarray:
    if kind == "plain":
        return np.full((h, w, 3), (236, 236, 233), np.float32)
    if kind == "gradient":
        t = np.linspace(0.0, 1.0, h, dtype=np.float32)[:, None, None]
        top, bottom = np.array((250, 246, 240), np.float32), np.array((196, 188, 178), np.float32)
        return np.broadcast_to(top * (1 - t) + bottom * t, (h, w, 3)).copy()
    if kind == "textured":
        from skimage import data

        tex = data.brick().astype(np.float32) / 255.0  # real texture photograph, 512×512 grey
        reps = (int(np.ceil(h / tex.shape[0])), int(np.ceil(w / tex.shape[1])))
        tex = np.tile(tex, reps)[:h, :w]
        tint = np.array((214, 200, 176), np.float32)
        return np.clip(tint * (0.75 + 0.35 * tex[..., None]), 0, 255)
    raise ValueError(f"unknown backdrop '{kind}'; choose from {BACKDROPS}")


def product_shot(kind: str = "plain", w: int = 192, h: int = 192, colour=(178, 34, 52), seed: int = 0) -> ProductShot:
    product, alpha = _product_layers(w, h, colour)
    bg = backdrop(kind, w, h, seed)
    rgb = alpha[..., None] * product.astype(np.float32) + (1 - alpha[..., None]) * bg
    rng = np.random.default_rng(seed)
    rgb = rgb + rng.normal(0.0, 1.5, rgb.shape)  # sensor noise
    return ProductShot(np.clip(rgb + 0.5, 0, 255).astype(np.uint8), alpha, product)


# The cup and saucer in scikit-image's coffee photograph (600×400), outlined as a user would with
# a few shapes: the saucer's ellipse (centre, half-axes) plus the cup and spoon boxes. Outside them
# nothing is product (this keeps the saucer's cast shadow on the table out of the cut-out).
_COFFEE_SAUCER = ((278, 229), (206, 162))
_COFFEE_PARTS = ((168, 8, 418, 300), (385, 55, 432, 120))


def coffee_cutout(scale: float = 1.0):
    """A real product photo cut out without a model: GrabCut from the outline (surely product well
    inside it, maybe product near its edge, table outside), then closed-form matting for the soft edge
    (editor.ad.matting). Returns an editor.ad.cutout.CutOut; `scale` < 1 works on a smaller copy."""
    import cv2
    from skimage import data

    from editor.ad.cutout import CutOut
    from editor.ad.matting import matte

    rgb = data.coffee()
    if scale != 1.0:
        rgb = cv2.resize(rgb, (round(rgb.shape[1] * scale), round(rgb.shape[0] * scale)), interpolation=cv2.INTER_AREA)
    h, w = rgb.shape[:2]
    s = rgb.shape[1] / 600
    allowed = np.zeros((h, w), np.uint8)
    (cx, cy), (ax, ay) = _COFFEE_SAUCER
    cv2.ellipse(allowed, (round(cx * s), round(cy * s)), (round(ax * s), round(ay * s)), 0, 0, 360, 1, -1)
    for x0, y0, x1, y1 in _COFFEE_PARTS:
        allowed[round(y0 * s) : round(y1 * s), round(x0 * s) : round(x1 * s)] = 1
    core = np.zeros((h, w), np.uint8)  # surely product: the saucer's ellipse shrunk by 6%, the cup's middle
    cv2.ellipse(core, (round(cx * s), round(cy * s)), (round(ax * s * 0.94), round(ay * s * 0.94)), 0, 0, 360, 1, -1)
    gc = np.where(allowed > 0, cv2.GC_PR_FGD, cv2.GC_BGD).astype(np.uint8)
    gc[core > 0] = cv2.GC_FGD
    bgd, fgd = np.zeros((1, 65)), np.zeros((1, 65))
    cv2.setRNGSeed(0)  # GrabCut's colour models start from k-means: make it repeatable
    cv2.grabCut(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), gc, None, bgd, fgd, 5, cv2.GC_INIT_WITH_MASK)
    hard = (gc == cv2.GC_FGD) | (gc == cv2.GC_PR_FGD)
    alpha, colours = matte(rgb, hard)
    a8 = np.round(alpha * 255).astype(np.uint8)
    return CutOut(np.dstack([colours, a8]), alpha, "grabcut-outline")


def _cutout_of(colours: np.ndarray, alpha: np.ndarray, method: str):
    from editor.ad.cutout import CutOut

    return CutOut(np.dstack([colours, np.round(alpha * 255).astype(np.uint8)]), alpha, method)


def _drawn(w: int, h: int, paint) -> tuple[np.ndarray, np.ndarray]:
    """Colours and alpha of shapes drawn at 4× by `paint(draw_rgb, draw_alpha, W, H)`, averaged down."""
    ss = 4
    rgb = Image.new("RGB", (w * ss, h * ss), (0, 0, 0))
    mask = Image.new("L", (w * ss, h * ss), 0)
    paint(ImageDraw.Draw(rgb), ImageDraw.Draw(mask), w * ss, h * ss)
    alpha = np.asarray(mask.resize((w, h), Image.BOX), np.float32) / 255.0
    premult = np.asarray(rgb.resize((w, h), Image.BOX), np.float32)  # black outside: premultiplied
    colours = np.where(alpha[..., None] > 0, premult / np.maximum(alpha[..., None], 1e-6), 0)
    return np.clip(colours, 0, 255).astype(np.uint8), alpha


def cake_cutout(w: int = 360, h: int = 300):
    """A slice of layered strawberry cake seen at eye level (sponge and cream layers, a berry on
    top), drawn with a known alpha: a stand-in product for benchmarks (no cake photo ships with the
    installed packages)."""
    def paint(d, m, W, H):
        x0, x1, top, bottom = int(W * 0.08), int(W * 0.92), int(H * 0.32), int(H * 0.94)
        m.rectangle((x0, top, x1, bottom), fill=255)
        layers = [(214, 170, 112), (250, 244, 232), (208, 160, 104), (250, 244, 232), (200, 150, 96)]
        band = (bottom - top) / len(layers)
        for i, colour in enumerate(layers):
            d.rectangle((x0, int(top + i * band), x1, int(top + (i + 1) * band)), fill=colour)
        d.rectangle((x0, top - int(H * 0.05), x1, top + int(H * 0.03)), fill=(252, 248, 240))  # frosting
        m.rectangle((x0, top - int(H * 0.05), x1, top), fill=255)
        cx, r = W // 2, int(W * 0.11)
        berry = (cx - r, top - int(2.1 * r), cx + r, top + int(0.1 * r))
        d.ellipse(berry, fill=(200, 30, 50))
        m.ellipse(berry, fill=255)
        d.polygon([(cx - r // 2, berry[1] + r // 5), (cx, berry[1] - r // 3), (cx + r // 2, berry[1] + r // 5)], fill=(60, 130, 60))
        m.polygon([(cx - r // 2, berry[1] + r // 5), (cx, berry[1] - r // 3), (cx + r // 2, berry[1] + r // 5)], fill=255)
    colours, alpha = _drawn(w, h, paint)
    xs = np.linspace(-1, 1, w, dtype=np.float32)
    shade = (1.0 - 0.12 * xs**2)[None, :, None]  # light from the front, falling off at the sides
    return _cutout_of(np.clip(colours * shade, 0, 255).astype(np.uint8), alpha, "known-alpha")


def cosmetic_cutout(w: int = 240, h: int = 320):
    """A cream jar with a gold lid and a label, seen at eye level, drawn with a known alpha (a
    stand-in cosmetic product: no cosmetics photo ships with the installed packages)."""
    def paint(d, m, W, H):
        x0, x1 = int(W * 0.12), int(W * 0.88)
        lid = (x0 - int(W * 0.02), int(H * 0.28), x1 + int(W * 0.02), int(H * 0.46))
        body = (x0, int(H * 0.44), x1, int(H * 0.95))
        d.rounded_rectangle(body, radius=int(W * 0.08), fill=(244, 214, 214))
        m.rounded_rectangle(body, radius=int(W * 0.08), fill=255)
        d.rounded_rectangle(lid, radius=int(W * 0.04), fill=(196, 160, 92))
        m.rounded_rectangle(lid, radius=int(W * 0.04), fill=255)
        label = (int(W * 0.26), int(H * 0.58), int(W * 0.74), int(H * 0.8))
        d.rounded_rectangle(label, radius=int(W * 0.02), fill=(252, 248, 246))
        for i in range(3):
            y = int(H * (0.64 + 0.045 * i))
            d.rectangle((int(W * 0.33), y, int(W * (0.67 - 0.06 * i)), y + max(2, H // 120)), fill=(150, 110, 110))
    colours, alpha = _drawn(w, h, paint)
    xs = np.linspace(-1, 1, w, dtype=np.float32)
    shade = (1.0 - 0.25 * xs**2 + 0.06 * np.exp(-((xs + 0.45) / 0.12) ** 2))[None, :, None]  # a glossy highlight
    return _cutout_of(np.clip(colours * shade, 0, 255).astype(np.uint8), alpha, "known-alpha")


def bottle_cutout(w: int = 300, h: int = 420, colour=(40, 96, 70)):
    """The drawn bottle (see product_shot) as a cut-out with its known alpha."""
    product, alpha = _product_layers(w, h, colour)
    return _cutout_of(product, alpha, "known-alpha")
