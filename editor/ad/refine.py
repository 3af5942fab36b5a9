"""Brush fixes that follow the photo's edges: strokes are seeds, not shapes to paste.

A shop owner paints roughly: a green stroke over a missed cup handle spills onto the table, a
red stroke over a kept shadow grazes the cup. Pasting those shapes into the alpha would keep
the spill. Instead:

1. Seeds: the stroke's core is certain (product for "add", background for "remove"); the rest
   of each stroke is only probable, so its edge may move to the photo's edge.
2. Local graph cut: OpenCV GrabCut re-decides only a band around the strokes, with the current
   cut-out as the probable answer there and as a fixed answer elsewhere, so a fix never
   changes the product far from where the user painted.
3. Edge-aware softening: a guided filter (He, Sun & Tang) with the photo as guide turns the new
   hard boundary into a soft alpha that hugs the photo's edges, in that band only.

Everything runs at the cut-out's size; GrabCut runs on a reduced copy of the band when the
photo is large.
"""

from __future__ import annotations

import cv2
import numpy as np
from scipy import ndimage

GRABCUT_SIDE = 640  # GrabCut works on at most this many pixels along the longer side of the band
STROKE = 0.5  # stroke values above this are painted


def _disk(radius: int) -> np.ndarray:
    radius = max(1, int(radius))
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))


def guided_filter(guide: np.ndarray, src: np.ndarray, radius: int, eps: float) -> np.ndarray:
    """He et al.'s guided filter with a colour guide (H×W×3 in [0, 1]) on a float map `src`."""
    guide = guide.astype(np.float32)
    src = src.astype(np.float32)
    size = (2 * radius + 1, 2 * radius + 1)

    def box(x):
        return cv2.boxFilter(x, -1, size, borderType=cv2.BORDER_REFLECT)

    mean_i = box(guide)
    mean_p = box(src)
    cov_ip = box(guide * src[..., None]) - mean_i * mean_p[..., None]
    var = np.empty(guide.shape[:2] + (3, 3), np.float32)
    for a in range(3):
        for b in range(a, 3):
            v = box(guide[..., a] * guide[..., b]) - mean_i[..., a] * mean_i[..., b]
            var[..., a, b] = var[..., b, a] = v
    var += eps * np.eye(3, dtype=np.float32)
    coef = np.linalg.solve(var, cov_ip[..., None])[..., 0]  # per-pixel linear model a
    offset = mean_p - (coef * mean_i).sum(axis=2)
    return (box(coef) * guide).sum(axis=2) + box(offset)


CORE_DEPTH = 0.6  # a stroke's core: pixels at least this share of the stroke's half-width from its rim...
MAX_RIM = 0.08  # ...or this share of the photo's shorter side, whichever is less


def _core(stroke: np.ndarray, max_rim: float) -> np.ndarray:
    """The part of each stroke the user surely meant: its middle, where the brush was centred.

    A brush dab's rim is where it spills over an edge; its centre is what the user aimed at.
    Per stroke, pixels deeper than CORE_DEPTH of the stroke's greatest depth are the core (a
    thin line keeps its centre line, a dab its middle), but a rim is never wider than
    `max_rim` pixels: a large painted area is meant as it is, all but its outline."""
    if not stroke.any():
        return stroke
    depth = cv2.distanceTransform(stroke.astype(np.uint8), cv2.DIST_L2, 3)
    labels, count = ndimage.label(stroke)
    deepest = np.asarray(ndimage.maximum(depth, labels, index=np.arange(1, count + 1)))
    threshold = np.concatenate([[np.inf], np.minimum(CORE_DEPTH * deepest, max_rim)])
    return depth >= threshold[labels]


