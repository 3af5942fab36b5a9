"""Compositing and backgrounds: exact product pixels, shadows from the alpha, backdrops as data."""

from __future__ import annotations

import json

import numpy as np
import pytest

from editor.ad import backgrounds as bglib
from editor.ad.composite import (
    PlacementRequest,
    composite,
    place_product,
    requested_placement,
    shadow_map,
)
from editor.ad.cutout import CutOut
from editor.ad.formats import get_format, scaled
from editor.ad.samples import product_shot
from editor.errors import InputError, IntactError


@pytest.fixture(scope="module")
def product() -> CutOut:
    shot = product_shot("plain", 160, 160)
    return CutOut(np.dstack([shot.product, np.round(shot.alpha * 255).astype(np.uint8)]), shot.alpha, "known")


CENTRED = PlacementRequest(center_x=0.6, bottom_y=0.9, height=0.7)


def test_opaque_product_pixels_are_exact_and_only_the_soft_edge_is_harmonised(product):
    fmt = scaled(get_format("instagram-square"), 0.3)
    backdrop = bglib.load_backdrop("peach-gradient")
    bg = bglib.render_backdrop(backdrop, fmt.size)
    x0, y0, x1, y1 = product.bbox()
    placement = requested_placement((x1 - x0, y1 - y0), fmt, CENTRED)
    layer, alpha = place_product(product, placement, fmt.size)
    shadow = shadow_map(alpha, placement, backdrop.contact_shadow, backdrop.drop_shadow)
    harmonised = composite(bg, layer, alpha, shadow, harmonise=0.3)
    plain = composite(bg, layer, alpha, shadow, harmonise=0.0)
    opaque = alpha == 1.0
    assert opaque.sum() > 500
    assert np.array_equal(harmonised[opaque], layer[opaque].astype(np.uint8))
    differs = np.any(harmonised != plain, axis=2)
    assert differs.any() and ((alpha[differs] > 0) & (alpha[differs] < 1)).all()


def test_placed_product_is_scaled_with_its_shape_kept(product):
    fmt = scaled(get_format("story"), 0.25)
    x0, y0, x1, y1 = product.bbox()
    placement = requested_placement((x1 - x0, y1 - y0), fmt, PlacementRequest(center_x=0.5, bottom_y=0.7, height=0.4))
    assert placement.width / placement.height == pytest.approx((x1 - x0) / (y1 - y0), rel=0.03)
    _, alpha = place_product(product, placement, fmt.size)
    ys, xs = np.nonzero(alpha > 0.5)
    assert placement.x - 1 <= xs.min() and xs.max() <= placement.x + placement.width
    assert placement.y - 1 <= ys.min() and ys.max() <= placement.bottom


def test_shadows_darken_the_floor_under_the_product_and_nothing_far_away(product):
    fmt = scaled(get_format("instagram-square"), 0.3)
    backdrop = bglib.load_backdrop("studio-white")
    bg = bglib.render_backdrop(backdrop, fmt.size)
    x0, y0, x1, y1 = product.bbox()
    placement = requested_placement((x1 - x0, y1 - y0), fmt, CENTRED)
    layer, alpha = place_product(product, placement, fmt.size)
    out = composite(bg, layer, alpha, shadow_map(alpha, placement, backdrop.contact_shadow, backdrop.drop_shadow))
    cx = placement.x + placement.width // 2
    below = slice(placement.bottom, min(placement.bottom + 3, fmt.height))
    assert out[below, cx - 3 : cx + 3].mean() < bg[below, cx - 3 : cx + 3].mean() - 20
    assert np.array_equal(out[:10, :10], bg[:10, :10])


def test_user_placement_is_respected_and_validated(product):
    fmt = get_format("instagram-square")
    x0, y0, x1, y1 = product.bbox()
    p = requested_placement((x1 - x0, y1 - y0), fmt, PlacementRequest(center_x=0.3, bottom_y=0.8, height=0.5))
    assert p.height == 540 and p.bottom == 864 and abs(p.x + p.width / 2 - 324) <= 1
    with pytest.raises(InputError):
        PlacementRequest(center_x=1.5, bottom_y=0.8, height=0.5)


def test_studio_sweep_curves_from_wall_into_a_darker_floor():
    backdrop = bglib.load_backdrop("studio-white")
    img = bglib.render_backdrop(backdrop, (100, 200)).astype(float)
    assert img[180:].mean() < img[:60].mean() - 5
    assert backdrop.floor_line == pytest.approx(0.66)


def test_a_broken_backdrop_file_is_reported_with_its_name(tmp_path):
    (tmp_path / "bad.json").write_text(json.dumps({"kind": "plasma", "colors": ["#ffffff"]}))
    with pytest.raises(IntactError, match="bad.json"):
        bglib.load_backdrop("bad", folder=tmp_path)
    with pytest.raises(InputError, match="Choose from"):
        bglib.load_backdrop("missing", folder=tmp_path)


def test_uploaded_photo_covers_the_format_without_distortion():
    from skimage import data

    assert bglib.fit_cover(data.chelsea(), (108, 192)).shape == (192, 108, 3)  # a real photo, 451×300
    # A circle in a wide picture stays a circle in a tall format (cropped, never squeezed).
    wide = np.zeros((200, 400, 3), np.uint8)
    yy, xx = np.mgrid[0:200, 0:400]
    wide[(yy - 100) ** 2 + (xx - 200) ** 2 <= 40**2] = 255
    tall = bglib.fit_cover(wide, (150, 300))
    ys, xs = np.nonzero(tall[..., 0] > 127)
    assert tall.shape == (300, 150, 3)
    assert (xs.max() - xs.min()) == pytest.approx(ys.max() - ys.min(), abs=2)
    assert (ys.max() - ys.min()) == pytest.approx(120, abs=3)
