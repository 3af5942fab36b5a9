"""Brush fixes follow the photo's edges: rough strokes as seeds, not shapes pasted into the alpha."""

from __future__ import annotations

import numpy as np
import pytest

from editor.ad.cutout import CutOut, correct_alpha
from editor.ad.plausibility import check_cutout
from editor.ad.refine import guided_filter, refine_with_strokes
from editor.ad.samples import product_shot


def solid_iou(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a > 0.5, b > 0.5
    return float((a & b).sum() / (a | b).sum())


def disc(shape, cx, cy, r):
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]]
    return ((xx - cx) ** 2 + (yy - cy) ** 2 <= r * r).astype(np.float32)


def as_cut(shot, alpha) -> CutOut:
    a8 = np.round(alpha * 255).astype(np.uint8)
    return CutOut(np.dstack([shot.rgb, a8]), alpha.astype(np.float32), "test", (), check_cutout(alpha))


@pytest.fixture(scope="module", params=["plain", "textured"])
def shot(request):
    return product_shot(request.param, 192, 192, colour=(40, 90, 160))


def test_an_add_stroke_that_spills_over_the_edge_keeps_only_the_product(shot):
    truth = shot.alpha
    damaged = truth.copy()
    damaged[100:150, 96:] = 0.0  # the right half of the bottle body was missed
    stroke = disc(truth.shape, 112, 125, 30)  # rough: covers the missed part and spills onto the backdrop
    spill = (stroke > 0.5) & (truth < 0.05)
    assert spill.sum() > 300
    fixed = correct_alpha(as_cut(shot, damaged), shot.rgb, add=stroke)
    pasted = np.maximum(damaged, stroke)
    assert solid_iou(fixed.alpha, truth) > 0.95
    assert solid_iou(fixed.alpha, truth) > solid_iou(pasted, truth) + 0.03
    assert (fixed.alpha[spill] > 0.5).mean() < 0.1  # the backdrop under the spill stays out
    assert "mask corrected by hand" in fixed.notes and fixed.verdict.plausible


def test_a_remove_stroke_that_grazes_the_product_keeps_the_product(shot):
    truth = shot.alpha
    kept_shadow = truth.copy()
    kept_shadow[165:185, 40:150] = 1.0  # a shadow under the bottle was kept
    stroke = np.zeros_like(truth)
    stroke[157:191, 30:160] = 1.0  # rough, aimed at the shadow: its rim also covers the bottle's bottom rows
    fixed = correct_alpha(as_cut(shot, kept_shadow), shot.rgb, remove=stroke)
    grazed = (stroke > 0.5) & (truth > 0.95)
    assert grazed.sum() > 200
    assert (fixed.alpha[grazed] > 0.5).mean() > 0.8  # the bottle's bottom comes back
    assert solid_iou(fixed.alpha, truth) > 0.95


def test_a_fix_changes_nothing_far_from_the_strokes(shot):
    alpha = shot.alpha.copy()
    stroke = disc(alpha.shape, 40, 40, 6)  # a dab on the backdrop, top left
    fixed = refine_with_strokes(shot.rgb, alpha, None, stroke)
    far = disc(alpha.shape, 40, 40, 40) < 0.5
    assert np.array_equal(fixed[far], alpha[far])


def test_no_strokes_change_nothing(shot):
    assert np.array_equal(refine_with_strokes(shot.rgb, shot.alpha, None, None), shot.alpha)


def test_the_painted_cores_always_win():
    shot = product_shot("plain", 128, 128)
    add = disc(shot.alpha.shape, 20, 20, 8)  # the user insists: this piece of backdrop is product
    fixed = refine_with_strokes(shot.rgb, shot.alpha, add, None)
    assert fixed[20, 20] == 1.0


def test_guided_filter_keeps_a_step_where_the_guide_has_one():
    guide = np.zeros((40, 40, 3), np.float32)
    guide[:, 20:] = 1.0
    rough = np.zeros((40, 40), np.float32)
    rough[:, 17:] = 1.0  # the mask's edge is 3 px off the photo's edge
    out = guided_filter(guide, rough, radius=4, eps=1e-4)
    assert out[:, 20:].min() > 0.99 and out[:, :9].max() < 0.01
    assert (np.diff(out, axis=1).argmax(axis=1) == 19).all()  # the sharp step is the photo's, not the mask's