def refine_with_strokes(photo: np.ndarray, alpha: np.ndarray, add: np.ndarray | None, remove: np.ndarray | None) -> np.ndarray:
    """The cut-out's alpha after the brush strokes, refined along the photo's edges.

    photo: uint8 H×W×3; alpha: float H×W in [0, 1]; add/remove: float H×W in [0, 1] or None.
    """
    h, w = alpha.shape
    add_mask = np.zeros((h, w), bool) if add is None else add > STROKE
    remove_mask = np.zeros((h, w), bool) if remove is None else remove > STROKE
    remove_mask &= ~add_mask  # a pixel painted both ways: the later tool cannot be known; keep "add"
    painted = add_mask | remove_mask
    if not painted.any():
        return alpha.astype(np.float32)
    side = min(h, w)
    # The band the fix may change: around the strokes, wide enough to reach the object's edge.
    reach = max(4, round(0.06 * side))
    band = cv2.dilate(painted.astype(np.uint8), _disk(reach)).astype(bool)
    ys, xs = np.nonzero(band)
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    crop = (slice(y0, y1), slice(x0, x1))
    hard = _grabcut_band(photo[crop], alpha[crop] > 0.5, add_mask[crop], remove_mask[crop], band[crop], MAX_RIM * side)
    # Soft edges along the photo's edges, only inside the band.
    guide = photo[crop].astype(np.float32) / 255.0
    soft = np.clip(guided_filter(guide, hard.astype(np.float32), max(1, round(side / 200)), 1e-3), 0.0, 1.0)
    max_rim = MAX_RIM * side
    soft[_core(add_mask[crop], max_rim)] = 1.0
    soft[_core(remove_mask[crop], max_rim)] = 0.0
    result = alpha.astype(np.float32).copy()
    region = result[crop]
    inside = band[crop]
    region[inside] = soft[inside]
    region[region < 0.01], region[region > 0.99] = 0.0, 1.0
    return result


def _grabcut_band(photo: np.ndarray, solid: np.ndarray, add: np.ndarray, remove: np.ndarray, band: np.ndarray,
                  max_rim: float) -> np.ndarray:
    """Hard product mask for a crop: fixed outside `band`, decided by GrabCut inside it."""
    h, w = solid.shape
    scale = min(1.0, GRABCUT_SIDE / max(h, w))
    size = (max(1, round(w * scale)), max(1, round(h * scale)))

    def small(mask: np.ndarray) -> np.ndarray:
        if scale == 1.0:
            return mask
        return cv2.resize(mask.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST).astype(bool)

    s_solid, s_add, s_remove, s_band = small(solid), small(add), small(remove), small(band)
    # Stroke cores are certain; the stroke rims are only probable, so a spill over an edge can go.
    gc = np.where(s_solid, cv2.GC_PR_FGD, cv2.GC_PR_BGD).astype(np.uint8)
    gc[s_add] = cv2.GC_PR_FGD
    gc[s_remove] = cv2.GC_PR_BGD
    gc[~s_band & s_solid] = cv2.GC_FGD
    gc[~s_band & ~s_solid] = cv2.GC_BGD
    gc[_core(s_add, max_rim * scale)] = cv2.GC_FGD
    gc[_core(s_remove, max_rim * scale)] = cv2.GC_BGD
    has_fg = ((gc == cv2.GC_FGD) | (gc == cv2.GC_PR_FGD)).any()
    has_bg = ((gc == cv2.GC_BGD) | (gc == cv2.GC_PR_BGD)).any()
    if has_fg and has_bg and min(size) >= 2:
        image = cv2.resize(photo, size, interpolation=cv2.INTER_AREA) if scale < 1.0 else photo
        bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
        cv2.setRNGSeed(0)  # GrabCut's k-means start: the same strokes give the same result
        cv2.grabCut(cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2BGR), gc, None, bgd, fgd, 4,
                    cv2.GC_INIT_WITH_MASK)
    decided = (gc == cv2.GC_FGD) | (gc == cv2.GC_PR_FGD)
    if scale < 1.0:
        decided = cv2.resize(decided.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR) >= 0.5
    return np.where(band, decided, solid)
