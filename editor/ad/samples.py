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
