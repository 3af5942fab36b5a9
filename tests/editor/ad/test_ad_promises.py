"""What an ad promises, measured on the pictures: over the four formats, several copy texts and
two real products (the coffee cup cut out of a photograph, the procedural bottle).

- the visible left edges (or centres) of the lines of one text block line up within 2 px;
- no headline line holds a single word when the headline has more than two words and a
  breaking without one exists at that size and column width;
- "한 잔", "4,500원" and the like are never split over two lines;
- no text over the product; the product is not cut by the canvas; no empty third;
- every glyph has a contrast of at least 4.5:1 with what is around it (measured on the final
  picture, independently of the code that chose the colours);
- stories keep everything out of the bands Instagram covers; banners put the product right
  beside the text.
"""

from __future__ import annotations

import itertools

import cv2
import numpy as np
import pytest

from editor.ad.colour import contrast_ratio
from editor.ad.composition import gutter
from editor.ad.formats import FORMAT_SPECS, get_format, scaled
from editor.ad.linebreak import units
from editor.ad.templates import get_template

COPIES = {
    "autumn": dict(headline="가을 신메뉴 출시", subline="따뜻한 한 잔의 여유", price="5,500원 → 4,500원", cta="지금 주문하기"),
    "spring-sale": dict(headline="봄맞이 특가 세일! 오늘만 이 가격", subline="국내산 유기농 딸기로 만든 수제 딸기잼",
                        price="12,900원", cta="지금 구매하기"),
    "two-for": dict(headline="두 잔 주문하면 한 잔 더", subline="아메리카노 2개 4,500원", price="4,500원", cta="주문하기"),
    "short": dict(headline="신상 입고", subline="", price="", cta="구경하기"),
}
KEEP_TOGETHER = ("한 잔", "두 잔", "4,500원", "2개")
SCALE = 0.5
CASES = list(itertools.product(sorted(FORMAT_SPECS), sorted(COPIES), ("coffee", "bottle")))


@pytest.fixture(scope="module")
def built(products, catalogue, build):
    cache = {}

    def get(format_name, copy_name, product_name):
        key = (format_name, copy_name, product_name)
        if key not in cache:
            fmt = scaled(get_format(format_name), SCALE)
            cache[key] = (fmt, build(fmt, products[product_name], COPIES[copy_name], catalogue))
        return cache[key]

    return get


def ink_mask(before: np.ndarray, after: np.ndarray, box) -> np.ndarray:
    """Pixels inside `box` that the text covers at least half (difference from the picture before
    the text, relative to the strongest difference there)."""
    x0, y0, x1, y1 = (max(int(v), 0) for v in box)
    diff = np.abs(after[y0:y1, x0:x1].astype(np.int32) - before[y0:y1, x0:x1].astype(np.int32)).max(axis=2)
    out = np.zeros(before.shape[:2], bool)
    if diff.size and diff.max() > 0:
        out[y0:y1, x0:x1] = diff >= 0.5 * np.percentile(diff[diff > 0], 99)
    return out


def line_bands(report: list) -> list[tuple[str, str, list]]:
    return [(el["element"], line["text"], line["box"]) for el in report for line in el["lines"]]


@pytest.mark.parametrize("format_name,copy_name,product_name", CASES)
def test_visible_edges_of_a_block_line_up(built, format_name, copy_name, product_name):
    fmt, ad = built(format_name, copy_name, product_name)
    assert ad.plan.panel_box is None  # calm backdrop: the diff below sees only the text
    edges = []
    for element, text, (x0, y0, x1, y1) in line_bands(ad.report):
        pad = 6
        ink = ink_mask(ad.composite, ad.final, (x0 - pad, y0, x1 + pad, y1))
        cols = np.nonzero(ink.any(axis=0))[0]
        assert len(cols), (element, text)
        edges.append((element, cols[0], cols[-1] + 1))
    if ad.geometry.align == "left":
        lefts = [left for _, left, _ in edges]
        assert max(lefts) - min(lefts) <= 2, edges
    else:
        centres = [(left + right) / 2 for _, left, right in edges]
        assert max(centres) - min(centres) <= 2, edges


