"""The tap-to-select panel's pieces: the overlay with the taps, the hand-off to the brush layer,
and a selection run through the Studio with the panel's taps."""

from __future__ import annotations

import numpy as np
import pytest

from editor.errors import InputError
from editor.studio import Studio, StudioConfig
from tests.editor.select.conftest import cup_on_table, iou
from ui.imaging import mask_from_layers
from ui.select_panel import SelectState, mask_layer, run_selection, with_taps


@pytest.fixture(scope="module")
def studio(tmp_path_factory):
    return Studio(StudioConfig(output_dir=tmp_path_factory.mktemp("out")))


def test_the_mask_handed_to_the_brush_layer_reads_back_as_the_same_mask():
    photo, cup = cup_on_table(120, 160)
    layer = mask_layer(cup.astype(np.float32))
    np.testing.assert_array_equal(mask_from_layers([layer], (160, 120)), cup.astype(np.float32))


def test_the_overlay_marks_this_and_not_this_taps_in_their_colours():
    photo, cup = cup_on_table(120, 160)
    shown = np.asarray(with_taps(photo, cup.astype(np.float32), [(72, 60, True), (10, 10, False)]))
    assert shown.shape == photo.shape
    green, red = shown[60, 72], shown[10, 10]
    assert green[1] > 150 and green[0] < 100 and red[0] > 200 and red[1] < 100


def test_taps_select_undo_and_invert_through_the_studio(studio):
    photo, cup = cup_on_table()
    state = SelectState(photo, [(290.0, 250.0, True)])
    line = run_selection(studio, "tab-1", state, 0, 0, False)
    assert iou(state.mask, cup) >= 0.95 and "%" in line
    run_selection(studio, "tab-1", state, 0, 0, True)
    assert iou(state.mask, ~cup) >= 0.95
    state.taps.pop()  # undo the only tap: no selection, nothing asked of the Studio
    assert run_selection(studio, "tab-1", state, 0, 0, False) == "" and state.mask is None


def test_a_tap_the_studio_refuses_is_an_input_error(studio):
    photo, _ = cup_on_table()
    state = SelectState(photo, [(float("nan"), 3.0, True)])
    with pytest.raises(InputError):
        run_selection(studio, "tab-1", state, 0, 0, False)
