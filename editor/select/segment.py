"""Finding the tapped object on the work copy.

Two sources of "what is an object here", used together:

1. The salient-object model (rembg's U²-Net, the cut-out's own model, `editor.ad.cutout`): where
   a tap lands on an object it found, that object is the answer, with the model's own edge. It
   is trained on real photos, so a cup, a cat or a person comes out whole from one tap.
2. Where the tap is elsewhere (a table top, a wall, a second object the model did not pick) or a
   "not this" tap must split what the model joined: a graph cut (OpenCV's GrabCut) seeded from
   the SLIC superpixels under the taps. The region a tap probably means grows from its
   superpixel to the neighbours reachable without crossing a strong colour change (a geodesic
   distance over the superpixel graph); far-off superpixels, "not this" taps and objects the tap
   did not touch seed the background. GrabCut then decides the pixels in between from colour
   models and image edges.

The graph cut runs on a copy at most SEG_SIDE pixels on its longer side; its edge is then
refined on the work copy with a guided filter (the cut-out's brush refinement,
`editor.ad.refine.guided_filter`), so it follows the photo's edges at the work copy's resolution.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from scipy import ndimage
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import dijkstra

from editor.ad.refine import guided_filter

SEG_SIDE = 640  # the graph cut's copy, longer side
SUPERPIXELS = 500  # SLIC regions on that copy
SALIENT = 0.5  # the model's alpha above this is the object
MAX_OBJECT_SHARE = 0.85  # a "salient object" over more of the photo is the whole scene, not an object
TAP_RADIUS = 0.012  # a tap surely means a disc this share of the shorter side around it
NEAR = 14.0  # geodesic colour distance (CIELAB ΔE summed along the way) within which a tap probably means it
FAR = 40.0  # ... and beyond which surely not
SAME_SURFACE = 3.0  # a "this" and a "not this" tap this close (geodesically) are on one surface
TEXTURE = 6.0  # colour steps up to this ΔE between neighbours are texture (wood grain, weave): free
STEP_COST = 0.25  # every superpixel crossed adds this: distance alone also separates, a little
GRABCUT_ROUNDS = 4


@dataclass(frozen=True)
class Scene:
    """What the selection needs to know about one photo, computed once per photo (cached)."""

    work_rgb: np.ndarray  # the work copy, uint8 h×w×3
    small: np.ndarray  # the graph cut's copy, uint8
    salient: np.ndarray | None  # the model's alpha on the work copy, float32 [0, 1]; None: no model
    objects: np.ndarray | None  # int32 labels of the salient objects on the work copy (0: none)
    superpixels: np.ndarray  # int32 labels on the small copy
    graph: object  # scipy csr matrix: superpixel adjacency weighted by colour distance

    @property
    def small_scale(self) -> float:
        return self.small.shape[1] / self.work_rgb.shape[1]


def _lab(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)


def _superpixel_graph(lab: np.ndarray, labels: np.ndarray):
    """Adjacent superpixels joined by the CIELAB distance of their mean colours beyond TEXTURE
    (+ STEP_COST)."""
    n = int(labels.max()) + 1
    counts = np.bincount(labels.ravel(), minlength=n).astype(np.float64)
    means = np.stack([np.bincount(labels.ravel(), lab[..., c].ravel(), minlength=n) for c in range(3)], 1)
    means /= np.maximum(counts, 1)[:, None]
    pairs = np.concatenate([np.stack([labels[:, :-1].ravel(), labels[:, 1:].ravel()], 1),
                            np.stack([labels[:-1, :].ravel(), labels[1:, :].ravel()], 1)])
    pairs = pairs[pairs[:, 0] != pairs[:, 1]]
    pairs = np.unique(np.sort(pairs, axis=1), axis=0)
    step = np.linalg.norm(means[pairs[:, 0]] - means[pairs[:, 1]], axis=1)
    weights = np.maximum(step - TEXTURE, 0.0) + STEP_COST
    return coo_matrix((weights, (pairs[:, 0], pairs[:, 1])), shape=(n, n)).tocsr()


def analyse(work_rgb: np.ndarray, salient: np.ndarray | None) -> Scene:
    """The scene of a work copy: its small copy, superpixels and graph, and the salient objects."""
    from skimage.segmentation import slic

    h, w = work_rgb.shape[:2]
    scale = min(1.0, SEG_SIDE / max(h, w))
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    small = cv2.resize(work_rgb, size, interpolation=cv2.INTER_AREA) if scale < 1.0 else work_rgb.copy()
    lab = _lab(small)
    # SLIC converts to CIELAB itself (given Lab, it would rescale it to [0, 1] first and lose the
    # colour distances that make superpixels follow edges).
    superpixels = slic(small, n_segments=SUPERPIXELS, compactness=10, start_label=0, channel_axis=-1,
                       enforce_connectivity=True).astype(np.int32)
    objects = None
    if salient is not None:
        objects, _count = ndimage.label(salient > SALIENT)
        objects = objects.astype(np.int32)
    return Scene(work_rgb, small, salient, objects, superpixels, _superpixel_graph(lab, superpixels))


def _disc(shape: tuple[int, int], x: float, y: float, radius: float) -> np.ndarray:
    yy, xx = np.ogrid[: shape[0], : shape[1]]
    return (xx - x) ** 2 + (yy - y) ** 2 <= max(radius, 1.0) ** 2


def _object_at(objects: np.ndarray, x: float, y: float, radius: float) -> int:
    """The salient object under a tap (0: none): the one most of the tap's disc covers."""
    h, w = objects.shape
    xi, yi = min(max(int(round(x)), 0), w - 1), min(max(int(round(y)), 0), h - 1)
    if objects[yi, xi]:
        return int(objects[yi, xi])
    r = int(np.ceil(radius))
    y0, y1, x0, x1 = max(yi - r, 0), min(yi + r + 1, h), max(xi - r, 0), min(xi + r + 1, w)
    window = objects[y0:y1, x0:x1][_disc((y1 - y0, x1 - x0), x - x0, y - y0, radius)]
    window = window[window > 0]
    return int(np.bincount(window).argmax()) if window.size else 0


