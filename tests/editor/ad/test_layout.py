"""Layout engine: never over the product, inside safe margins, WCAG contrast >= 4.5, deterministic."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from skimage import data

from editor.ad import layout as lay
from editor.ad.backgrounds import fit_cover, load_style, render_style
from editor.ad.composite import auto_placement, composite, place_product, shadow_map
from editor.ad.cutout import CutOut
from editor.ad.fonts import FontBook
from editor.ad.formats import FORMAT_SPECS, get_format, scaled
from editor.ad.samples import product_shot
from editor.errors import IntactError

TEXTS = {
    "headline": "봄맞이 특가 세일! 오늘만 이 가격",
    "subline": "국내산 유기농 딸기로 만든 수제 딸기잼",
    "price": "12,900원",
    "cta": "지금 구매하기",
}
PHOTOS = {"coffee": data.coffee, "chelsea": data.chelsea}  # real photographs shipped by scikit-image


@pytest.fixture(scope="module")
def fonts():
    return FontBook()


@pytest.fixture(scope="module")
def product() -> CutOut:
    shot = product_shot("plain", 160, 160)
    return CutOut(np.dstack([shot.product, np.round(shot.alpha * 255).astype(np.uint8)]), shot.alpha, "known")


def compose(product: CutOut, fmt, background: str):
    if background in PHOTOS:
        bg, style, floor = fit_cover(PHOTOS[background](), fmt.size), load_style("studio-white"), None
    else:
        style = load_style(background)
        bg, floor = render_style(style, fmt.size), style.floor_line
    x0, y0, x1, y1 = product.bbox()
    placement = auto_placement((x1 - x0, y1 - y0), fmt, floor)
    layer, alpha = place_product(product, placement, fmt.size)
    return composite(bg, layer, alpha, shadow_map(alpha, placement, style.contact_shadow, style.drop_shadow)), alpha, style


def independent_contrast(final: np.ndarray, el: lay.ElementPlan, fonts: FontBook) -> float:
    """Contrast between the text colour and the final picture's pixels right around the glyphs."""
    h, w = final.shape[:2]
    fill_a, _ = lay._glyph_masks(el, fonts.font(el.size, el.weight), (0, 0, w, h))
    ink = (fill_a > 0).astype(np.uint8)
    r = lay.ring_radius(el.size)
    halo = cv2.dilate(ink, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))).astype(bool) & ~ink.astype(bool)
    return float(lay.contrast_ratio(np.array(el.fill, float)[None], final[halo].astype(float)).min())


@pytest.mark.parametrize("background", ["studio-white", "night-navy", "coffee", "chelsea"])
@pytest.mark.parametrize("format_name", list(FORMAT_SPECS))
def test_layout_keeps_off_the_product_inside_safe_margins_with_readable_contrast(format_name, background, product, fonts):
    fmt = scaled(get_format(format_name), 0.3)
    canvas, alpha, style = compose(product, fmt, background)
    plan = lay.plan_layout(canvas, alpha, TEXTS, fmt, fonts, style.accent)
    final, report = lay.render_layout(canvas, alpha, plan, fonts)
    assert [e["element"] for e in report] == ["headline", "subline", "price", "cta"]
    W, H = fmt.size
    ml, mt, mr, mb = fmt.safe_margins
    for el, rep in zip(plan.elements, report):
        fx0, fy0, fx1, fy1 = el.frame
        bx0, by0, bx1, by1 = el.box
        assert fx0 <= bx0 < bx1 <= fx1 and fy0 <= by0 < by1 <= fy1
        assert fx0 >= round(ml * W) and fy0 >= round(mt * H) and fx1 <= W - round(mr * W) and fy1 <= H - round(mb * H)
        assert (alpha[fy0:fy1, fx0:fx1] > 0.02).sum() == 0  # never over the product, panels included
        assert rep["product_overlap"] == 0 and rep["product_overlap_pixels"] == 0
        assert rep["contrast_ratio"] >= 4.5, rep
        assert independent_contrast(final, el, fonts) >= 4.5, rep
        assert rep["font_size"] >= 7 and rep["color"].startswith("#") and rep["mean_gradient"] >= 0
    # Frames never overlap each other.
    frames = [e.frame for e in plan.elements]
    for i, a in enumerate(frames):
        for b in frames[i + 1 :]:
            assert a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1]


