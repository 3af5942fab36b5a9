"""The work area of a big photo: a crop around the mask at about the working size, and back."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from editor.kv_edit.masks import blend_weights, mask_to_grid, paste_back
from editor.kv_edit.work_area import WORKING_PIXELS, work_area

PHONE = (3024, 4032)  # H, W of a 12 MP phone photo


def test_a_photo_within_the_working_size_is_edited_whole_at_its_own_size():
    mask = np.zeros((600, 800), np.float32)
    mask[100:200, 300:400] = 1
    area = work_area(mask)
    assert area.box == (0, 0, 800, 600) and area.size == (800, 600)
    assert area.whole_photo and not area.scaled


def test_a_small_mask_on_a_phone_photo_gets_a_working_size_crop_around_it_unscaled():
    mask = np.zeros(PHONE, np.float32)
    mask[1500:1700, 2000:2300] = 1
    area = work_area(mask)
    x0, y0, x1, y1 = area.box
    assert x0 < 2000 and y0 < 1500 and x1 > 2300 and y1 > 1700  # the mask and context around it
    assert not area.scaled and area.size == area.crop_size
    assert 0.9 * WORKING_PIXELS <= area.size[0] * area.size[1] <= WORKING_PIXELS * 1.01


def test_a_big_mask_is_cropped_with_context_and_scaled_to_about_one_megapixel_in_multiples_of_16():
    mask = np.zeros(PHONE, np.float32)
    mask[500:2500, 800:3200] = 1
    area = work_area(mask)
    x0, y0, x1, y1 = area.box
    assert (x0, y0) < (800, 500) and x1 > 3200 and y1 > 2500
    assert area.scaled and all(side % 16 == 0 for side in area.size)
    assert 0.8 * WORKING_PIXELS <= area.size[0] * area.size[1] <= 1.1 * WORKING_PIXELS
    crop_w, crop_h = area.crop_size
    assert abs(area.size[0] / area.size[1] - crop_w / crop_h) < 0.03  # the crop's shape is kept


def test_scaled_down_the_mask_keeps_every_painted_pixel():
    mask = np.zeros(PHONE, np.float32)
    mask[1000:1400, 1000:1400] = 1
    mask[2900, 3900] = 0.02  # a faint stray pixel far away: the crop must include it
    rgb = np.zeros((*PHONE, 3), np.uint8)
    area = work_area(mask)
    crop, small_mask = area.cut(rgb, mask)
    assert crop.shape[:2] == small_mask.shape == (area.size[1], area.size[0])
    x0, y0, x1, y1 = area.box
    assert x1 > 3900 and y1 > 2900
    # Every painted photo pixel lies in a working pixel that is marked.
    expected = mask_to_grid(mask[y0:y1, x0:x1], area.size[1], area.size[0])
    assert np.array_equal(small_mask > 0, expected)


@settings(max_examples=25, deadline=None)
@given(h=st.integers(40, 160), w=st.integers(40, 160), y=st.integers(0, 159), x=st.integers(0, 159),
       mh=st.integers(1, 40), mw=st.integers(1, 40), seed=st.integers(0, 2**16), budget=st.sampled_from([400, 900, 2500]))
def test_the_paste_changes_no_pixel_outside_the_mask_and_blends_as_on_the_whole_photo(h, w, y, x, mh, mw, seed, budget):
    rng = np.random.default_rng(seed)
    rgb = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    mask = np.zeros((h, w), np.float32)
    y, x = y % h, x % w
    mask[y:y + mh, x:x + mw] = rng.uniform(0.3, 1.0)
    area = work_area(mask, working_pixels=budget)
    crop, small_mask = area.cut(rgb, mask)
    generated = rng.integers(0, 256, crop.shape, dtype=np.uint8)
    out = area.paste(rgb, mask, generated, feather_px=3)
    assert out.shape == rgb.shape
    assert np.array_equal(out[mask == 0], rgb[mask == 0])  # bit for bit
    # The blend is the one the whole photo would get: the paste equals a paste on the whole photo
    # of the generated crop put in its place.
    x0, y0, x1, y1 = area.box
    placed = rgb.copy()
    placed[y0:y1, x0:x1] = np.asarray(Image.fromarray(generated).resize(area.crop_size, Image.Resampling.LANCZOS))
    assert np.array_equal(out, paste_back(rgb, placed, blend_weights(mask, 3)))


def test_an_empty_mask_on_a_big_photo_gives_a_scaled_whole_photo_area():
    area = work_area(np.zeros(PHONE, np.float32))
    assert area.whole_photo and area.scaled
