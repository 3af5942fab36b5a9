"""Grow, shrink, feather and invert, in the photo's pixels, from the selection's signed distance."""

from __future__ import annotations

import numpy as np

from editor.select.adjust import Adjustments, apply, signed_distance
from tests.editor.select.conftest import ellipse


def disc(radius: float, size: int = 201) -> np.ndarray:
    return ellipse(size, size, size // 2, size // 2, radius, radius)


def test_the_signed_distance_is_half_a_pixel_on_either_side_of_the_edge():
    hard = np.zeros((5, 10), bool)
    hard[:, :4] = True
    d = signed_distance(hard)
    assert d[2, 3] == 0.5 and d[2, 4] == -0.5 and d[2, 0] == 3.5 and d[2, 9] == -5.5


def test_unadjusted_the_mask_is_the_selection():
    hard = disc(40)
    np.testing.assert_array_equal(apply(signed_distance(hard), Adjustments()), hard.astype(np.float32))


def test_grow_and_shrink_move_the_edge_by_that_many_pixels():
    d = signed_distance(disc(40))
    grown = apply(d, Adjustments(grow_px=10)) > 0.5
    shrunk = apply(d, Adjustments(grow_px=-10)) > 0.5
    assert abs(np.sqrt(grown.sum() / np.pi) - 50) < 1.0
    assert abs(np.sqrt(shrunk.sum() / np.pi) - 30) < 1.0
    assert (grown >= disc(40)).all() and (shrunk <= disc(40)).all()


def test_feather_ramps_across_the_edge_only():
    hard = disc(40)
    d = signed_distance(hard)
    soft = apply(d, Adjustments(feather_px=8))
    partial = (soft > 0) & (soft < 1)
    assert partial.any()
    assert np.abs(d[partial]).max() <= 4.0  # the ramp is 8 px wide, centred on the edge
    assert (soft[d > 4] == 1).all() and (soft[d < -4] == 0).all()


def test_invert_selects_the_rest():
    d = signed_distance(disc(40))
    for adjust in (Adjustments(), Adjustments(grow_px=5, feather_px=6)):
        inverted = apply(d, Adjustments(adjust.grow_px, adjust.feather_px, invert=True))
        np.testing.assert_allclose(inverted, 1.0 - apply(d, adjust), atol=1e-6)


def test_an_empty_or_full_selection_stays_so_whatever_the_adjustment():
    empty, full = np.zeros((20, 20), bool), np.ones((20, 20), bool)
    assert apply(signed_distance(empty), Adjustments(grow_px=50)).max() == 0
    assert apply(signed_distance(full), Adjustments(grow_px=-50)).min() == 1
