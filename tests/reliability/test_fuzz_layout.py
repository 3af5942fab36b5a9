"""Property tests for the ad composition and text drawing over random canvases, product shapes,
texts and formats: either the text block and the product share the canvas (inside the live area,
apart from each other, the product whole, every glyph readable at 4.5:1), or the user gets one
clear IntactError. Nothing else; and the same input always gives the same picture."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from editor.ad.composite import composite, place_product, requested_placement
from editor.ad.composition import auto_layout
from editor.ad.cutout import CutOut
from editor.ad.fonts import FontCatalogue
from editor.ad.formats import FORMAT_SPECS, get_format, scaled
from editor.ad.layout import plan_text, render_text
from editor.ad.palette import product_palette
from editor.ad.saliency import busy_map
from editor.ad.typography import Copy
from editor.errors import IntactError

FAST = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                         HealthCheck.function_scoped_fixture])

WORDS = ["봄맞이", "특가", "세일!", "오늘만", "수제", "딸기잼", "New", "arrival", "50%", "OFF", "₩12,900", "무료배송",
         "☃", "지금", "구매하기", "카페", "라떼", "🍓", "한", "잔"]


@pytest.fixture(scope="module")
def fonts():
    return FontCatalogue().book()


texts = st.fixed_dictionaries(
    {"headline": st.lists(st.sampled_from(WORDS), min_size=1, max_size=6).map(" ".join)},
    optional={
        "subline": st.lists(st.sampled_from(WORDS), min_size=0, max_size=8).map(" ".join),
        "price": st.sampled_from(["", "12,900원", "₩4,500", "1+1", "5,500원 → 4,500원"]),
        "cta": st.sampled_from(["", "지금 구매하기", "Shop now"]),
    },
)


@st.composite
def scenes(draw):
    fmt = scaled(get_format(draw(st.sampled_from(sorted(FORMAT_SPECS)))), draw(st.sampled_from([0.2, 0.25, 0.3])))
    W, H = fmt.size
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    kind = draw(st.sampled_from(["flat", "noise", "gradient", "stripes"]))
    if kind == "flat":
        canvas = np.full((H, W, 3), rng.integers(0, 256, 3), np.uint8)
    elif kind == "noise":
        canvas = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
    elif kind == "gradient":
        ramp = np.linspace(0, 255, W, dtype=np.float32)[None, :, None]
        canvas = np.broadcast_to(ramp * rng.random(3), (H, W, 3)).astype(np.uint8)
    else:
        canvas = np.where((np.arange(W) // max(2, W // 12)) % 2 == 0, 230, 20).astype(np.uint8)[None, :, None]
        canvas = np.broadcast_to(canvas, (H, W, 3)).copy()
    # A product of random proportions: an ellipse in its own little photo.
    pw, ph = draw(st.integers(20, 200)), draw(st.integers(20, 200))
    yy, xx = np.mgrid[0:ph, 0:pw]
    alpha = ((((xx - pw / 2) / (pw / 2)) ** 2 + ((yy - ph / 2) / (ph / 2)) ** 2) <= 1).astype(np.float32)
    colour = rng.integers(0, 256, 3)
    rgba = np.dstack([np.broadcast_to(colour, (ph, pw, 3)), np.round(alpha * 255)]).astype(np.uint8)
    return fmt, canvas, CutOut(rgba, alpha, "known")


def _render(fmt, canvas, cut, copy, fonts):
    x0, y0, x1, y1 = cut.bbox()
    size = (x1 - x0, y1 - y0)
    drawn, _ = Copy.from_texts(copy).without_missing(fonts)
    layout, geometry = auto_layout(fmt, size, drawn, fonts, busy=busy_map(canvas))
    placement = requested_placement(size, fmt, layout.product)
    layer, alpha = place_product(cut, placement, fmt.size)
    comp = composite(canvas, layer, alpha)
    plan = plan_text(comp, geometry, fonts, product_palette(cut.rgba[..., :3], cut.alpha))
    final, report = render_text(comp, alpha, plan, fonts)
    return layout, geometry, alpha, final, report


def overlaps(a, b) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


@FAST
@given(scenes(), texts)
def test_text_and_product_share_the_canvas_readably_or_the_user_is_told_why(fonts, scene, copy):
    fmt, canvas, cut = scene
    W, H = fmt.size
    try:
        layout, geometry, alpha, final, report = _render(fmt, canvas, cut, copy, fonts)
    except IntactError as exc:
        assert "no room" in str(exc) and "\n" not in str(exc) and exc.key == "ad_no_room_for_text"
        return
    assert final.shape == canvas.shape and final.dtype == np.uint8
    lx0, ly0, lx1, ly1 = fmt.live_area()
    bx0, by0, bx1, by1 = geometry.block_box()
    assert lx0 <= bx0 and ly0 <= by0 and bx1 <= lx1 and by1 <= ly1
    assert not overlaps(geometry.block_box(), geometry.product_box)
    px0, py0, px1, py1 = geometry.product_box
    assert 0 <= px0 and 0 <= py0 and px1 <= W and py1 <= H  # the product is never cropped
    for entry in report:
        assert entry["product_overlap_pixels"] == 0
        assert entry["contrast_ratio"] >= 4.5, entry


@FAST
@given(scenes(), texts)
def test_layout_is_deterministic(fonts, scene, copy):
    fmt, canvas, cut = scene
    try:
        first = _render(fmt, canvas, cut, copy, fonts)
    except IntactError:
        return
    second = _render(fmt, canvas, cut, copy, fonts)
    assert first[0] == second[0] and np.array_equal(first[3], second[3]) and first[4] == second[4]
