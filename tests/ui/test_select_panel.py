"""The tap-to-select panel's pieces: the overlay with the taps, the hand-off to the brush layer,
and a selection run through the Studio with the panel's taps."""

from __future__ import annotations

import numpy as np
import pytest

from editor.errors import InputError
from editor.studio import Studio, StudioConfig
from tests.editor.select.conftest import cup_on_table, iou
from ui.imaging import mask_from_layers
from ui.photo import photo_and_mask
from ui.select_panel import (
    VIEW_HEIGHT,
    SelectState,
    editor_value,
    mask_layer,
    run_selection,
    shown_picture,
    tap_on_picture,
    with_taps,
)


@pytest.fixture(scope="module")
def studio(tmp_path_factory):
    return Studio(StudioConfig(output_dir=tmp_path_factory.mktemp("out")))


def test_the_mask_handed_to_the_brush_layer_reads_back_as_the_same_mask():
    photo, cup = cup_on_table(120, 160)
    layer = mask_layer(cup.astype(np.float32))
    np.testing.assert_array_equal(mask_from_layers([layer], (160, 120)), cup.astype(np.float32))


def test_use_as_mask_paints_the_selection_into_the_editor_and_the_edit_reads_it_back():
    photo, cup = cup_on_table(120, 160)
    value = editor_value(photo, cup.astype(np.float32))
    layer = value["layers"][0]
    assert layer.mode == "RGBA" and layer.size == value["background"].size == (160, 120)
    assert tuple(np.asarray(layer)[60, 72]) == (0xFF, 0x28, 0x78, 255)
    # no composite: the editor would show it as its picture, with the pink baked into the photo
    assert value["composite"] is None
    background, mask = photo_and_mask(None, value)  # what Edit does with the editor's value
    np.testing.assert_array_equal(np.asarray(background), photo)
    np.testing.assert_array_equal(mask, cup.astype(np.float32))


def test_a_small_picture_is_shown_at_the_box_height_and_taps_map_back_to_its_pixels():
    photo, _ = cup_on_table(120, 160)
    shown = shown_picture(photo, None, [])
    assert shown.size == (round(160 * VIEW_HEIGHT / 120), VIEW_HEIGHT)
    assert tap_on_picture(photo, (shown.width // 2, shown.height - 1)) == pytest.approx((80.0, 119.0), abs=0.5)
    big, _ = cup_on_table(600, 800)
    assert shown_picture(big, None, []).size == (800, 600)
    assert tap_on_picture(big, (400, 300)) == (400, 300)


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


def test_a_prepared_photo_answers_its_first_tap_without_preparing_again(studio):
    photo, cup = cup_on_table(360, 480)
    assert studio.prepare_select(photo) is True
    assert studio.prepare_select(photo) is False
    state = SelectState(photo, [(216.0, 180.0, True)])
    run_selection(studio, "tab-1", state, 0, 0, False)
    assert iou(state.mask, cup) >= 0.95


def test_a_tap_the_studio_refuses_is_an_input_error(studio):
    photo, _ = cup_on_table()
    state = SelectState(photo, [(float("nan"), 3.0, True)])
    with pytest.raises(InputError):
        run_selection(studio, "tab-1", state, 0, 0, False)


def test_taking_the_same_photo_again_keeps_the_selection_and_another_photo_starts_over():
    """Opening the panel takes the photo, and so does its button: pressed at once, the two answer side
    by side, and the later one must not wipe a tap made meanwhile."""
    photo, cup = cup_on_table(120, 160)
    state = SelectState()
    assert state.take(photo) is True
    state.taps.append((72.0, 60.0, True))
    state.mask = cup.astype(np.float32)
    taps = state.taps
    assert state.take(photo.copy()) is False  # the same pixels, taken again
    assert state.taps == [(72.0, 60.0, True)] and state.mask is not None and state.taps is taps
    other = photo.copy()
    other[0, 0] ^= 1
    state.take(other)
    assert state.picture is other and state.taps == [] and state.mask is None
    state.take(None)  # the photo removed
    assert state.picture is None
