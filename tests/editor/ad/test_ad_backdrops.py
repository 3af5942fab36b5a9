"""Backdrops without a model: data files, product-coloured tints, wood/marble/linen surfaces,
light sweeps; and shadows that fall away from the light the backdrop shows."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from editor.ad import backgrounds as bglib
from editor.ad.colour import to_lab
from editor.ad.composite import PlacementRequest, light_direction, place_product, requested_placement, shadow_map
from editor.ad.formats import get_format, scaled
from editor.ad.palette import Palette, product_palette
from editor.ad.saliency import gradient_magnitude


@pytest.mark.parametrize("name", bglib.list_backdrops())
def test_every_backdrop_renders_deterministically_at_any_size(name, coffee):
    backdrop = bglib.load_backdrop(name)
    palette = product_palette(coffee.rgba[..., :3], coffee.alpha)
    a = bglib.render_backdrop(backdrop, (120, 200), palette)
    assert a.shape == (200, 120, 3) and a.dtype == np.uint8
    assert np.array_equal(a, bglib.render_backdrop(backdrop, (120, 200), palette))


def test_the_class_is_called_backdrop_the_word_style_is_for_lora_styles():
    assert not hasattr(bglib, "Style") and not hasattr(bglib, "load_style")
    assert bglib.BACKDROP_DIR.name == "backdrops" and bglib.load_backdrop(bglib.DEFAULT_BACKDROP).kind == "palette"


def _hue(rgb) -> float:
    lab = to_lab(np.asarray(rgb, float))
    return float(np.degrees(np.arctan2(lab[..., 2], lab[..., 1])).mean())


@pytest.mark.parametrize("name", ["product-tint", "product-glow"])
def test_backdrops_made_from_the_product_take_its_hue(name):
    red = Palette(((170, 30, 45), (245, 240, 230)), (0.7, 0.3))
    teal = Palette(((20, 120, 120), (245, 240, 230)), (0.7, 0.3))
    backdrop = bglib.load_backdrop(name)
    red_bg, teal_bg = (bglib.render_backdrop(backdrop, (64, 64), p).reshape(-1, 3).mean(axis=0) for p in (red, teal))
    assert abs(_hue(red_bg) - _hue(red.accent)) < 25 and abs(_hue(teal_bg) - _hue(teal.accent)) < 25
    assert to_lab(red_bg)[0] > 80 and to_lab(teal_bg)[0] > 80  # pale: the product and dark text stand out
    with pytest.raises(Exception, match="product"):
        bglib.render_backdrop(backdrop, (64, 64))


@pytest.mark.parametrize("name", ["oak-table", "white-marble", "natural-linen"])
def test_surfaces_have_texture_change_with_the_seed_and_stay_calm_enough_for_text(name):
    backdrop = bglib.load_backdrop(name)
    img = bglib.render_backdrop(backdrop, (540, 540))
    other = bglib.render_backdrop(dataclasses.replace(backdrop, seed=backdrop.seed + 1), (540, 540))
    assert not np.array_equal(img, other)
    grad = gradient_magnitude(img)
    assert 0.002 < float(grad.mean()) < 0.05  # textured, not flat, not busy
    lab = to_lab(img.reshape(-1, 3)[::97].astype(float))
    assert np.percentile(lab[:, 0], 2) > 45  # light surfaces: dark text reads everywhere


def test_light_sweep_brightens_the_side_the_light_comes_from():
    backdrop = bglib.load_backdrop("window-light")  # light from the upper left (145°)
    img = bglib.render_backdrop(backdrop, (300, 300)).astype(float).mean(axis=2)
    assert img[:100, :100].mean() > img[-100:, -100:].mean() + 10


def test_light_is_measured_on_a_picture_that_does_not_say_where_it_is():
    h, w = 200, 300
    yy, xx = np.mgrid[0:h, 0:w]
    spot_left = (200 * np.exp(-(((xx - 40) / 60.0) ** 2 + ((yy - 60) / 60.0) ** 2)) + 40).astype(np.uint8)
    picture = np.dstack([spot_left] * 3)
    lx, ly = light_direction(picture, (150, 80, 250, 190))
    assert lx < -0.5 and ly < 0  # towards the bright upper left
    assert light_direction(np.full((h, w, 3), 128, np.uint8), (150, 80, 250, 190)) == (0.0, -1.0)  # flat: from above
    assert light_direction(picture, (0, 0, 10, 10), angle=0.0) == pytest.approx((1.0, 0.0))  # a backdrop that knows


def test_the_drop_shadow_falls_away_from_the_light(bottle):
    fmt = scaled(get_format("instagram-square"), 0.4)
    x0, y0, x1, y1 = bottle.bbox()
    placement = requested_placement((x1 - x0, y1 - y0), fmt, PlacementRequest(0.5, 0.8, 0.6))
    _, alpha = place_product(bottle, placement, fmt.size)
    centre_x = placement.x + placement.width / 2

    def shadow_centre(light):
        dark = shadow_map(alpha, placement, 0.0, 0.5, light) * (alpha < 0.01)
        ys, xs = np.nonzero(dark > 0.05)
        return (xs * dark[ys, xs]).sum() / dark[ys, xs].sum()

    from_left, from_right = shadow_centre((-0.8, -0.6)), shadow_centre((0.8, -0.6))
    assert from_left > centre_x + 2 and from_right < centre_x - 2