def segment(scene: Scene, taps: list[tuple[float, float, bool]]) -> tuple[np.ndarray, str]:
    """The tapped object on the work copy (bool h×w) and how it was found ("salient object",
    "graph cut", or both). taps: (x, y, positive) in work-copy pixels.

    A salient object under a "this" tap and under no "not this" tap is taken whole, with the
    model's edge; the other "this" taps (on a table, a wall, or an object a "not this" tap splits)
    go to the graph cut, in which the whole objects are background (their colours would muddle
    its model of what was meant); the answer is both together."""
    h, w = scene.work_rgb.shape[:2]
    radius = TAP_RADIUS * min(h, w)
    positives = [(x, y) for x, y, p in taps if p]
    negatives = [(x, y) for x, y, p in taps if not p]
    whole: set[int] = set()  # objects taken as the model found them
    split: set[int] = set()  # objects under both kinds of tap: the graph cut divides them
    outside: list[tuple[float, float]] = []  # the "this" taps the graph cut answers
    if scene.objects is not None:
        refused = {_object_at(scene.objects, x, y, radius) for x, y in negatives} - {0}
        for x, y in positives:
            label = _object_at(scene.objects, x, y, radius)
            if label and label not in refused:
                whole.add(label)
            else:
                outside.append((x, y))
                if label:
                    split.add(label)
        if np.isin(scene.objects, list(whole | split)).mean() > MAX_OBJECT_SHARE:
            whole, split, outside = set(), set(), positives  # the model found no object, only the scene
    else:
        outside = positives
    chosen = np.isin(scene.objects, list(whole)) if whole else None
    if not outside:
        return _keep_tapped(chosen, positives), "salient object"
    hard = _refine(scene, _graph_cut(scene, outside, negatives, split), outside)
    if chosen is None:
        return hard, "graph cut"
    return _keep_tapped(hard | chosen, positives), "salient object + graph cut"


