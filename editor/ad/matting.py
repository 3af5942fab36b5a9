"""Offline cut-out with no model weights: the last fallback when no cut-out model is here.

1. Border colour model: the picture's border is assumed to be background; a smooth quadratic
   surface (per Lab channel, robustly fitted) models plain and gradient backdrops, and the
   border's residual spread sets how different a pixel must be to count as product.
   When that spread is large (a product on a wooden table, not on a studio backdrop) or finds
   nothing, seeds come from a scene saliency map instead: how unlike every border colour cluster
   a pixel is, weighted by spectral-residual saliency and a centre prior. That result is a guess
   and is flagged `unsure`, so the plausibility check asks the user to look.
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

from editor.ad.saliency import spectral_residual
from editor.errors import InputError

WORK_SIDE = 512  # seeds and GrabCut run at this size; matting runs at full size on a thin band
SCENE_SIDE = 320  # the saliency seeds for busy scenes need less detail
STUDIO_NOISE = 12.0  # border spread (Lab units) above which the backdrop is a scene, not a studio sweep
BORDER_CLUSTERS = 8


@dataclass(frozen=True)
class MattingResult:
    alpha: np.ndarray  # float32 H×W in [0, 1]
    foreground: np.ndarray  # uint8 H×W×3, decontaminated in the soft band, original where opaque
    notes: tuple[str, ...] = ()
    unsure: bool = False  # the product was guessed from saliency: the user should check it


def _lab(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)


def _design(xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    return np.stack([np.ones_like(xs), xs, ys, xs * xs, xs * ys, ys * ys], axis=1)


def fit_border_background(lab: np.ndarray, band: int) -> tuple[np.ndarray, float]:
    """Quadratic backdrop surface fitted to the border band, and the border's robust noise scale."""
    h, w, _ = lab.shape
    yy, xx = np.nonzero(_border((h, w), band))
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


def _reduced(rgb: np.ndarray, side: int) -> np.ndarray:
    h, w, _ = rgb.shape
    scale = min(1.0, side / max(h, w))
    return cv2.resize(rgb, (max(8, round(w * scale)), max(8, round(h * scale))), interpolation=cv2.INTER_AREA) if scale < 1 else rgb


def _to_size(hard: np.ndarray, h: int, w: int) -> np.ndarray:
    if hard.shape == (h, w):
        return hard
    return cv2.resize(hard.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR) >= 0.5


def _border(shape: tuple[int, int], band: int) -> np.ndarray:
    border = np.zeros(shape, bool)
    border[:band], border[-band:], border[:, :band], border[:, -band:] = True, True, True, True
    return border


def _grabcut(small: np.ndarray, gc: np.ndarray, iterations: int = 5) -> np.ndarray:
    """GrabCut from a seed mask (changed in place); True where the result is product."""
    if (gc == cv2.GC_FGD).any() and ((gc == cv2.GC_BGD) | (gc == cv2.GC_PR_BGD)).any():
        bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
        cv2.setRNGSeed(0)  # GrabCut's GMM initialisation uses k-means: make it repeatable
        cv2.grabCut(cv2.cvtColor(small, cv2.COLOR_RGB2BGR), gc, None, bgd, fgd, iterations, cv2.GC_INIT_WITH_MASK)
    return (gc == cv2.GC_FGD) | (gc == cv2.GC_PR_FGD)


def segment(rgb: np.ndarray) -> tuple[np.ndarray, list[str], bool]:
    """Hard product mask (bool H×W) at the image's size, notes, and whether it is only a guess:
    border model seeds + GrabCut on studio backdrops, saliency seeds + GrabCut on scenes."""
    h, w, _ = rgb.shape
    small = _reduced(rgb, WORK_SIDE)
    sh, sw, _ = small.shape
    band = max(2, round(0.03 * min(sh, sw)))
    lab = _lab(cv2.GaussianBlur(small, (3, 3), 0))
    backdrop, noise = fit_border_background(lab, band)
    distance = np.linalg.norm(lab - backdrop, axis=2)
    hi, lo = max(3.0 * noise, 10.0), max(1.5 * noise, 5.0)
    seeds = distance > hi
    seeds = cv2.morphologyEx(seeds.astype(np.uint8), cv2.MORPH_OPEN, _disk(1)).astype(bool)
    seeds = _keep_large_components(seeds, 0.02)
    if noise > STUDIO_NOISE or seeds.sum() < 0.002 * sh * sw:
        # Not a studio backdrop, or nothing stands out from it: find the subject by saliency.
        return _to_size(segment_scene(rgb), h, w), ["the photo has a busy background; the product was guessed"], True
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
    gc[_border((sh, sw), 1) & ~seeds] = cv2.GC_BGD  # the outermost pixel ring is backdrop unless clearly product
    hard = _grabcut(small, gc)
    hard = cv2.morphologyEx(hard.astype(np.uint8), cv2.MORPH_OPEN, _disk(1)).astype(bool)
    hard = _keep_large_components(hard, 0.02)
    holes = ndimage.binary_fill_holes(hard) & ~hard
    hard |= _small_regions(holes, 0.0005 * sh * sw)  # pin-holes only; a mug handle's opening stays open
    return _to_size(hard, h, w), notes, False


