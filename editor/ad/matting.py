"""Offline cut-out for studio shots, with no model weights.

1. Border colour model: the picture's border is assumed to be background; a smooth quadratic
   surface (per Lab channel, robustly fitted) models plain and gradient backdrops, and the
   border's residual spread sets how different a pixel must be to count as product.
2. Graph-cut refinement: OpenCV GrabCut starts from those seeds and settles the boundary with
   colour models of both sides plus spatial coherence (this is what copes with textured backdrops).
3. Alpha matting: a thin unknown band around the boundary is solved with closed-form matting
   (pymatting), giving soft anti-aliased edges.
4. Edge decontamination: foreground colours in the soft band are re-estimated (pymatting's
   multi-level estimator) so the old backdrop colour does not fringe onto a new background.
   Fully opaque pixels keep their original values exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from scipy import ndimage

from editor.errors import IntactError

WORK_SIDE = 512  # seeds and GrabCut run at this size; matting runs at full size on a thin band


@dataclass(frozen=True)
class MattingResult:
    alpha: np.ndarray  # float32 H×W in [0, 1]
    foreground: np.ndarray  # uint8 H×W×3, decontaminated in the soft band, original where opaque
    notes: tuple[str, ...] = ()


def _lab(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)


def _design(xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    return np.stack([np.ones_like(xs), xs, ys, xs * xs, xs * ys, ys * ys], axis=1)


def fit_border_background(lab: np.ndarray, band: int) -> tuple[np.ndarray, float]:
    """Quadratic backdrop surface fitted to the border band, and the border's robust noise scale."""
    h, w, _ = lab.shape
    border = np.zeros((h, w), bool)
    border[:band], border[-band:], border[:, :band], border[:, -band:] = True, True, True, True
    yy, xx = np.nonzero(border)
    xs, ys = xx / max(w - 1, 1) * 2 - 1, yy / max(h - 1, 1) * 2 - 1
    design = _design(xs.astype(np.float64), ys.astype(np.float64))
    values = lab[yy, xx].astype(np.float64)
    keep = np.ones(len(values), bool)
    coef = np.zeros((design.shape[1], 3))
    for _ in range(4):  # trimmed least squares: a product touching the border is not backdrop
        coef, *_ = np.linalg.lstsq(design[keep], values[keep], rcond=None)
        resid = np.linalg.norm(values - design @ coef, axis=1)
        scale = 1.4826 * np.median(np.abs(resid[keep] - np.median(resid[keep]))) + np.median(resid[keep])
        keep = resid <= max(2.5 * scale, 1.0)
        if keep.sum() < design.shape[1] * 4:
            break
    gy, gx = np.mgrid[0:h, 0:w]
    full = _design((gx.ravel() / max(w - 1, 1) * 2 - 1), (gy.ravel() / max(h - 1, 1) * 2 - 1)) @ coef
    resid = np.linalg.norm(values - design @ coef, axis=1)
    noise = float(np.percentile(resid, 90))
    return full.reshape(h, w, 3).astype(np.float32), noise


def _filter_components(mask: np.ndarray, keep_size) -> np.ndarray:
    """The connected regions of `mask` whose pixel counts pass `keep_size(sizes) -> bool array`."""
    labels, count = ndimage.label(mask)
    if count == 0:
        return mask
    sizes = ndimage.sum(mask, labels, index=np.arange(1, count + 1))
    keep = np.zeros(count + 1, bool)
    keep[1:] = keep_size(sizes)
    return keep[labels]


def _keep_large_components(mask: np.ndarray, min_fraction: float) -> np.ndarray:
    return _filter_components(mask, lambda sizes: sizes >= max(sizes.max() * min_fraction, 1))


def _disk(radius: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))


