"""Making the product stand on its backdrop: where its base is, the shadows that touch it, a
faint reflection on glossy surfaces, the camera angle its photo was taken from, and how much it
was enlarged.

A product looks pasted on when its shadow is an oval that does not meet it. Here every shadow is
made from the cut-out itself: the footprint is the lowest opaque pixel of each column (the base
the product stands on, a straight line for a bottle seen at eye level, a curve for a cup seen
from above), the contact shadow starts under that line and hugs it, and an ambient-occlusion
term darkens the surface close to the lower part of the product. All maps are darkness in 0..1
over the canvas; `composite` applies them to the background only.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

EYE_LEVEL, ANGLED, TOP_DOWN = "eye-level", "45°", "top-down"
CAMERA_ANGLES = (EYE_LEVEL, ANGLED, TOP_DOWN)
# Which backdrop views suit a photo taken from each angle (editor.ad.backgrounds.Backdrop.views).
VIEWS_FOR = {EYE_LEVEL: ("sweep", "tabletop", "any"), ANGLED: ("tabletop", "sweep", "any"),
             TOP_DOWN: ("flat-lay", "any")}


def footprint(alpha: np.ndarray, threshold: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """(columns, base rows): for every column holding product, the row of its lowest opaque pixel."""
    solid = alpha >= threshold
    cols = np.flatnonzero(solid.any(axis=0))
    if cols.size == 0:
        return cols, cols
    h = alpha.shape[0]
    base = h - 1 - np.argmax(solid[::-1, cols], axis=0)
    return cols, base


@dataclass(frozen=True)
class Camera:
    angle: str  # one of CAMERA_ANGLES
    base_sag: float  # how far the base curves down in its middle, fraction of the product's width
    aspect: float  # width / height of the silhouette

    def to_dict(self) -> dict:
        return {"angle": self.angle, "base_sag": round(float(self.base_sag), 3), "aspect": round(float(self.aspect), 3)}


def camera_angle(alpha: np.ndarray) -> Camera:
    """Estimate where the photo was taken from, by the shape of the cut-out's base.

    Seen at eye level a product stands on a nearly straight line (a bottle's bottom, a box's
    edge); from about 45° its base is the lower half of an ellipse, curving down in the middle;
    from straight above the silhouette is a near-round blob with no base at all, filling most
    of its box.
    """
    cols, base = footprint(alpha)
    if cols.size < 4:
        return Camera(EYE_LEVEL, 0.0, 1.0)
    solid = alpha >= 0.5
    rows = np.flatnonzero(solid.any(axis=1))
    width, height = cols[-1] - cols[0] + 1, rows[-1] - rows[0] + 1
    aspect = width / max(height, 1)
    n = cols.size
    edge = base[np.r_[0 : max(1, n // 10), n - max(1, n // 10) : n]]  # the outer tenths of the base
    sag = float(np.percentile(base, 95) - np.median(edge)) / max(width, 1)
    fill = float(solid.sum()) / max(width * height, 1)
    if sag < 0.06:
        angle = EYE_LEVEL
    elif 0.8 <= aspect <= 1.25 and fill > 0.68:
        angle = TOP_DOWN
    else:
        angle = ANGLED
    return Camera(angle, float(sag), float(aspect))


def contact_shadow(alpha: np.ndarray, height: int, light: tuple[float, float] = (0.0, -1.0)) -> np.ndarray:
    """Darkness right under the footprint: strongest along the base line, fading within a few
    percent of the product's height below it, a little longer away from the light. It starts
    inside the silhouette (hidden by the product), so there is never a gap under the base."""
    H, W = alpha.shape
    cols, base = footprint(alpha)
    out = np.zeros((H, W), np.float32)
    if cols.size == 0:
        return out
    reach = max(2.0, 0.035 * height)
    inside = max(1, round(0.02 * height))
    lx = light[0]
    depth = np.arange(-inside, round(3 * reach) + 1)
    fall = np.exp(-np.clip(depth, 0, None) / reach).astype(np.float32)
    rows = base[None, :] + depth[:, None]
    ok = (rows >= 0) & (rows < H)
    cc = np.broadcast_to(cols[None, :], rows.shape)
    out[rows[ok], cc[ok]] = np.broadcast_to(fall[:, None], rows.shape)[ok]
    # Soften sideways (a wider penumbra on the side away from the light) and a touch vertically.
    sigma = max(0.8, 0.01 * height)
    out = cv2.GaussianBlur(out, (0, 0), sigmaX=sigma * 1.6, sigmaY=sigma * 0.6)
    if abs(lx) > 0.05:
        shift = np.float32([[1, 0, -lx * 0.012 * height], [0, 1, 0]])
        out = np.maximum(out, cv2.warpAffine(out, shift, (W, H), flags=cv2.INTER_LINEAR, borderValue=0) * 0.8)
    # Directly under the base line the shadow is full strength, blur or not (no sliver of light).
    for d in range(0, 2):
        r = np.clip(base + d, 0, H - 1)
        out[r, cols] = np.maximum(out[r, cols], 1.0)
    return np.clip(out, 0, 1)


def ambient_occlusion(alpha: np.ndarray, height: int) -> np.ndarray:
    """The surface darkens softly near the product's lower part (less light reaches it there)."""
    H, W = alpha.shape
    cols, base = footprint(alpha)
    if cols.size == 0:
        return np.zeros((H, W), np.float32)
    low = np.zeros_like(alpha)
    top = int(np.median(base) - 0.35 * height)
    low[max(top, 0) :] = alpha[max(top, 0) :]
    ao = cv2.GaussianBlur(low, (0, 0), max(1.0, 0.06 * height))
    # Only below the base line's upper edge: the wall behind an eye-level product is not occluded.
    yy = np.arange(H, dtype=np.float32)[:, None]
    gate = np.clip((yy - (np.min(base) - 0.05 * height)) / max(1.0, 0.05 * height), 0, 1)
    return np.clip(ao * 1.4, 0, 1) * gate