def _balanced_break_exists(headline: str, n_lines: int, width_of, max_width: float) -> bool:
    """Is there a breaking into `n_lines` lines that fit, none a single word, none inside a unit?"""
    groups = units(headline)
    for cuts in itertools.combinations(range(1, len(groups)), n_lines - 1):
        bounds = (0, *cuts, len(groups))
        lines = [" ".join(groups[a:b]) for a, b in zip(bounds, bounds[1:])]
        if all(len(line.split(" ")) > 1 for line in lines) and all(width_of(line) <= max_width for line in lines):
            return True
    return False


@pytest.mark.parametrize("format_name,copy_name,product_name", CASES)
def test_headline_lines_are_balanced_and_units_stay_together(built, catalogue, format_name, copy_name, product_name):
    fmt, ad = built(format_name, copy_name, product_name)
    headline = COPIES[copy_name]["headline"]
    lines = ad.geometry.block.headline_lines()
    assert " ".join(lines) == headline  # every break is at a space
    words = headline.split(" ")
    if len(lines) > 1 and len(words) > 2:
        book = catalogue.book(None)
        size = ad.geometry.block.sizes["headline"]
        column = ad.layout.text.width * fmt.width
        width_of = lambda t: book.length(size, "bold", t)  # noqa: E731
        if _balanced_break_exists(headline, len(lines), width_of, column):
            assert all(len(line.split(" ")) > 1 for line in lines), lines
    for el in ad.report:
        full = " ".join(ln["text"] for ln in el["lines"])
        for unit in KEEP_TOGETHER:
            if unit in full:
                assert any(unit in ln["text"] for ln in el["lines"]), (el["element"], el["lines"])


@pytest.mark.parametrize("format_name,copy_name,product_name", CASES)
def test_text_keeps_off_the_product_which_stays_whole_and_fills_the_canvas(built, format_name, copy_name, product_name):
    fmt, ad = built(format_name, copy_name, product_name)
    W, H = fmt.size
    text_ink = np.zeros((H, W), bool)
    for _, _, box in line_bands(ad.report):
        text_ink |= ink_mask(ad.composite, ad.final, box)
    assert not (text_ink & (ad.product_alpha > 0.02)).any()
    bx0, by0, bx1, by1 = ad.geometry.block_box()
    px0, py0, px1, py1 = ad.geometry.product_box
    assert bx1 <= px0 or px1 <= bx0 or by1 <= py0 or py1 <= by0  # the block's box and the product's apart
    # Not cut by the canvas: nothing of the product on the outermost pixel ring, box inside.
    alpha = ad.product_alpha
    assert 0 <= px0 and px1 <= W and 0 <= py0 and py1 <= H
    assert alpha[0].max() == alpha[-1].max() == alpha[:, 0].max() == alpha[:, -1].max() == 0
    # No empty third: along the live area's longer side every third is at least 30% covered.
    lx0, ly0, lx1, ly1 = fmt.live_area()
    vertical = (ly1 - ly0) >= (lx1 - lx0)
    content = text_ink | (alpha > 0.05)
    profile = content[ly0:ly1].any(axis=1) if vertical else content[:, lx0:lx1].any(axis=0)
    for third in np.array_split(profile, 3):
        assert third.mean() >= 0.3, (format_name, [t.mean() for t in np.array_split(profile, 3)])


def _hex(value: str) -> np.ndarray:
    return np.array([int(value[i : i + 2], 16) for i in (1, 3, 5)], float)