def _graph_cut(scene: Scene, positives, negatives, hit: set[int]) -> np.ndarray:
    """GrabCut on the small copy, seeded from the taps, their superpixels and the salient objects
    (`hit`: objects under these taps, probably meant; every other object surely not)."""
    s = scene.small_scale
    small_h, small_w = scene.small.shape[:2]
    labels = scene.superpixels
    radius = TAP_RADIUS * min(small_h, small_w)

    def at(x, y):
        xs, ys = (x + 0.5) * s - 0.5, (y + 0.5) * s - 0.5
        return xs, ys, labels[min(max(int(round(ys)), 0), small_h - 1), min(max(int(round(xs)), 0), small_w - 1)]

    pos = [at(x, y) for x, y in positives]
    neg = [at(x, y) for x, y in negatives]
    pos_sp = sorted({int(p[2]) for p in pos})
    neg_sp = sorted({int(n[2]) for n in neg} - set(pos_sp))
    near = dijkstra(scene.graph, directed=False, indices=pos_sp, min_only=True)
    probable = near[labels] <= NEAR
    possible = near[labels] <= FAR
    salient_small = None
    if scene.objects is not None:
        objects_small = cv2.resize(scene.objects, (small_w, small_h), interpolation=cv2.INTER_NEAREST)
        salient_small = objects_small > 0
        if hit:
            tapped = np.isin(objects_small, list(hit))
            probable |= tapped
            possible |= cv2.dilate(tapped.astype(np.uint8), _kernel(0.05 * min(small_h, small_w))).astype(bool)
        # Objects the taps did not touch are not what was meant (a tap on the table leaves the cup).
        untouched = salient_small & ~np.isin(objects_small, list(hit))
        untouched = cv2.erode(untouched.astype(np.uint8), _kernel(radius)).astype(bool)
    else:
        untouched = np.zeros((small_h, small_w), bool)
    refused = np.zeros((small_h, small_w), bool)
    contested = False
    if neg_sp:
        # What is nearer (geodesically) to a "not this" tap than to every "this" tap is not meant;
        # near the "not this" tap, surely not.
        away = dijkstra(scene.graph, directed=False, indices=neg_sp, min_only=True)
        closer = (away < near)[labels]
        probable &= ~closer
        refused = closer & (away[labels] <= NEAR / 2)
        # A "not this" tap on the very surface a "this" tap means (one table, both tapped): colours
        # cannot divide it, and GrabCut would shrink the answer to the tap, so the division is
        # where the two taps' regions meet, each side certain but for a band GrabCut decides.
        contested = bool((near[neg_sp] <= SAME_SURFACE).any())
        if contested:
            band = _kernel(2 * radius)
            refused |= cv2.erode((closer & possible).astype(np.uint8), band).astype(bool)
    gc = np.full((small_h, small_w), cv2.GC_PR_BGD, np.uint8)
    gc[probable] = cv2.GC_PR_FGD
    if contested:
        gc[cv2.erode(probable.astype(np.uint8), band).astype(bool)] = cv2.GC_FGD
    gc[~possible | untouched | refused] = cv2.GC_BGD
    for xs, ys, _ in neg:
        gc[_disc((small_h, small_w), xs, ys, radius)] = cv2.GC_BGD
    for xs, ys, sp in pos:
        core = _disc((small_h, small_w), xs, ys, radius) | (_disc((small_h, small_w), xs, ys, 3 * radius) & (labels == sp))
        gc[core] = cv2.GC_FGD
    _grabcut_where_unsure(scene.small, gc, pad=round(8 * radius))
    hard = (gc == cv2.GC_FGD) | (gc == cv2.GC_PR_FGD)
    return _keep_tapped(hard, [(p[0], p[1]) for p in pos])


