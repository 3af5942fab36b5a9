"""Colour: WCAG reference values, lightness moves that keep the hue, the product's palette and
the colours suggested from it, and the backing panel a busy background gets."""

from __future__ import annotations

import numpy as np
import pytest

from editor.ad.colour import chroma, contrast_ratio, min_contrast, readable, to_lab
from editor.ad.design import AdLayout
from editor.ad.formats import get_format, scaled
from editor.ad.palette import Palette, product_palette, suggest_colours

COPY = dict(headline="가을 신메뉴 출시", subline="따뜻한 한 잔의 여유", price="4,500원", cta="지금 주문하기")


def test_wcag_contrast_matches_the_reference_values():
    assert contrast_ratio((255, 255, 255), (0, 0, 0)) == pytest.approx(21.0)
    assert contrast_ratio((119, 119, 119), (255, 255, 255)) == pytest.approx(4.48, abs=0.01)
    assert contrast_ratio((118, 118, 118), (255, 255, 255)) == pytest.approx(4.54, abs=0.01)


def test_readable_moves_lightness_only_until_the_contrast_is_reached():
    background = np.array([[250, 240, 235], [235, 225, 220]])
    pink = (235, 120, 150)  # too light on a light background
    fixed = readable(pink, background)
    assert min_contrast(fixed, background) >= 4.5
    hue = lambda c: np.degrees(np.arctan2(to_lab(c)[2], to_lab(c)[1]))  # noqa: E731
    assert abs(hue(fixed) - hue(pink)) < 8 and chroma(fixed) > 20  # still pink, only darker
    assert readable((20, 20, 20), background) == (20, 20, 20)  # already readable: unchanged
    stripes = np.array([[0, 0, 0], [255, 255, 255]])
    assert readable(pink, stripes) is None  # no single colour reads on black and white


def test_palette_of_the_coffee_cup_is_its_red_and_cream(coffee):
    palette = product_palette(coffee.rgba[..., :3], coffee.alpha)
    assert abs(sum(palette.shares) - 1) < 1e-6 and list(palette.shares) == sorted(palette.shares, reverse=True)
    r, g, b = palette.accent
    assert r > g + 40 and r > b + 40  # the cup's red-brown glaze
    assert palette == product_palette(coffee.rgba[..., :3], coffee.alpha)  # deterministic


def test_every_suggested_colour_reads_on_the_background_it_was_suggested_for(coffee):
    palette = product_palette(coffee.rgba[..., :3], coffee.alpha)
    for under in (np.full((50, 3), 245), np.full((50, 3), 25), np.array([[200, 170, 150], [240, 230, 220]])):
        suggestions = suggest_colours(palette, under)
        assert suggestions["text"] and suggestions["accent"]
        for value in suggestions["text"] + suggestions["accent"]:
            rgb = tuple(int(value[i : i + 2], 16) for i in (1, 3, 5))
            assert min_contrast(rgb, under) >= 4.5, value


def test_a_busy_photo_behind_the_text_gets_a_panel_and_still_reads(products, catalogue, build):
    fmt = scaled(get_format("instagram-square"), 0.4)
    yy, xx = np.mgrid[0 : fmt.height, 0 : fmt.width]
    checker = np.where((((yy // 5) + (xx // 5)) % 2 == 0)[..., None], 250, 5).astype(np.uint8).repeat(3, axis=2)
    # The column template (no colour field of its own): the backing panel is what makes it read.
    ad = build(fmt, products["bottle"], COPY, catalogue, background=checker, wanted=AdLayout(template="column"))
    assert ad.plan.panel_box is not None and all(e["mode"] in ("panel", "button") for e in ad.report)
    assert all(e["contrast_ratio"] >= 4.5 for e in ad.report)
    x0, y0, x1, y1 = ad.plan.panel_box
    assert not (ad.product_alpha[y0:y1, x0:x1] > 0.02).any()  # the panel stays off the product


def test_text_goes_to_the_calm_side_of_a_photo(products, catalogue, build):
    fmt = scaled(get_format("instagram-square"), 0.4)
    rng = np.random.default_rng(0)
    W, H = fmt.size
    photo = np.full((H, W, 3), 232, np.uint8)
    photo[:, W // 2 :] = rng.integers(0, 256, (H, W - W // 2, 3), dtype=np.uint8)  # busy right half
    ad = build(fmt, products["bottle"], {"headline": "여름 신상품", "cta": "구경하기"}, catalogue, background=photo)
    x0, _, x1, _ = ad.geometry.block_box()
    assert x1 <= W // 2 + 2 and ad.plan.panel_box is None


def test_palette_with_one_colour_still_gives_readable_suggestions():
    grey = Palette(((128, 128, 128),), (1.0,))
    assert not grey.is_colourful
    suggestions = suggest_colours(grey, np.full((10, 3), 128))
    assert suggestions["text"]
