"""Putting the cut-out product on the background: scale, placement, shadows, edge harmonisation.

Only the background is darkened by shadows, and only the soft (0 < alpha < 1) edge of the
product is tinted towards its surroundings, so wherever the placed product is fully opaque
the composite holds exactly the product's own (resized) pixels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from editor.ad import grounding
from editor.ad.cutout import CutOut
from editor.ad.formats import AdFormat
from editor.errors import InputError


@dataclass(frozen=True)
class Placement:
    """Where the product's bounding box lands on the canvas, in pixels."""

    x: int
    y: int
    width: int
    height: int

    @property
    def bottom(self) -> int:
        return self.y + self.height


@dataclass(frozen=True)
class PlacementRequest:
    """A user-set placement, in canvas fractions: box centre x, box bottom y, box height."""

    center_x: float
    bottom_y: float
    height: float

    def __post_init__(self):
        for name in ("center_x", "bottom_y", "height"):
            v = getattr(self, name)
            if not (0.0 <= v <= 1.0) or (name == "height" and v <= 0.02):
                raise InputError(f"Placement {name} must be a fraction between 0 and 1 (height above 0.02); got {v}.",
                                 key="ad_bad_placement", field="layout", name=name, value=v)


def requested_placement(product_size: tuple[int, int], fmt: AdFormat, req: PlacementRequest) -> Placement:
    bw, bh = product_size
    W, H = fmt.size
    h = max(1, round(req.height * H))
    w = max(1, round(bw * h / bh))
    return Placement(round(req.center_x * W - w / 2), round(req.bottom_y * H - h), w, h)


def place_product(cut: CutOut, placement: Placement, canvas_size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """The product resized into its placement on an empty canvas: (colours float32 H×W×3, alpha float32 H×W).

    Resizing is done on premultiplied colours so the old backdrop cannot bleed into the edge.
    """
    W, H = canvas_size
    x0, y0, x1, y1 = cut.bbox()
    rgba = cut.rgba[y0:y1, x0:x1].astype(np.float32)
    alpha = cut.alpha[y0:y1, x0:x1].astype(np.float32)
    premult = rgba[..., :3] * alpha[..., None]
    size = (placement.width, placement.height)
    factor = upscale_factor(cut, placement)
    # Enlarging: Lanczos keeps more detail than cubic, and the unsharp mask restores edges.
    interp = cv2.INTER_AREA if factor < 1.0 else cv2.INTER_LANCZOS4
    premult = cv2.resize(premult, size, interpolation=interp)
    alpha = np.clip(cv2.resize(alpha, size, interpolation=interp), 0.0, 1.0)
    alpha[alpha > 0.996] = 1.0
    alpha[alpha < 0.004] = 0.0
    colours = np.where(alpha[..., None] > 0, premult / np.maximum(alpha[..., None], 1e-6), 0.0)
    colours = np.clip(colours, 0, 255)
    if factor > 1.05:
        colours = np.where(alpha[..., None] > 0, grounding.sharpen_enlarged(colours, factor), 0.0)
    layer = np.zeros((H, W, 3), np.float32)
    layer_alpha = np.zeros((H, W), np.float32)
    # Clip the placed box to the canvas (a user may push the product partly off the edge).
    cx0, cy0 = max(placement.x, 0), max(placement.y, 0)
    cx1, cy1 = min(placement.x + placement.width, W), min(placement.y + placement.height, H)
    if cx1 <= cx0 or cy1 <= cy0:
        raise InputError("The product was placed entirely outside the ad.")
    sx0, sy0 = cx0 - placement.x, cy0 - placement.y
    layer[cy0:cy1, cx0:cx1] = colours[sy0 : sy0 + cy1 - cy0, sx0 : sx0 + cx1 - cx0]
    layer_alpha[cy0:cy1, cx0:cx1] = alpha[sy0 : sy0 + cy1 - cy0, sx0 : sx0 + cx1 - cx0]
    return np.round(layer), layer_alpha  # whole-valued colours: opaque pixels land exactly


def upscale_factor(cut: CutOut, placement: Placement) -> float:
    """How many times the product's photo pixels are enlarged on the canvas (below 1: reduced)."""
    x0, y0, x1, y1 = cut.bbox()
    return placement.height / max(y1 - y0, 1)


def light_direction(background: np.ndarray, product_box: tuple[int, int, int, int], angle: float | None = None) -> tuple[float, float]:
    """Unit vector from the product towards the light, in image coordinates (x right, y down).

    A backdrop that knows its light (`angle`, degrees, 90 = from the top) says so; otherwise the
    light is measured on the picture: the brightness-weighted centre of the clearly-lit pixels,
    seen from the product's centre. A flat picture gives light from straight above.
    """
    if angle is not None:
        a = math.radians(angle)
        return math.cos(a), -math.sin(a)
    h, w = background.shape[:2]
    scale = 96 / max(h, w)
    small = cv2.resize(background, (max(4, round(w * scale)), max(4, round(h * scale))), interpolation=cv2.INTER_AREA)
    lum = cv2.GaussianBlur(small.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32), (0, 0), 3)
    weight = np.clip(lum - np.percentile(lum, 60), 0, None)
    if weight.sum() < 1e-3 or float(lum.max() - lum.min()) < 6.0:
        return 0.0, -1.0
    ys, xs = np.mgrid[0 : lum.shape[0], 0 : lum.shape[1]]
    cx, cy = (xs * weight).sum() / weight.sum() / scale, (ys * weight).sum() / weight.sum() / scale
    px, py = (product_box[0] + product_box[2]) / 2, (product_box[1] + product_box[3]) / 2
    dx, dy = cx - px, cy - py
    norm = math.hypot(dx, dy)
    if norm < 0.03 * min(h, w):
        return 0.0, -1.0
    return dx / norm, dy / norm


