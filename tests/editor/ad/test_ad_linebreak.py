"""Korean line breaking: units that stay together, and balanced breaks (no orphaned word)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from editor.ad.linebreak import balanced_lines, break_paragraphs, units


def chars(text: str) -> float:
    """A width function for the pure algorithm: 10 px per character, spaces included."""
    return 10.0 * len(text)


@pytest.mark.parametrize("text,expected", [
    ("따뜻한 한 잔의 여유", ["따뜻한", "한 잔의", "여유"]),
    ("오늘만 2 개 세트 4,500 원", ["오늘만", "2 개", "세트", "4,500 원"]),
    ("₩ 12,900 특가", ["₩ 12,900", "특가"]),
    ("세일 ! 오늘만", ["세일 !", "오늘만"]),
    ("두 번째 잔 반값", ["두 번째", "잔", "반값"]),
    ("아메리카노 2개 4,500원", ["아메리카노", "2개", "4,500원"]),  # already one eojeol each
    ("이 가격 실화", ["이", "가격", "실화"]),  # "이" (this) is not a numeral here
])
def test_numerals_stay_with_their_counters(text, expected):
    assert units(text) == expected
    assert " ".join(units(text)) == text


def test_a_short_last_word_is_not_left_alone_when_a_balanced_break_exists():
    # Greedy filling would give "봄맞이 특가 세일 / 오늘만" (a lone last word).
    text = "봄맞이 특가 세일 오늘만"
    result = balanced_lines(text, chars, 100, 3)
    assert result.lines == ("봄맞이 특가", "세일 오늘만")
    assert result.single_unit_lines == 0


def test_three_words_on_two_lines_put_the_short_word_first():
    result = balanced_lines("가을 신메뉴 출시", chars, 80, 3)
    assert result.lines == ("가을", "신메뉴 출시")  # not "가을 신메뉴 / 출시"


def test_one_line_when_it_fits_and_none_when_a_unit_is_wider_than_the_line():
    assert balanced_lines("가을 신메뉴 출시", chars, 90, 3).lines == ("가을 신메뉴 출시",)
    assert balanced_lines("초특가유기농수제딸기잼", chars, 50, 3) is None
    assert balanced_lines("따뜻한 한 잔의 여유", chars, 45, 3).lines == ("따뜻한", "한 잔의", "여유")
    assert balanced_lines("따뜻한 한 잔의 여유", chars, 35, 3) is None  # "한 잔의" (40 px) never splits


def test_paragraphs_break_on_their_own_and_share_the_line_budget():
    result = break_paragraphs("가을 신메뉴\n오늘 출시", chars, 200, 3)
    assert result.lines == ("가을 신메뉴", "오늘 출시")
    assert break_paragraphs("하나\n둘\n셋\n넷", chars, 200, 3) is None


WORDS = st.sampled_from(["봄", "세일", "특가", "오늘만", "한", "잔", "4,500원", "2", "개", "딸기잼", "신메뉴", "출시", "!"])


@settings(max_examples=200, deadline=None)
@given(st.lists(WORDS, min_size=1, max_size=9), st.integers(30, 200), st.integers(1, 4))
def test_breaks_fit_keep_every_word_and_prefer_no_single_word_lines(words, width, max_lines):
    text = " ".join(words)
    result = balanced_lines(text, chars, width, max_lines)
    if result is None:
        return
    assert " ".join(result.lines) == text
    assert len(result.lines) <= max_lines and all(chars(line) <= width for line in result.lines)
    # Brute force: no other breaking at unit boundaries has fewer single-unit lines.
    groups = units(text)
    import itertools

    best = min(
        (sum(1 for a, b in zip(bounds, bounds[1:]) if b - a == 1) if len(groups) > 2 and len(bounds) > 2 else 0)
        for k in range(1, min(max_lines, len(groups)) + 1)
        for cuts in itertools.combinations(range(1, len(groups)), k - 1)
        for bounds in [(0, *cuts, len(groups))]
        if all(chars(" ".join(groups[a:b])) <= width for a, b in zip(bounds, bounds[1:]))
    )
    assert result.single_unit_lines == best