def scene_saliency(small: np.ndarray) -> np.ndarray:
    """How likely each pixel is the subject of a busy photo, [0, 1], at `small`'s size.

    Unlikeness to the border: the border band's colours are clustered (k-means in Lab) and each
    pixel's distance to the nearest cluster is measured in that cluster's own spread, so a
    wood-grain table counts as one varied background, not as many "different" pixels. That is
    weighted by spectral-residual saliency (where the eye goes) and a centre prior (products
    are framed near the middle).
    """
    sh, sw, _ = small.shape
    lab = _lab(cv2.GaussianBlur(small, (5, 5), 0))
    border = _border((sh, sw), max(2, round(0.04 * min(sh, sw))))
    samples = lab[border].reshape(-1, 3).astype(np.float32)
    cv2.setRNGSeed(0)
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 20, 0.5)
    _, labels, centres = cv2.kmeans(samples, BORDER_CLUSTERS, None, criteria, 3, cv2.KMEANS_PP_CENTERS)
    labels = labels.ravel()
    pixels = lab.reshape(-1, 3)
    distances = []
    for k in range(BORDER_CLUSTERS):
        members = samples[labels == k]
        if len(members) < 0.02 * len(samples):
            continue  # a few stray border pixels (the product touching the edge) are no backdrop
        spread = float(np.sqrt(((members - centres[k]) ** 2).sum(axis=1).mean()))
        distances.append(np.linalg.norm(pixels - centres[k], axis=1) / (spread + 3.0))
    unlike = np.min(distances, axis=0).reshape(sh, sw)
    unlike = np.clip(unlike / max(float(np.percentile(unlike, 99)), 1e-6), 0.0, 1.0)
    yy, xx = np.mgrid[0:sh, 0:sw]
    centre = np.exp(-(((xx - sw / 2) / (0.35 * sw)) ** 2 + ((yy - sh / 2) / (0.35 * sh)) ** 2) / 2)
    score = unlike * (0.6 + 0.4 * spectral_residual(small)) * (0.4 + 0.6 * centre)
    score = cv2.GaussianBlur(score.astype(np.float32), (0, 0), 2)
    return score / max(float(score.max()), 1e-6)


def segment_scene(rgb: np.ndarray) -> np.ndarray:
    """Hard subject mask at a reduced size for a photo without a studio backdrop: saliency seeds
    settled by GrabCut. The score is split where it separates best (Otsu's threshold): the
    strongest region above it is certain (with any other region at least 30 % as strong), the
    rest above half of it probable, well below it and the border background."""
    small = _reduced(rgb, SCENE_SIDE)
    sh, sw, _ = small.shape
    score = scene_saliency(small)
    split, _ = cv2.threshold(np.round(score * 255).astype(np.uint8), 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    split = max(float(split) / 255.0, 1e-3)
    gc = np.full((sh, sw), cv2.GC_PR_BGD, np.uint8)
    gc[score > 0.5 * split] = cv2.GC_PR_FGD
    gc[score < min(0.5 * split, float(np.median(score)))] = cv2.GC_BGD
    labels, count = ndimage.label(score > split)
    strength = np.asarray(ndimage.sum(score, labels, index=np.arange(1, count + 1))) if count else np.zeros(0)
    certain = np.concatenate([[False], strength >= 0.3 * strength.max()])[labels] if count else np.zeros((sh, sw), bool)
    gc[_border((sh, sw), max(2, round(0.04 * min(sh, sw)))) & ~certain] = cv2.GC_BGD
    gc[certain] = cv2.GC_FGD
    hard = _keep_large_components(_grabcut(small, gc), 0.2)
    return ndimage.binary_fill_holes(hard)


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
        raise InputError("The offline cut-out needs an RGB picture of at least 16×16 pixels.", key="cutout_too_small",
                         field="image")
    hard, notes, unsure = segment(rgb)
    if not hard.any():
        return MattingResult(np.zeros(rgb.shape[:2], np.float32), rgb.copy(), tuple(notes), unsure)
    alpha, foreground = matte(rgb, hard)
    return MattingResult(alpha, foreground, tuple(notes), unsure)