def halo_contrast(ad, entry) -> float:
    """Worst contrast between the element's colour and the final picture's pixels in a ring just
    around its glyphs (pixels the text touched at all are not part of the ring)."""
    colour = _hex(entry["color"])
    r = max(1, round(entry["font_size"] * 0.03))
    ring = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 3, 2 * r + 3))
    worst = float("inf")
    for line in entry["lines"]:
        x0, y0, x1, y1 = line["box"]
        x0, y0, x1, y1 = x0 - 2 * r - 2, y0 - 2 * r - 2, x1 + 2 * r + 2, y1 + 2 * r + 2
        after = ad.final[y0:y1, x0:x1].astype(int)
        if entry["element"] in ("cta", "badge"):  # on a button or tag: glyphs are what differs from its fill
            reference = np.broadcast_to(_hex(entry["button_color"]), after.shape)
            inside = np.abs(after - reference).max(axis=2) <= 8
            touched = ~inside & (np.abs(after - ad.composite[y0:y1, x0:x1].astype(int)).max(axis=2) > 8)
            touched &= cv2.erode(inside.astype(np.uint8) | touched.astype(np.uint8), ring).astype(bool)
        else:
            touched = np.abs(after - ad.composite[y0:y1, x0:x1].astype(int)).max(axis=2) > 8
        halo = cv2.dilate(touched.astype(np.uint8), ring).astype(bool) & ~touched
        if entry["element"] in ("cta", "badge"):
            halo &= np.abs(after - reference).max(axis=2) <= 8
        if halo.any():
            worst = min(worst, float(contrast_ratio(colour[None], after[halo].astype(float)).min()))
    return worst


@pytest.mark.parametrize("format_name,copy_name,product_name", CASES)
def test_every_glyph_reads_at_4_5_to_1(built, format_name, copy_name, product_name):
    fmt, ad = built(format_name, copy_name, product_name)
    for entry in ad.report:
        assert entry["contrast_ratio"] >= 4.5, entry
        if not entry["strike"]:  # a price line with an old price holds two colours (both in contrast_ratio)
            assert halo_contrast(ad, entry) >= 4.5, entry


@pytest.mark.parametrize("copy_name,product_name", list(itertools.product(sorted(COPIES), ("coffee", "bottle"))))
def test_story_keeps_clear_of_instagrams_bars(built, copy_name, product_name):
    fmt, ad = built("story", copy_name, product_name)
    H = fmt.height
    top, bottom = round(0.14 * H), H - round(0.20 * H)
    x0, y0, x1, y1 = ad.geometry.block_box()
    assert y0 >= top and y1 <= bottom
    px0, py0, px1, py1 = ad.geometry.product_box
    assert py0 >= top and py1 <= bottom
    assert not (ad.product_alpha[:top] > 0).any() and not (ad.product_alpha[bottom:] > 0.05).any()


@pytest.mark.parametrize("copy_name,product_name", list(itertools.product(sorted(COPIES), ("coffee", "bottle"))))
def test_banner_puts_the_product_right_beside_the_text(built, copy_name, product_name):
    fmt, ad = built("web-banner", copy_name, product_name)
    assert ad.geometry.position in ("left", "right")
    bx0, _, bx1, _ = ad.geometry.block_box()
    px0, _, px1, _ = ad.geometry.product_box
    gap = px0 - bx1 if ad.geometry.position == "left" else bx0 - px1
    # The gutter of the design's template (a split or a card keeps more air around the text).
    assert 0 < gap <= round(gutter(fmt) * get_template(ad.geometry.template).gap_scale) + 2
    # and the two are centred as a group: equal room on the left and the right
    lx0, _, lx1, _ = fmt.live_area()
    left_room = min(bx0, px0) - lx0
    right_room = lx1 - max(bx1, px1)
    assert abs(left_room - right_room) <= 0.05 * fmt.width


@pytest.mark.parametrize("format_name", sorted(FORMAT_SPECS))
def test_the_workflow_draws_exactly_what_these_tests_measured(coffee, catalogue, build, tmp_path, format_name):
    """The measurements above use the domain functions directly; AdWorkflow (node graph, caching)
    must produce the very same pixels."""
    from PIL import Image

    from editor.ad import AdRequest, AdWorkflow, cut_out

    path = tmp_path / "coffee.png"
    Image.fromarray(coffee.rgba, "RGBA").save(path)
    fmt = scaled(get_format(format_name), SCALE)
    direct = build(fmt, cut_out(str(path)), COPIES["autumn"], catalogue)
    result = AdWorkflow().run(AdRequest(product=str(path), formats=(format_name,), scale=SCALE, **COPIES["autumn"]))
    assert np.array_equal(np.asarray(result.images[format_name]), direct.final)
