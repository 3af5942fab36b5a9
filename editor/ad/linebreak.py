"""Korean line breaking for ad copy: which words stay together, and where balanced lines break.

Korean breaks between eojeol (the space-separated units). Some neighbouring eojeol read as one
thing and must stay on one line: a numeral and its counter ("한 잔", "두 개", "4,500 원", "3 일"),
a currency sign and its amount ("₩ 12,900"), and punctuation that was typed with a space before
it ("세일 !"). `units` groups the words accordingly; `balanced_lines` then chooses the breaks:
the fewest lines that fit, no line holding a single unit when the text has more than two and
another break avoids it, and lines as even in width as the breaks allow (no short last line).
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from typing import Callable

# Native Korean numerals (the forms used before a counter) and "몇" (how many).
NATIVE_NUMERALS = frozenset(
    "한 두 세 네 다섯 여섯 일곱 여덟 아홉 열 열한 열두 열세 열네 스무 스물 서른 마흔 쉰 몇 반".split()
)
# Counters and units a number is read with; a word starting with one of them (with a particle,
# "잔의", "개씩") follows its numeral. Longest first so "개월" wins over "개".
COUNTERS = tuple(sorted(
    """잔 개 원 명 병 장 권 벌 켤레 마리 그릇 인분 인 세트 박스 봉 봉지 팩 컵 시간 분 초 일 주 달 개월 년 번 가지
    종 살 송이 판 조각 알 대 곳 층 쪽 통 캔 줄 접시 배 회 차 호 점 평 겹 채 척 포기 만원 천원 퍼센트 % kg g ml l
    cm mm km""".split(),
    key=len, reverse=True,
))
_ARABIC_NUMBER = re.compile(r"^[₩$€¥£]?\d[\d,.]*(?:[+x×]\d[\d,.]*)?$")
_CURRENCY_SIGN = re.compile(r"^[₩$€¥£]$")


def is_numeral(word: str) -> bool:
    return word in NATIVE_NUMERALS or bool(_ARABIC_NUMBER.match(word))


def starts_with_counter(word: str) -> bool:
    lowered = word.lower()
    return any(lowered.startswith(c) for c in COUNTERS)


def _is_punctuation(word: str) -> bool:
    return not any(ch.isalnum() for ch in word)


def units(text: str) -> list[str]:
    """The unbreakable groups of one paragraph, in order; joined by single spaces they give the text back."""
    words = [w for w in text.split(" ") if w]
    groups: list[str] = []
    glue_next = False  # the previous word must stay with this one
    for i, word in enumerate(words):
        if groups and (glue_next or _is_punctuation(word)):
            groups[-1] = f"{groups[-1]} {word}"
        else:
            groups.append(word)
        nxt = words[i + 1] if i + 1 < len(words) else ""
        glue_next = bool(nxt) and (
            (is_numeral(word) and starts_with_counter(nxt))
            or (_CURRENCY_SIGN.match(word) is not None and is_numeral(nxt))
        )
    return groups


@dataclass(frozen=True)
class Breaking:
    lines: tuple[str, ...]
    widths: tuple[float, ...]
    single_unit_lines: int  # lines made of one unit although the text has more than two


def _cost(widths: list[float], max_width: float) -> float:
    """Raggedness: how far each line falls short of the longest one, the last line a bit more so."""
    longest = max(widths)
    cost = sum(((longest - w) / max_width) ** 2 for w in widths[:-1])
    last = (longest - widths[-1]) / max_width
    return cost + 1.5 * last * last


def balanced_lines(text: str, width_of: Callable[[str], float], max_width: float, max_lines: int,
                   max_candidates: int = 20000) -> Breaking | None:
    """The best breaking of `text` (one paragraph) into at most `max_lines` lines no wider than
    `max_width`, or None when no breaking at unit boundaries fits.

    Preference, in order: fewer single-unit lines (only counted when there are more than two
    units), fewer lines, then the smallest raggedness. Every partition is scored exactly (there
    are few: ad copy is a handful of words); beyond `max_candidates` the count of lines tried stops.
    """
    groups = units(text)
    if not groups:
        return Breaking((), (), 0)
    n = len(groups)
    cache: dict[tuple[int, int], float] = {}

    def span(i: int, j: int) -> float:
        if (i, j) not in cache:
            cache[(i, j)] = width_of(" ".join(groups[i:j]))
        return cache[(i, j)]

    best: tuple | None = None
    tried = 0
    for k in range(1, min(max_lines, n) + 1):
        for cuts in itertools.combinations(range(1, n), k - 1):
            tried += 1
            bounds = (0, *cuts, n)
            widths = [span(a, b) for a, b in zip(bounds, bounds[1:])]
            if max(widths) > max_width:
                continue
            singles = sum(1 for a, b in zip(bounds, bounds[1:]) if b - a == 1) if n > 2 and k > 1 else 0
            key = (singles, k, _cost(widths, max_width))
            if best is None or key < best[0]:
                best = (key, bounds, widths)
        if best is not None and best[0][0] == 0:
            break  # more lines cannot beat a breaking with no single-unit line
        if tried > max_candidates:
            break
    if best is None:
        return None
    (singles, _, _), bounds, widths = best
    lines = tuple(" ".join(groups[a:b]) for a, b in zip(bounds, bounds[1:]))
    return Breaking(lines, tuple(widths), singles)


def break_paragraphs(text: str, width_of: Callable[[str], float], max_width: float, max_lines: int) -> Breaking | None:
    """`balanced_lines` for text with explicit line breaks: each paragraph breaks on its own and
    the line budget is shared (a paragraph gets at least one line)."""
    paragraphs = [p for p in text.split("\n") if p.strip()]
    if len(paragraphs) <= 1:
        return balanced_lines(paragraphs[0] if paragraphs else "", width_of, max_width, max_lines)
    budget = max_lines - len(paragraphs) + 1
    if budget < 1:
        return None
    lines: list[str] = []
    widths: list[float] = []
    singles = 0
    for paragraph in paragraphs:
        part = balanced_lines(paragraph, width_of, max_width, budget)
        if part is None:
            return None
        lines += part.lines
        widths += part.widths
        singles += part.single_unit_lines
        budget -= len(part.lines) - 1
    return Breaking(tuple(lines), tuple(widths), singles)