def test_layout_is_deterministic(product, fonts):
    fmt = scaled(get_format("instagram-portrait"), 0.3)
    canvas, alpha, style = compose(product, fmt, "coffee")
    first = lay.render_layout(canvas, alpha, lay.plan_layout(canvas, alpha, TEXTS, fmt, fonts, style.accent), fonts)
    second = lay.render_layout(canvas, alpha, lay.plan_layout(canvas, alpha, TEXTS, fmt, fonts, style.accent), fonts)
    assert np.array_equal(first[0], second[0]) and first[1] == second[1]


def test_text_goes_to_the_calm_half_of_a_busy_picture(fonts):
    fmt = scaled(get_format("instagram-square"), 0.3)
    W, H = fmt.size
    rng = np.random.default_rng(0)
    canvas = np.full((H, W, 3), 235, np.uint8)
    canvas[:, : W // 2] = rng.integers(0, 256, (H, W // 2, 3), dtype=np.uint8)  # noisy left, where text would start
    no_product = np.zeros((H, W), np.float32)
    plan = lay.plan_layout(canvas, no_product, {"headline": "여름 신상품"}, fmt, fonts)
    (_, report) = lay.render_layout(canvas, no_product, plan, fonts)
    x0, _, x1, _ = report[0]["box"]
    assert x0 >= W // 2
    assert report[0]["mean_gradient"] < 0.01 and report[0]["mode"] == "plain"


def test_text_on_a_high_contrast_pattern_gets_an_outline_or_a_panel(fonts):
    fmt = scaled(get_format("instagram-square"), 0.3)
    W, H = fmt.size
    yy, xx = np.mgrid[0:H, 0:W]
    canvas = np.where((((yy // 6) + (xx // 6)) % 2 == 0)[..., None], 250, 5).astype(np.uint8).repeat(3, axis=2)
    no_product = np.zeros((H, W), np.float32)
    plan = lay.plan_layout(canvas, no_product, {"headline": "특가", "subline": "오늘 단 하루"}, fmt, fonts)
    final, report = lay.render_layout(canvas, no_product, plan, fonts)
    assert {r["mode"] for r in report} <= {"stroke", "box"}
    for el, rep in zip(plan.elements, report):
        assert rep["contrast_ratio"] >= 4.5
        assert independent_contrast(final, el, fonts) >= 4.5
        assert rep["mean_gradient"] > 0.05  # the report shows how busy it is under the text


def test_missing_glyphs_are_reported_per_element(product, fonts):
    fmt = scaled(get_format("instagram-square"), 0.3)
    canvas, alpha, style = compose(product, fmt, "studio-white")
    plan = lay.plan_layout(canvas, alpha, {"headline": "딸기 \U0001f353 세일"}, fmt, fonts)
    _, report = lay.render_layout(canvas, alpha, plan, fonts)
    assert report[0]["missing_glyphs"] == ["\U0001f353"] and report[0]["text"] == "딸기 세일"
    assert any("\U0001f353" in note for note in plan.notes)


def test_no_room_for_text_is_a_clear_error(fonts):
    fmt = scaled(get_format("web-banner"), 0.2)
    W, H = fmt.size
    canvas = np.full((H, W, 3), 200, np.uint8)
    everywhere = np.ones((H, W), np.float32)
    with pytest.raises(IntactError, match="no room for the headline"):
        lay.plan_layout(canvas, everywhere, {"headline": "세일"}, fmt, fonts)


def test_wcag_contrast_matches_the_reference_values():
    assert lay.contrast_ratio((255, 255, 255), (0, 0, 0)) == pytest.approx(21.0)
    assert lay.contrast_ratio((119, 119, 119), (255, 255, 255)) == pytest.approx(4.48, abs=0.01)
    assert lay.contrast_ratio((118, 118, 118), (255, 255, 255)) == pytest.approx(4.54, abs=0.01)