def _grabcut_where_unsure(small: np.ndarray, gc: np.ndarray, pad: int) -> None:
    """GrabCut (in place) on the box around the pixels still undecided, `pad` pixels wider for
    its colour models; nothing to do when no pixel is probably background (GrabCut could only take
    away from what the taps mean). The box makes a tap on a small object cost a small graph."""
    if not (gc == cv2.GC_PR_BGD).any():
        return
    ys, xs = np.nonzero((gc == cv2.GC_PR_BGD) | (gc == cv2.GC_PR_FGD))
    h, w = gc.shape
    box = (slice(max(ys.min() - pad, 0), min(ys.max() + pad + 1, h)),
           slice(max(xs.min() - pad, 0), min(xs.max() + pad + 1, w)))
    part = np.ascontiguousarray(gc[box])
    if not (part == cv2.GC_FGD).any() and not (part == cv2.GC_PR_FGD).any():
        return
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    cv2.setRNGSeed(0)  # GrabCut's k-means start: the same taps give the same mask
    cv2.grabCut(cv2.cvtColor(np.ascontiguousarray(small[box]), cv2.COLOR_RGB2BGR), part, None, bgd, fgd,
                GRABCUT_ROUNDS, cv2.GC_INIT_WITH_MASK)
    gc[box] = part


def _kernel(radius: float) -> np.ndarray:
    r = max(1, int(round(radius)))
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))


def _keep_tapped(hard: np.ndarray, positives) -> np.ndarray:
    """Only the connected pieces under a positive tap, their small holes filled (a speck of glare
    inside a cup is part of the cup)."""
    labels, count = ndimage.label(hard)
    if count == 0:
        return hard
    h, w = hard.shape
    keep = {int(labels[min(max(int(round(y)), 0), h - 1), min(max(int(round(x)), 0), w - 1)]) for x, y in positives}
    keep.discard(0)
    if not keep:  # the tap's pixel itself fell out (an edge): the piece nearest to it
        _, (iy, ix) = ndimage.distance_transform_edt(labels == 0, return_indices=True)
        keep = {int(labels[iy[min(max(int(round(y)), 0), h - 1), min(max(int(round(x)), 0), w - 1)],
                           ix[min(max(int(round(y)), 0), h - 1), min(max(int(round(x)), 0), w - 1)]]) for x, y in positives}
    kept = np.isin(labels, list(keep))
    holes = ndimage.binary_fill_holes(kept) & ~kept
    hole_labels, n_holes = ndimage.label(holes)
    if n_holes:
        sizes = np.bincount(hole_labels.ravel())
        small_holes = sizes <= 0.01 * max(int(kept.sum()), 1)
        small_holes[0] = False
        kept |= small_holes[hole_labels]
    return kept


def _refine(scene: Scene, hard_small: np.ndarray, positives) -> np.ndarray:
    """The graph cut's mask on the work copy, its edge moved onto the photo's edges by a guided
    filter (in a box around the mask only: elsewhere nothing changes)."""
    h, w = scene.work_rgb.shape[:2]
    up = cv2.resize(hard_small.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
    ys, xs = np.nonzero(up > 0.01)
    if len(xs) == 0:
        return up >= 0.5
    radius = max(2, round(min(h, w) / 150))
    pad = 4 * radius
    box = (slice(max(ys.min() - pad, 0), ys.max() + pad + 1), slice(max(xs.min() - pad, 0), xs.max() + pad + 1))
    guide = scene.work_rgb[box].astype(np.float32) / 255.0
    soft = guided_filter(guide, up[box], radius, 1e-3)
    hard = np.zeros((h, w), bool)
    hard[box] = soft >= 0.5
    return _keep_tapped(hard, positives)
