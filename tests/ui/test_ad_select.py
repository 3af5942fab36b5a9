"""Tapping the product when the cut-out doubts itself: the selection becomes the brush editor's
strokes, and the Ad tab's own fix path turns them into the corrected cut-out."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from editor.ad import correct_alpha
from editor.ad.cutout import CutOut
from editor.digests import array_digest
from editor.errors import InputError
from editor.studio import Studio, StudioConfig
from tests.editor.select.conftest import cup_on_table, ellipse, iou
from ui.ad_select import fix_strokes, fix_value, product_picture, use_as_product
from ui.app_state import ClientState
from ui.imaging import strokes_by_colour
from ui.select_panel import SelectState, run_selection


@pytest.fixture(scope="module")
def studio(tmp_path_factory):
    return Studio(StudioConfig(output_dir=tmp_path_factory.mktemp("out")))


def doubtful_cut(photo: np.ndarray, cup: np.ndarray) -> CutOut:
    """A cut-out that missed the cup's left third and kept a shadow blob beside it."""
    h, w = cup.shape
    alpha = cup.copy()
    alpha[:, : int(w * 0.38)] = False
    alpha |= ellipse(h, w, w * 0.75, h * 0.75, w * 0.08, h * 0.08)
    alpha = alpha.astype(np.float32)
    return CutOut(np.dstack([photo, (alpha * 255).astype(np.uint8)]), alpha, "u2netp")


def test_the_strokes_are_where_the_selection_and_the_cut_out_disagree():
    photo, cup = cup_on_table(240, 320)
    cut = doubtful_cut(photo, cup)
    add, remove = fix_strokes(cup.astype(np.float32), cut.alpha)
    assert iou(add, cup & (cut.alpha < 0.5)) > 0.9  # the missed third
    assert iou(remove, (cut.alpha >= 0.5) & ~cup) > 0.9  # the shadow
    # a one-pixel disagreement along an edge both found is no fix
    shifted = np.roll(cut.alpha, 1, axis=1)
    add, remove = fix_strokes(shifted, cut.alpha)
    assert not add.any() and not remove.any()


def test_the_fix_path_turns_the_strokes_into_the_selected_product():
    photo, cup = cup_on_table(240, 320)
    cut = doubtful_cut(photo, cup)
    assert iou(cut.alpha, cup) < 0.7
    value = fix_value(photo, cut.alpha, cup.astype(np.float32))
    assert value["background"].size == value["layers"][0].size == (320, 240)
    # what the preview and the build do with the editor's value
    add, remove = strokes_by_colour(value["layers"], (320, 240))
    fixed = correct_alpha(cut, photo, add=add, remove=remove)
    assert iou(fixed.alpha, cup) >= 0.9


def test_tapping_the_product_fixes_the_cut_out_through_the_studio(studio):
    photo, cup = cup_on_table(240, 320)
    client = ClientState(cut=doubtful_cut(photo, cup), product_key=array_digest(photo))  # as the cut-out sets them
    product = Image.fromarray(photo)
    picture = product_picture(client, product)
    np.testing.assert_array_equal(picture, photo)
    state = SelectState(picture, taps=[(0.45 * 320, 0.5 * 240, True)])
    run_selection(studio, None, state, 0, 0, False)
    assert iou(state.mask, cup) >= 0.9
    value, preview = use_as_product(state, client, product)
    add, remove = strokes_by_colour(value["layers"], product.size)
    assert iou(correct_alpha(client.cut, photo, add=add, remove=remove).alpha, cup) >= 0.9
    assert preview.size == product.size


def test_a_big_photo_is_selected_at_the_cut_outs_size():
    photo, cup = cup_on_table(240, 320)
    small = np.asarray(Image.fromarray(photo).resize((160, 120)))
    client = ClientState(cut=doubtful_cut(small, np.asarray(Image.fromarray(cup).resize((160, 120)))))
    assert product_picture(client, Image.fromarray(photo)).shape == (120, 160, 3)


def test_without_a_cut_out_or_after_another_photo_the_owner_gets_one_line():
    photo, cup = cup_on_table(240, 320)
    with pytest.raises(InputError) as refused:
        product_picture(ClientState(), Image.fromarray(photo))
    assert refused.value.key == "select_cut_first" and "\n" not in str(refused.value)
    assert product_picture(ClientState(), None) is None  # no photo: the panel says to upload one
    client = ClientState(cut=doubtful_cut(photo, cup))
    state = SelectState(photo, taps=[(144.0, 120.0, True)], mask=cup.astype(np.float32))
    other = Image.fromarray(np.ascontiguousarray(photo[::-1]))
    with pytest.raises(InputError) as changed:
        use_as_product(state, client, other)
    assert changed.value.key == "select_photo_changed" and "\n" not in str(changed.value)