def segment(rgb: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Hard product mask (bool H×W) at the image's size: border model seeds + GrabCut."""
    h, w, _ = rgb.shape
    scale = min(1.0, WORK_SIDE / max(h, w))
    small = cv2.resize(rgb, (max(8, round(w * scale)), max(8, round(h * scale))), interpolation=cv2.INTER_AREA) if scale < 1 else rgb
    sh, sw, _ = small.shape
    band = max(2, round(0.03 * min(sh, sw)))
    lab = _lab(cv2.GaussianBlur(small, (3, 3), 0))
    backdrop, noise = fit_border_background(lab, band)
    distance = np.linalg.norm(lab - backdrop, axis=2)
    hi, lo = max(3.0 * noise, 10.0), max(1.5 * noise, 5.0)
    seeds = distance > hi
    seeds = cv2.morphologyEx(seeds.astype(np.uint8), cv2.MORPH_OPEN, _disk(1)).astype(bool)
    seeds = _keep_large_components(seeds, 0.02)
    if seeds.sum() < 0.002 * sh * sw:
        raise IntactError(
            "The offline cut-out found no product: the subject looks like its background. "
            "Use a photo on a plain backdrop, correct the mask by hand, or use a rembg model (--remover)."
        )
    notes: list[str] = []
    if seeds[:band].mean() > 0.5 or seeds[-band:].mean() > 0.5:
        notes.append("the product seems to touch the picture's border; check the cut-out edges")
    # Whatever is enclosed by the product (a white label on a white backdrop) is probably product too.
    filled = ndimage.binary_fill_holes(cv2.morphologyEx(seeds.astype(np.uint8), cv2.MORPH_CLOSE, _disk(2)).astype(bool))
    r = max(1, round(0.01 * min(sh, sw)))
    gc = np.full((sh, sw), cv2.GC_PR_BGD, np.uint8)
    near = cv2.dilate(filled.astype(np.uint8), _disk(3 * r)).astype(bool)
    gc[(distance < lo) & ~near] = cv2.GC_BGD
    gc[filled] = cv2.GC_PR_FGD
    gc[cv2.erode(seeds.astype(np.uint8), _disk(r)).astype(bool)] = cv2.GC_FGD
    edge = np.zeros((sh, sw), bool)
    edge[0, :], edge[-1, :], edge[:, 0], edge[:, -1] = True, True, True, True
    gc[edge & ~seeds] = cv2.GC_BGD  # the outermost pixel ring is backdrop unless clearly product
    if (gc == cv2.GC_FGD).any() and ((gc == cv2.GC_BGD) | (gc == cv2.GC_PR_BGD)).any():
        bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
        cv2.setRNGSeed(0)  # GrabCut's GMM initialisation uses k-means: make it repeatable
        cv2.grabCut(cv2.cvtColor(small, cv2.COLOR_RGB2BGR), gc, None, bgd, fgd, 5, cv2.GC_INIT_WITH_MASK)
    hard = (gc == cv2.GC_FGD) | (gc == cv2.GC_PR_FGD)
    hard = cv2.morphologyEx(hard.astype(np.uint8), cv2.MORPH_OPEN, _disk(1)).astype(bool)
    hard = _keep_large_components(hard, 0.02)
    holes = ndimage.binary_fill_holes(hard) & ~hard
    hard |= _small_regions(holes, 0.0005 * sh * sw)  # pin-holes only; a mug handle's opening stays open
    if (sh, sw) != (h, w):
        up = cv2.resize(hard.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
        hard = up >= 0.5
    return hard, notes


def _small_regions(mask: np.ndarray, max_area: float) -> np.ndarray:
    return _filter_components(mask, lambda sizes: sizes <= max_area)


def trimap(hard: np.ndarray, radius: int) -> np.ndarray:
    """0 = background, 1 = foreground, 0.5 = unknown band of ±radius pixels around the edge."""
    fg = cv2.erode(hard.astype(np.uint8), _disk(radius)).astype(bool)
    maybe = cv2.dilate(hard.astype(np.uint8), _disk(radius)).astype(bool)
    tri = np.full(hard.shape, 0.5, np.float64)
    tri[fg] = 1.0
    tri[~maybe] = 0.0
    return tri


def matte(rgb: np.ndarray, hard: np.ndarray, radius: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Soft alpha and decontaminated foreground from a hard mask (closed-form matting on a band)."""
    from pymatting import estimate_alpha_cf, estimate_foreground_ml

    h, w, _ = rgb.shape
    radius = radius or max(2, round(min(h, w) / 160))
    tri = trimap(hard, radius)
    alpha = tri.copy()
    unknown = tri == 0.5
    if unknown.any() and (tri == 1).any():
        ys, xs = np.nonzero(unknown)
        pad = 3 * radius
        y0, y1, x0, x1 = max(ys.min() - pad, 0), min(ys.max() + pad + 1, h), max(xs.min() - pad, 0), min(xs.max() + pad + 1, w)
        crop = rgb[y0:y1, x0:x1].astype(np.float64) / 255.0
        sub = estimate_alpha_cf(crop, tri[y0:y1, x0:x1], laplacian_kwargs={"epsilon": 1e-6}, cg_kwargs={"maxiter": 2000})
        alpha[y0:y1, x0:x1] = np.where(unknown[y0:y1, x0:x1], sub, tri[y0:y1, x0:x1])
    alpha = np.clip(alpha, 0.0, 1.0)
    alpha[alpha < 0.01] = 0.0
    alpha[alpha > 0.99] = 1.0
    fg = estimate_foreground_ml(rgb.astype(np.float64) / 255.0, alpha)
    decont = np.clip(fg * 255.0 + 0.5, 0, 255).astype(np.uint8)
    foreground = np.where((alpha >= 1.0)[..., None], rgb, decont)  # opaque pixels stay exact
    return alpha.astype(np.float32), foreground


def offline_cutout(rgb: np.ndarray) -> MattingResult:
    if rgb.ndim != 3 or rgb.shape[2] != 3 or min(rgb.shape[:2]) < 16:
        raise IntactError("The offline cut-out needs an RGB picture of at least 16×16 pixels.")
    hard, notes = segment(rgb)
    alpha, foreground = matte(rgb, hard)
    return MattingResult(alpha, foreground, tuple(notes))
