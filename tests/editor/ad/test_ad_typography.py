"""The text block: type scale, optical left alignment, one-line headlines, price emphasis."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

from editor.ad.formats import FORMAT_SPECS, get_format
from editor.ad.typography import STEPS, Copy, fit_block, ink, type_sizes

AUTUMN = dict(headline="가을 신메뉴 출시", subline="따뜻한 한 잔의 여유", price="5,500원 → 4,500원", cta="지금 주문하기")


@pytest.mark.parametrize("name", list(FORMAT_SPECS))
def test_every_format_has_one_ratio_between_neighbouring_sizes(name):
    fmt = get_format(name)
    sizes = type_sizes(fmt.headline_max * fmt.short_side, fmt.type_ratio)
    order = sorted(STEPS, key=STEPS.get)  # cta, subline, price, headline
    ratios = [sizes[b] / sizes[a] for a, b in zip(order, order[1:])]
    assert all(abs(r - fmt.type_ratio) < 0.06 for r in ratios), ratios


def test_ink_bearings_differ_between_glyphs_so_boxes_alone_do_not_align(catalogue):
    book = catalogue.book(None)
    lefts = {t: ink(book, 100, "bold", t).left for t in ("가을", "신메뉴", "4,500원", "1+1", "지금")}
    assert max(lefts.values()) - min(lefts.values()) >= 3, lefts  # what the optical margin corrects


def test_lines_of_a_left_aligned_block_start_at_the_same_visible_x(catalogue):
    book = catalogue.book(None)
    fmt = get_format("instagram-square")
    block = fit_block(Copy.from_texts(AUTUMN), book, fmt, 420, 900)
    canvas = Image.new("L", (1200, 1200), 0)
    draw = ImageDraw.Draw(canvas)
    axis, top = 300, 50
    for line in block.lines:
        if line.element == "cta":
            continue
        for run in line.runs:
            draw.text((axis + line.x + run.dx, top + line.baseline), run.text, font=book.font(run.size, run.weight),
                      fill=255, anchor="ls")
    ink_px = np.asarray(canvas) >= 128
    for line in block.lines:
        if line.element == "cta":
            assert line.left == 0 and block.pill.left == 0  # the button's edge is on the axis
            continue
        rows = ink_px[top + line.top : top + line.bottom]
        assert np.nonzero(rows.any(axis=0))[0][0] == axis, line


def test_a_headline_that_fits_on_one_line_at_the_minimum_stays_on_one_line(catalogue):
    book = catalogue.book(None)
    fmt = get_format("story")
    block = fit_block(Copy.from_texts(AUTUMN), book, fmt, 900, 900)
    assert block.headline_lines() == ("가을 신메뉴 출시",)
    # Narrow column: one line would need a size under the minimum, so it breaks (short word first).
    narrow = fit_block(Copy.from_texts(AUTUMN), book, fmt, 380, 900)
    assert narrow.headline_lines() == ("가을", "신메뉴 출시")
    assert book.length(round(fmt.headline_one_line_min * fmt.short_side), "bold", "가을 신메뉴 출시") > 380


def test_old_price_is_parsed_struck_through_and_set_before_the_emphasised_price(catalogue):
    copy = Copy.from_texts({"headline": "세일", "price": "5,500원 → 4,500원"})
    assert (copy.old_price, copy.price) == ("5,500원", "4,500원")
    assert Copy.from_texts({"headline": "세일", "price": "9,900원", "old_price": "12,000원"}).old_price == "12,000원"
    book = catalogue.book(None)
    fmt = get_format("instagram-square")
    for emphasis, weight, colour in (("accent", "bold", "accent"), ("bold", "bold", "text"), ("plain", "regular", "text")):
        block = fit_block(copy, book, fmt, 900, 900, emphasis=emphasis)
        (price,) = [ln for ln in block.lines if ln.element == "price"]
        old, new = price.runs
        assert (old.text, old.strike, old.colour) == ("5,500원", True, "muted")
        assert (new.text, new.strike, new.weight, new.colour) == ("4,500원", False, weight, colour)
        assert old.size < new.size


def test_asked_size_is_kept_when_it_fits_and_reduced_with_a_note_when_not(catalogue):
    book = catalogue.book(None)
    fmt = get_format("instagram-square")
    copy = Copy.from_texts(AUTUMN)
    assert fit_block(copy, book, fmt, 900, 900, headline_px=70).headline_px == 70
    squeezed = fit_block(copy, book, fmt, 420, 420, headline_px=120)
    assert squeezed.headline_px < 120 and "smaller" in squeezed.notes[0]


def test_characters_the_font_lacks_are_left_out_and_reported(catalogue):
    copy, missing = Copy.from_texts({"headline": "딸기 \U0001f353 세일"}).without_missing(catalogue.book(None))
    assert copy.headline == "딸기 세일" and missing == {"headline": ["\U0001f353"]}
