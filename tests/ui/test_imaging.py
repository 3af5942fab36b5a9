"""Brush layers → mask, cut-out brush strokes, and the mask overlay."""

from __future__ import annotations

import numpy as np
from PIL import Image

from ui.imaging import (
    checkerboard_preview,
    mask_from_layers,
    overlay_mask,
    strokes_by_colour,
)


def _layer(h, w, box, rgba):
    a = np.zeros((h, w, 4), dtype=np.uint8)
    y0, y1, x0, x1 = box
    a[y0:y1, x0:x1] = rgba
    return Image.fromarray(a, "RGBA")


def test_mask_is_the_union_of_every_layers_alpha():
    layers = [_layer(10, 12, (0, 4, 0, 4), (255, 0, 0, 255)), _layer(10, 12, (2, 6, 2, 6), (0, 0, 255, 128))]
    mask = mask_from_layers(layers, (12, 10))
    assert mask.dtype == np.float32 and mask.shape == (10, 12)
    assert mask[1, 1] == 1.0 and mask[3, 3] == 1.0  # the opaque stroke wins where they overlap
    assert np.isclose(mask[5, 5], 128 / 255)
    assert mask[8, 10] == 0.0


def test_layers_of_another_size_are_scaled_to_the_image():
    mask = mask_from_layers([_layer(5, 6, (0, 5, 0, 3), (1, 2, 3, 255))], (12, 10))
    assert mask.shape == (10, 12)
    assert mask[:, :6].all() and not mask[:, 6:].any()






def test_green_strokes_add_product_and_red_strokes_remove_it():
    green = _layer(8, 8, (0, 2, 0, 2), (34, 197, 94, 255))
    red = _layer(8, 8, (6, 8, 6, 8), (239, 68, 68, 255))
    add, remove = strokes_by_colour([green, red], (8, 8))
    assert add.sum() == 4 and add[:2, :2].all()
    assert remove.sum() == 4 and remove[6:, 6:].all()
    assert strokes_by_colour([], (8, 8)) == (None, None)


def test_overlay_leaves_pixels_outside_the_mask_untouched():
    rng = np.random.default_rng(1)
    image = Image.fromarray(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8))
    mask = np.zeros((16, 16), np.float32)
    mask[4:12, 4:12] = 1.0
    out = np.asarray(overlay_mask(image, mask))
    assert np.array_equal(out[mask == 0], np.asarray(image)[mask == 0])
    assert not np.array_equal(out[mask == 1], np.asarray(image)[mask == 1])


def test_checkerboard_shows_opaque_pixels_as_they_are():
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[:2] = (200, 10, 10, 255)
    preview = np.asarray(checkerboard_preview(rgba))
    assert (preview[:2] == (200, 10, 10)).all()
    assert (preview[2:, :, 0] == preview[2:, :, 1]).all()  # grey board where transparent




def test_the_app_makes_pil_refuse_images_beyond_the_megapixel_limit_not_twice_it(monkeypatch):
    import io
    import warnings

    import pytest
    from PIL import Image as PILImage

    import app
    from tests.reliability.test_images import png_header_only

    monkeypatch.setenv("INTACT_MAX_MEGAPIXELS", "2")
    monkeypatch.setattr(PILImage, "MAX_IMAGE_PIXELS", PILImage.MAX_IMAGE_PIXELS)
    with warnings.catch_warnings():  # the app silences Pillow's warnings process-wide; not in the tests
        app.limit_decoded_pixels()
        # Pillow itself (any code in the app that opens a picture) refuses just above our limit, from the header...
        with pytest.raises(PILImage.DecompressionBombError):
            PILImage.open(io.BytesIO(png_header_only(1500, 1500)))  # 2.25 MP
        # ...and opens what our loader accepts.
        assert PILImage.open(io.BytesIO(png_header_only(1400, 1400))).size == (1400, 1400)  # 1.96 MP
