"""One tap selects the object under it; "not this" taps take a touching object out again.

Each is checked twice: with the graph cut alone (no salient-object model: how a machine without
the cut-out model selects) and with the real u2netp model (fetched by scripts/setup.sh)."""

from __future__ import annotations

import numpy as np
import pytest

from editor.select import Selector, Tap
from tests.editor.select.conftest import cup_on_table, iou, two_touching

MODELS = [None, "u2netp"]


@pytest.fixture
def selector(request, real_cutout_model):
    model = request.param
    if model is not None:
        real_cutout_model(model)
    return Selector(model=model)


@pytest.mark.parametrize("selector", MODELS, indirect=True)
def test_one_tap_inside_an_object_selects_it(selector):
    photo, cup = cup_on_table()
    selection = selector.select(photo, (Tap(290, 250),))
    assert iou(selection.mask, cup) >= 0.95
    assert selection.mask.shape == cup.shape


@pytest.mark.parametrize("selector", MODELS, indirect=True)
def test_a_tap_anywhere_on_the_object_gives_the_same_object(selector):
    photo, cup = cup_on_table()
    for x, y in ((230, 200), (360, 300), (300, 170)):
        assert iou(selector.select(photo, (Tap(x, y),)).mask, cup) >= 0.95


@pytest.mark.parametrize("selector", MODELS, indirect=True)
def test_a_negative_tap_removes_a_touching_object(selector):
    photo, left, right = two_touching()
    both = selector.select(photo, (Tap(243, 240),)).mask
    assert iou(both, left | right) >= 0.9  # one tap takes the pair: they touch and look alike
    only_left = selector.select(photo, (Tap(243, 240), Tap(397, 240, positive=False))).mask
    assert iou(only_left, left) >= 0.95
    assert (only_left > 0.5)[right].mean() < 0.02


def test_the_same_taps_give_the_same_mask():
    photo, _ = cup_on_table()
    first = Selector(model=None).select(photo, (Tap(290, 250),)).mask
    again = Selector(model=None).select(photo, (Tap(290, 250),)).mask
    np.testing.assert_array_equal(first, again)


def test_a_tap_on_the_table_leaves_the_object_out(real_cutout_model):
    real_cutout_model("u2netp")
    photo, cup = cup_on_table()
    selection = Selector(model="u2netp").select(photo, (Tap(40, 40),))
    selected = selection.mask > 0.5
    assert selection.report["method"] == "graph cut"
    assert selected[cup].mean() < 0.02
    assert selected[~cup].mean() > 0.8


# Mixed taps on two touching tins (left, right) on a table: what the owner means by them.
MIXED = {
    "both tins, not the table": ([(243, 240, True), (397, 240, True), (40, 40, False)], lambda left, right: left | right),
    "the left tin and the table, not the right tin": ([(243, 240, True), (40, 40, True), (397, 240, False)],
                                                       lambda left, right: ~right),
    "the left tin alone": ([(243, 240, True), (397, 240, False), (40, 40, False)], lambda left, right: left),
}


@pytest.mark.parametrize("selector", MODELS, indirect=True)
@pytest.mark.parametrize("meant", list(MIXED))
def test_mixed_taps_give_what_they_point_at(selector, meant):
    photo, left, right = two_touching()
    taps, region = MIXED[meant]
    selection = selector.select(photo, tuple(Tap(x, y, positive) for x, y, positive in taps))
    assert iou(selection.mask, region(left, right)) >= 0.9, selection.report


@pytest.mark.parametrize("selector", MODELS, indirect=True)
def test_this_and_not_this_on_the_same_table_split_it_and_keep_the_cup(selector):
    """The cup, the table's far corner ("this") and its near corner ("not this"): the cup whole, the
    table around the "this" tap in, around the "not this" tap out."""
    photo, cup = cup_on_table()
    taps = (Tap(290, 250), Tap(600, 40), Tap(600, 440, positive=False))
    selected = selector.select(photo, taps).mask > 0.5
    assert selected[cup].mean() > 0.95
    assert selected[10:80, 540:630].mean() > 0.95
    assert selected[400:470, 540:630].mean() < 0.05