def shadow_map(alpha: np.ndarray, placement: Placement, contact: float, drop: float,
               light: tuple[float, float] = (0.0, -1.0)) -> np.ndarray:
    """Darkness (0..1) cast on the background: a squashed contact shadow under the product's
    footprint and a soft drop shadow of its silhouette, both derived from the alpha. The drop
    shadow falls away from the light (`light`: unit vector towards it), and always a little down,
    onto the surface the product stands on."""
    H, W = alpha.shape
    dark = np.zeros((H, W), np.float32)
    ph = placement.height
    lx, ly = light
    if contact > 0:
        # Made from the footprint (the lowest opaque pixel of each column), so it touches the
        # base whatever its shape; ambient occlusion darkens the surface close to the product.
        touch = grounding.contact_shadow(alpha, ph, light)
        ao = grounding.ambient_occlusion(alpha, ph)
        dark = np.maximum(dark, contact * np.maximum(touch, 0.45 * ao))
    if drop > 0:
        reach = ph * 0.035
        dx = -lx * reach
        dy = reach * (0.45 + 0.55 * max(0.0, -ly))
        m = np.float32([[1, 0, dx], [0, 1, dy]])
        d = cv2.warpAffine(alpha, m, (W, H), flags=cv2.INTER_LINEAR, borderValue=0)
        d = cv2.GaussianBlur(d, (0, 0), max(1.0, ph * 0.035))
        dark = 1.0 - (1.0 - dark) * (1.0 - drop * d)
    return dark


def composite(background: np.ndarray, layer: np.ndarray, alpha: np.ndarray, shadow: np.ndarray | None = None,
              harmonise: float = 0.3, reflection: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """Alpha-blend the product layer over the background (uint8 H×W×3 result); `reflection`
    (colours, alpha from grounding.reflection) is laid on the background first."""
    bg = background.astype(np.float32)
    if shadow is not None:
        bg = bg * (1.0 - shadow[..., None] * 0.85)
    if reflection is not None:
        colours, ra = reflection
        bg = bg * (1.0 - ra[..., None]) + colours * ra[..., None]
    fg = layer
    if harmonise > 0:
        # Light wrap: soft edge pixels lean towards the nearby background colour; weight is 0 where opaque.
        sigma = max(1.0, min(alpha.shape) / 300)
        surround = cv2.GaussianBlur(bg, (0, 0), sigma)
        w = (harmonise * (1.0 - alpha))[..., None]
        fg = fg + w * (surround - fg)
    a = alpha[..., None]
    out = a * fg + (1.0 - a) * bg
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)