def reflection(layer: np.ndarray, alpha: np.ndarray, height: int, strength: float) -> tuple[np.ndarray, np.ndarray]:
    """A faint mirror image of the product under its base (glossy tile, polished marble):
    (colours, alpha) to blend over the background before the product. Fades out within 30% of
    the product's height."""
    H, W = alpha.shape
    cols, base = footprint(alpha)
    colours = np.zeros_like(layer)
    out = np.zeros_like(alpha)
    if cols.size == 0 or strength <= 0:
        return colours, out
    line = int(np.max(base))
    rows = np.flatnonzero((alpha >= 0.02).any(axis=1))
    top = int(rows[0])
    span = min(line - top + 1, H - line - 1)
    if span <= 1:
        return colours, out
    src = slice(line - span + 1, line + 1)
    colours[line + 1 : line + 1 + span] = layer[src][::-1]
    fade = np.exp(-np.arange(span, dtype=np.float32) / max(1.0, 0.12 * height))[:, None]
    out[line + 1 : line + 1 + span] = alpha[src][::-1] * fade * strength
    out = cv2.GaussianBlur(out, (0, 0), max(0.6, 0.004 * height))
    return colours, out


def shadow_gap(alpha: np.ndarray, darkness: np.ndarray, threshold: float = 0.08) -> float:
    """Pixels of light between the product's base and its shadow: for every base column, how many
    rows below the lowest opaque pixel the shadow first reaches `threshold`; the median over
    the base's middle 80%. 0 means the shadow touches the product."""
    cols, base = footprint(alpha)
    if cols.size == 0:
        return float("nan")
    n = cols.size
    keep = slice(n // 10, n - n // 10) if n >= 10 else slice(0, n)
    gaps = []
    H = alpha.shape[0]
    for c, b in zip(cols[keep], base[keep]):
        below = darkness[b + 1 : min(H, b + 1 + max(8, H // 10)), c]
        hit = np.flatnonzero(below >= threshold)
        gaps.append(float(hit[0]) if hit.size else float(below.size))
    return float(np.median(gaps))


def sharpen_enlarged(colours: np.ndarray, factor: float) -> np.ndarray:
    """Unsharp mask for a product enlarged `factor` times: the radius grows with the enlargement
    (the blur it undoes is that wide), the amount is moderate so edges do not ring."""
    if factor <= 1.05:
        return colours
    sigma = 0.5 * factor
    amount = min(0.9, 0.35 * (factor - 1.0) + 0.2)
    blurred = cv2.GaussianBlur(colours, (0, 0), sigma)
    return np.clip(colours + amount * (colours - blurred), 0, 255)


def resolution_note(source_px: tuple[int, int], factor: float, format_label: str) -> str | None:
    """A plain-words note when the photo is shown larger than it was taken."""
    if factor <= 1.5:
        return None
    return (f"photo is small for {format_label}: the product is {source_px[0]}×{source_px[1]} px in the photo and is "
            f"shown {factor:.1f}× enlarged (sharpened); a larger photo will look crisper")


def pick_view(views: tuple[str, ...], angle: str) -> tuple[str, bool]:
    """The backdrop view that suits a photo taken from `angle`, and whether any of the backdrop's
    views does (False: the backdrop's own view, which disagrees with the photo)."""
    for wanted in VIEWS_FOR[angle]:
        if wanted in views:
            return wanted, True
    return views[0], False


def horizon_behind(placement, canvas_height: int, angle: str) -> float:
    """Where the floor line should run (fraction of the height): for an eye-level photo behind
    the product's lower third (the camera is about that high); for an angled one above the
    product, so all of it stands on the surface."""
    top, bottom, h = placement.y, placement.bottom, placement.height
    line = bottom - 0.3 * h if angle == EYE_LEVEL else top - 0.12 * h
    return float(min(max(line / canvas_height, 0.06), 0.92))
