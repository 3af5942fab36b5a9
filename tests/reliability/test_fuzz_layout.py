"""Property tests for the ad layout engine (`editor.ad.layout`) over random canvases, product shapes,
texts and formats: either every text is placed inside the safe margins, off the product, apart from
the others and readable (contrast >= 4.5), or the user gets one clear IntactError. Nothing else."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from editor.ad import layout as lay
from editor.ad.fonts import FontBook
from editor.ad.formats import FORMAT_SPECS, get_format, scaled
from editor.errors import IntactError

FAST = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                         HealthCheck.function_scoped_fixture])

WORDS = ["봄맞이", "특가", "세일!", "오늘만", "수제", "딸기잼", "New", "arrival", "50%", "OFF", "₩12,900", "무료배송",
         "☃", "지금", "구매하기", "카페", "라떼", "🍓"]


@pytest.fixture(scope="module")
def fonts():
    return FontBook()


texts = st.fixed_dictionaries(
    {},
    optional={
        "headline": st.lists(st.sampled_from(WORDS), min_size=0, max_size=6).map(" ".join),
        "subline": st.lists(st.sampled_from(WORDS), min_size=0, max_size=8).map(" ".join),
        "price": st.sampled_from(["", "12,900원", "₩4,500", "1+1"]),
        "cta": st.sampled_from(["", "지금 구매하기", "Shop now"]),
    },
)


@st.composite
def scenes(draw):
    fmt = scaled(get_format(draw(st.sampled_from(sorted(FORMAT_SPECS)))), draw(st.sampled_from([0.15, 0.2, 0.25])))
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
    alpha = np.zeros((H, W), np.float32)
    x0, y0, x1, y1 = fmt.product_region
    scale = draw(st.floats(0.0, 1.0))
    cx, cy = (x0 + x1) / 2 * W, (y0 + y1) / 2 * H
    rx, ry = (x1 - x0) / 2 * W * scale, (y1 - y0) / 2 * H * scale
    yy, xx = np.mgrid[0:H, 0:W]
    alpha[((xx - cx) / max(rx, 1)) ** 2 + ((yy - cy) / max(ry, 1)) ** 2 <= 1] = 1.0 if scale > 0.05 else 0.0
    return fmt, canvas, alpha


def overlaps(a, b) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


@FAST
@given(scenes(), texts)
def test_layout_places_everything_readably_off_the_product_or_says_why(fonts, scene, copy):
    fmt, canvas, alpha = scene
    W, H = fmt.size
    try:
        plan = lay.plan_layout(canvas, alpha, copy, fmt, fonts)
    except IntactError as exc:
        assert "no room" in str(exc) and "\n" not in str(exc)
        return
    final, report = lay.render_layout(canvas, alpha, plan, fonts)
    assert final.shape == canvas.shape and final.dtype == np.uint8
    wanted = [n for n in lay.ELEMENT_ORDER if lay.textlib.normalise(copy.get(n))]
    placed = [e.name for e in plan.elements]
    assert set(placed) <= set(wanted) and placed == [n for n in lay.ELEMENT_ORDER if n in placed]
    ml, mt, mr, mb = fmt.safe_margins
    for el, rep in zip(plan.elements, report):
        fx0, fy0, fx1, fy1 = el.frame
        assert fx0 >= round(ml * W) and fy0 >= round(mt * H) and fx1 <= W - round(mr * W) and fy1 <= H - round(mb * H)
        assert rep["product_overlap_pixels"] == 0
        assert rep["contrast_ratio"] >= 4.5, rep
        assert len(el.lines) >= 1 and el.size >= 7
    for i, a in enumerate(plan.elements):
        for b in plan.elements[i + 1 :]:
            assert not overlaps(a.frame, b.frame), (a.name, a.frame, b.name, b.frame)
    # Glyphs the font lacks are reported, never drawn as boxes.
    for el in plan.elements:
        for ch in el.missing:
            assert ch not in el.text


@FAST
@given(scenes(), texts)
def test_layout_is_deterministic(fonts, scene, copy):
    fmt, canvas, alpha = scene
    try:
        first = lay.plan_layout(canvas, alpha, copy, fmt, fonts)
    except IntactError:
        return
    assert lay.plan_layout(canvas, alpha, copy, fmt, fonts) == first
