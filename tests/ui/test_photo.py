"""A phone photo in the Edit tab: the browser paints on a screen-size copy, the Studio edits the
full-size file with the mask scaled up to it."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from editor.errors import InputError
from ui.app_state import ClientState
from ui.photo import SCREEN_SIDE, open_in_editor, photo_and_mask


@pytest.fixture
def phone_photo(tmp_path):
    path = tmp_path / "phone.jpg"
    rng = np.random.default_rng(0)
    small = rng.integers(0, 256, (300, 400, 3), dtype=np.uint8)
    Image.fromarray(small).resize((4032, 3024), Image.Resampling.NEAREST).save(path, quality=90)
    return str(path)


def painted(size, box):
    layer = np.zeros((size[1], size[0], 4), np.uint8)
    x0, y0, x1, y1 = box
    layer[y0:y1, x0:x1] = (255, 40, 120, 255)
    return Image.fromarray(layer, "RGBA")


def test_a_big_photo_opens_as_a_screen_copy_and_is_edited_from_its_full_size_file(phone_photo):
    state = ClientState()
    value = open_in_editor(state, phone_photo)
    shown = value["background"]
    assert max(shown.size) == SCREEN_SIDE and state.photo.size == (4032, 3024)
    stroke = painted(shown.size, (512, 384, 1024, 768))  # x 1/4..1/2, y 1/4..1/2 of the copy
    photo, mask = photo_and_mask(state, {"background": shown, "layers": [stroke], "composite": None})
    assert photo == phone_photo and mask.shape == (3024, 4032)
    # The stroke covers the same part of the full photo (edges scaled, nothing lost).
    assert mask[760:1510, 1010:2010].min() == 1.0  # x 1008..2016, y 756..1512 of the photo
    assert mask[:740].max() == 0 and mask[1530:].max() == 0 and mask[:, :990].max() == 0 and mask[:, 2030:].max() == 0


def test_another_picture_in_the_editor_is_edited_as_it_is(phone_photo):
    state = ClientState()
    open_in_editor(state, phone_photo)
    other = Image.fromarray(np.zeros((200, 300, 3), np.uint8))
    photo, mask = photo_and_mask(state, {"background": other, "layers": [painted((300, 200), (10, 10, 50, 50))]})
    assert isinstance(photo, Image.Image) and photo.size == (300, 200) and mask.shape == (200, 300)


def test_a_small_photo_goes_in_as_it_is_and_nothing_painted_means_no_mask(tmp_path):
    path = tmp_path / "small.png"
    Image.fromarray(np.full((90, 120, 3), 7, np.uint8)).save(path)
    state = ClientState()
    value = open_in_editor(state, str(path))
    assert state.photo.path == str(path) and value["background"].size == (120, 90)
    assert photo_and_mask(state, {"background": value["background"], "layers": []})[1] is None


def test_the_uploaded_file_is_what_the_studio_reads_so_its_notes_reach_the_report(tmp_path):
    """A CMYK JPEG opens in the editor as RGB; the edit reads the file itself, which says it was CMYK."""
    path = tmp_path / "cmyk.jpg"
    Image.new("CMYK", (120, 90), (0, 90, 200, 10)).save(path)
    state = ClientState()
    shown = open_in_editor(state, str(path))["background"]
    photo, mask = photo_and_mask(state, {"background": shown, "layers": [painted(shown.size, (10, 10, 60, 50))]})
    assert photo == str(path) and mask.shape == (90, 120) and mask[10:50, 10:60].min() == 1.0
    from editor.images import load_image

    assert any("CMYK" in note for note in load_image(photo).notes)


def test_an_oversized_file_is_refused_when_it_is_opened(tmp_path, monkeypatch):
    monkeypatch.setenv("INTACT_MAX_MEGAPIXELS", "1")
    path = tmp_path / "big.png"
    Image.new("RGB", (1500, 1000)).save(path)
    with pytest.raises(InputError):
        open_in_editor(ClientState(), str(path))


def test_an_empty_editor_gives_neither_photo_nor_mask():
    assert photo_and_mask(ClientState(), None) == (None, None)
    assert photo_and_mask(ClientState(), {"background": None, "layers": []}) == (None, None)


def test_a_pasted_picture_is_passed_with_its_pixels_unchanged_and_its_strokes_as_the_mask():
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (9, 11, 3), dtype=np.uint8)
    background = Image.fromarray(np.dstack([rgb, np.full((9, 11), 255, np.uint8)]), "RGBA")
    image, mask = photo_and_mask(ClientState(), {"background": background, "layers": [painted((11, 9), (1, 1, 3, 3))],
                                                 "composite": None})
    assert np.array_equal(np.asarray(image), rgb)
    assert mask.sum() == 4 and mask[1:3, 1:3].all()


def test_a_sixteen_bit_upload_keeps_its_brightness_in_the_editor():
    dark = Image.fromarray(np.full((8, 8), 6553, dtype=np.uint16))  # 10% grey, 16-bit
    image, _ = photo_and_mask(ClientState(), {"background": dark, "layers": []})
    assert np.asarray(image).max() in (25, 26)  # scaled by 65535, not clipped to white
