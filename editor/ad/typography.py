"""The ad's text block: copy, type scale, line breaking, and where every line's ink lands.

One block, one column, one alignment axis. Its elements stack top to bottom: the brand mark
(when the brand kit asks for it there), headline, sub-line, price and the call-to-action button.
Their sizes follow the format's type scale (headline = price × r = sub-line × r² = button × r³).
`fit_block` picks the largest scale at which every element breaks into balanced lines within the
column and the stack fits its height, keeping the headline on one line when that is possible at
a size not below the format's one-line minimum.

Alignment is by ink, not by boxes: each line is shifted by its own left side bearing (measured
on the rendered glyphs), so the visible left edges of all lines, the old price and the button
share one x (optical margin alignment); centred blocks centre the ink.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

import numpy as np

from editor.ad import text as textlib
from editor.ad.fonts import FontBook
from editor.ad.formats import AdFormat
from editor.ad.linebreak import balanced_lines, units

ROLES = ("headline", "subline", "price", "cta")
STEPS = {"cta": 0, "subline": 1, "price": 2, "headline": 3}
WEIGHTS = {"headline": "display", "subline": "regular", "price": "bold", "cta": "bold", "old_price": "regular",
           "brand": "display", "badge": "bold"}
LEADING = {"headline": 1.2, "subline": 1.4, "price": 1.2, "cta": 1.2, "brand": 1.2}
MAX_LINES = {"headline": 3, "subline": 3, "price": 2, "cta": 1, "brand": 1}
# Space above an element, in units of the button's size (the scale's base step).
GAP_BEFORE = {"headline": 1.5, "subline": 1.1, "price": 1.4, "cta": 1.5}
EMPHASES = ("accent", "bold", "plain")
DISPLAY_BOOST = 1.5
ALIGNS = ("left", "center")
_PRICE_ARROW = re.compile(r"\s*(?:→|->|⇒|=>|➔|➜)\s*")
_AMOUNT = re.compile(r"\d[\d,]*(?:\.\d+)?")
# Headline words that announce something new (a "NEW" badge): Korean and English.
_NEW_WORDS = re.compile(r"(신메뉴|신상품|신상|신제품|새 ?메뉴|새로운|출시|\bnew\b)", re.IGNORECASE)
GLUE = "\u00a0"  # a no-break space: words joined by it never go to different lines
_HANGUL_REFERENCE = "한글가나"  # the ink height every line's box is measured against


@dataclass(frozen=True)
class Copy:
    """The ad's texts, normalised; an old price can be given on its own or as "5,500원 → 4,500원"."""

    headline: str = ""
    subline: str = ""
    price: str = ""
    old_price: str = ""
    cta: str = ""

    @classmethod
    def from_texts(cls, texts: dict, keep_together: tuple[str, ...] = ()) -> Copy:
        """`keep_together`: names (the shop's) whose words must stay on one line wherever they occur."""
        get = {k: textlib.normalise(texts.get(k)) for k in ("headline", "subline", "price", "old_price", "cta")}
        price, old = get["price"].replace("\n", " "), get["old_price"].replace("\n", " ")
        parts = _PRICE_ARROW.split(price)
        if len(parts) == 2 and all(parts):
            old, price = old or parts[0], parts[1]
        headline, subline = get["headline"], get["subline"]
        for name in keep_together:
            name = textlib.normalise(name)
            if " " in name:
                headline, subline = (t.replace(name, name.replace(" ", GLUE)) for t in (headline, subline))
        return cls(headline, subline, price, old, get["cta"].replace("\n", " "))

    def discount(self) -> str | None:
        """"-18%" for "5,500원 → 4,500원": the saving as a whole percentage, rounded; None when the
        prices cannot be read as amounts or the new one is not lower."""
        old, new = (_amount(t) for t in (self.old_price, self.price))
        if old is None or new is None or not 0 < new < old:
            return None
        percent = round((old - new) / old * 100)
        return f"-{percent}%" if percent >= 1 else None

    def is_new(self) -> bool:
        return bool(_NEW_WORDS.search(self.headline.replace(GLUE, " ")))

    def badge_texts(self) -> dict[str, str]:
        """The badges this copy earns: "discount" ("-18%") with an old price, "new" ("NEW")."""
        out = {}
        if (d := self.discount()) is not None:
            out["discount"] = d
        if self.is_new() and not re.search(r"\bnew\b", self.headline, re.IGNORECASE):  # not twice: "NEW 케이크"
            out["new"] = "NEW"
        return out

    def text(self, role: str) -> str:
        return getattr(self, role)

    def without_missing(self, book: FontBook) -> tuple[Copy, dict[str, list[str]]]:
        """The copy without characters the fonts lack (reported per element, never drawn as boxes)."""
        values, missing = {}, {}
        for name in ("headline", "subline", "price", "old_price", "cta"):
            kept, lacking = getattr(self, name), []
            for weight in ("bold", "regular", "display") if name == "headline" else ("bold", "regular"):
                kept, gone = textlib.drop_missing(book.font(32, weight), kept)
                lacking += [ch for ch in gone if ch not in lacking]
            values[name] = kept
            if lacking:
                missing[name] = lacking
        return Copy(**values), missing


def _amount(text: str) -> float | None:
    found = _AMOUNT.findall(text or "")
    if len(found) != 1:
        return None
    try:
        return float(found[0].replace(",", ""))
    except ValueError:
        return None


def missing_notes(missing: dict[str, list[str]]) -> list[str]:
    return [f"{name}: the font has no glyph for {''.join(chars)!r}; left out" for name, chars in missing.items()]


def type_sizes(headline_px: float, ratio: float) -> dict[str, int]:
    """Pixel size of every role for a headline size, on the format's ratio."""
    return {role: max(7, round(headline_px / ratio ** (STEPS["headline"] - step))) for role, step in STEPS.items()}


@dataclass(frozen=True)
class Ink:
    """Where a string's visible ink is, relative to its drawing origin (anchor "ls": left, baseline)."""

    left: int
    right: int
    top: int
    bottom: int


def ink(book: FontBook, size: int, weight: str, text: str) -> Ink:
    """Ink extents as drawn, pixels at least half covered (what the eye reads as the edge)."""
    left, top, right, bottom = book.ink(size, weight, text)
    return Ink(left, right, top, bottom)


def _extent(book: FontBook, size: int, weight: str, text: str, exact: bool) -> Ink:
    """Ink extents, or (while searching sizes, `exact` False) the advance box, which is cheap."""
    if exact:
        return ink(book, size, weight, text)
    return Ink(0, round(book.length(size, weight, text)), 0, 0)


@dataclass(frozen=True)
class Run:
    text: str
    weight: str
    size: int
    colour: str  # "text" | "muted" | "accent" | "button": resolved to a colour when the block is drawn
    dx: int  # drawing origin, from the line's drawing origin
    strike: bool = False


@dataclass(frozen=True)
class Line:
    element: str  # "brand", "headline", "subline", "price", "cta"
    runs: tuple[Run, ...]
    x: int  # drawing origin, relative to the block's axis
    baseline: int  # relative to the block's top
    left: int  # visible ink box, relative to the block's axis and top
    right: int
    top: int
    bottom: int


@dataclass(frozen=True)
class Pill:
    """The call-to-action button's shape, relative to the block's axis and top."""

    left: int
    top: int
    right: int
    bottom: int


@dataclass(frozen=True)
class LogoBox:
    left: int
    top: int
    right: int
    bottom: int


@dataclass(frozen=True)
class Block:
    """A fitted text block. Coordinates relative to (axis x, top y); `left` ≤ 0 ≤ `right`."""

    align: str
    headline_px: int
    sizes: dict
    lines: tuple[Line, ...]
    pill: Pill | None
    logo: LogoBox | None
    left: int
    right: int
    height: int
    notes: tuple[str, ...] = field(default_factory=tuple)
    badges: tuple[Pill, ...] = ()  # the badge tags in the block (above the headline, beside the price), in order
    badge_places: tuple[str, ...] = ()  # "above" or "beside", one per tag in `badges`

    @property
    def width(self) -> int:
        return self.right - self.left

    def headline_lines(self) -> tuple[str, ...]:
        return tuple("".join(r.text for r in line.runs) for line in self.lines if line.element == "headline")


@dataclass(frozen=True)
class BrandMark:
    """What the brand puts in the block: its logo (RGBA pixels) or, without one, the shop name."""

    name: str = ""
    logo: np.ndarray | None = None  # uint8 H×W×4
    height: float = 0.0  # logo height, fraction of the canvas's shorter side


def _break(role: str, text: str, book: FontBook, size: int, weight: str, max_width: float, char_break: bool) -> tuple[str, ...] | None:
    if not text:
        return ()
    breaking = balanced_lines(text, lambda t: book.length(size, weight, t), max_width, MAX_LINES[role])
    if breaking is not None:
        return breaking.lines
    if not char_break:
        return None
    lines = textlib.wrap(book.font(size, weight), text, max_width)  # a word wider than the column: characters
    return tuple(lines) if len(lines) <= MAX_LINES[role] else None


def _price_rows(copy: Copy, sizes: dict, book: FontBook, emphasis: str, max_width: float, char_break: bool):
    """Rows of runs for the price: old price (struck) and new price on one row when they fit, else two."""
    new_weight = "regular" if emphasis == "plain" else "bold"
    new_colour = "accent" if emphasis == "accent" else "text"
    # A price is never broken inside a word ("4,500원" stays whole): no character fallback.
    new_lines = _break("price", copy.price, book, sizes["price"], new_weight, max_width, False) if copy.price else ()
    if new_lines is None:
        return None
    rows = [[(t, new_weight, sizes["price"], new_colour, False)] for t in new_lines]
    if copy.old_price:
        old_width = book.length(sizes["subline"], "regular", copy.old_price)
        if old_width > max_width:
            return None
        gap = _run_gap(sizes["price"])
        old_run = (copy.old_price, "regular", sizes["subline"], "muted", True)
        if rows and old_width + gap + book.length(sizes["price"], new_weight, new_lines[0]) <= max_width:
            rows[0] = [old_run, *rows[0]]
        else:
            rows.insert(0, [old_run])
        if len(rows) > MAX_LINES["price"] + 1:
            return None
    return rows


class _Metrics:
    """Reference ink heights per (weight, size), so every line gets the same top and bottom."""

    def __init__(self, book: FontBook):
        self.book = book
        self._cache: dict[tuple[str, int], tuple[int, int]] = {}

    def ascent_descent(self, weight: str, size: int) -> tuple[int, int]:
        key = (weight, size)
        if key not in self._cache:
            box = ink(self.book, size, weight, _HANGUL_REFERENCE)
            self._cache[key] = (-box.top, box.bottom)
        return self._cache[key]


def _rows(copy: Copy, sizes: dict, book: FontBook, emphasis: str, max_width: float, char_break: bool):
    """(element, rows) for every non-empty element; a row is a list of run tuples. None: does not fit."""
    out = []
    for role in ROLES:
        if role == "price":
            if not (copy.price or copy.old_price):
                continue
            rows = _price_rows(copy, sizes, book, emphasis, max_width, char_break)
        else:
            text = copy.text(role)
            if not text:
                continue
            weight = WEIGHTS[role]
            width = max_width - (2 * _pill_pad(sizes["cta"]) if role == "cta" else 0)
            lines = _break(role, text, book, sizes[role], weight, width, char_break and role != "cta")
            rows = None if lines is None else [[(t, weight, sizes[role], "button" if role == "cta" else "text", False)] for t in lines]
        if rows is None:
            return None
        out.append((role, rows))
    return out


def _pill_pad(cta: int) -> int:
    return round(1.15 * cta)


def _place_rows(row, book: FontBook, exact: bool):
    """One row of runs laid out left to right: the runs and the visible ink box from the row's
    origin (left, right, top, bottom; top and bottom relative to the baseline)."""
    dx = 0
    runs = []
    left = right = top = bottom = 0
    for i, (text, weight, size, colour, strike) in enumerate(row):
        if i:
            dx += _run_gap(size)
        box = _extent(book, size, weight, text, exact)
        if i == 0:
            left = dx + box.left
        right = dx + box.right
        top, bottom = min(top, box.top), max(bottom, box.bottom)
        runs.append(Run(text, weight, size, colour, dx, strike))
        dx += round(book.length(size, weight, text))
    return runs, Ink(left, right, top, bottom)


def _run_gap(size: int) -> int:
    return round(0.4 * size)


def tags_at(badges: tuple[tuple[str, str], ...], place: str) -> tuple[str, ...]:
    """The texts of the badges (text, place) that go at `place`: "above", "beside" or "corner"."""
    return tuple(text for text, where in badges if where == place)


def badge_size(sizes: dict) -> int:
    """A tag's type size: just under the button's, so a tag never outshouts the call to action."""
    return max(7, round(sizes["cta"] * 0.95))


TAG_HEIGHT, STICKER_HEIGHT = 1.75, 2.6  # a tag's height, times its type size (a sticker's text sits in a circle)


def tag_height(size: int, round_tags: bool = False) -> int:
    return round(size * (STICKER_HEIGHT if round_tags else TAG_HEIGHT))


def _tag_widths(texts: tuple[str, ...], book: FontBook, size: int, round_tags: bool) -> list[int]:
    """Each tag's width; round tags are circles of one diameter, wide enough for the longest text."""
    pad = round((0.55 if round_tags else 0.7) * size)
    widths = [round(book.length(size, WEIGHTS["badge"], t)) + 2 * pad for t in texts]
    return [max(*widths, tag_height(size, True))] * len(widths) if round_tags else widths


def _tag_gap(size: int) -> int:
    return round(0.45 * size)


def tag_row_width(texts: tuple[str, ...], book: FontBook, size: int, round_tags: bool = False) -> int:
    widths = _tag_widths(texts, book, size, round_tags)
    return sum(widths) + _tag_gap(size) * (len(widths) - 1)


def tag_row(texts: tuple[str, ...], book: FontBook, size: int, x: int, y: int, metrics: _Metrics | None = None,
            exact: bool = True, round_tags: bool = False) -> tuple[list[Pill], Line]:
    """Tags side by side from (x, y), their top-left, each text centred in its own pill (a circle
    when `round_tags`: a sticker): the pills and one "badge" line with one run per tag."""
    weight = WEIGHTS["badge"]
    asc, desc = (metrics or _Metrics(book)).ascent_descent(weight, size)
    widths = _tag_widths(texts, book, size, round_tags)
    ph = widths[0] if round_tags else tag_height(size)
    pills: list[Pill] = []
    origins: list[int] = []
    for text, pw in zip(texts, widths):
        box = _extent(book, size, weight, text, exact)
        pills.append(Pill(x, y, x + pw, y + ph))
        origins.append(x + round((pw - (box.right - box.left)) / 2) - box.left)
        x += pw + _tag_gap(size)
    runs = tuple(Run(text, weight, size, "button", o - origins[0]) for text, o in zip(texts, origins))
    baseline = y + round((ph + asc - desc) / 2)
    return pills, Line("badge", runs, origins[0], baseline, pills[0].left, pills[-1].right, y, y + ph)


def build_block(copy: Copy, sizes: dict, headline_px: int, book: FontBook, align: str, emphasis: str,
                max_width: float, brand: BrandMark | None, short_side: int, char_break: bool = False,
                exact: bool = True, badges: tuple[tuple[str, str], ...] = ()) -> Block | None:
    """The block at these sizes, or None when an element cannot break into its line budget.
    `badges` are (text, place) pairs: "above" tags make a row over the headline, "beside" tags
    follow the new price on its row (or sit right under it); "corner" stickers are not part of
    the block (the composition places them beside the product).
    `exact` False measures lines by their advance instead of their ink (for the size search)."""
    element_rows = _rows(copy, sizes, book, emphasis, max_width, char_break)
    if element_rows is None:
        return None
    metrics = _Metrics(book)
    base = sizes["cta"]
    lines: list[Line] = []
    pill = logo = None
    y = 0
    first = True
    if brand is not None and (brand.logo is not None or brand.name):
        if brand.logo is not None:
            lh = max(8, round(brand.height * short_side))
            lw = round(brand.logo.shape[1] * lh / max(brand.logo.shape[0], 1))
            if lw > max_width:
                lw, lh = int(max_width), max(4, round(brand.logo.shape[0] * max_width / brand.logo.shape[1]))
            x0 = 0 if align == "left" else -(lw // 2)
            logo = LogoBox(x0, 0, x0 + lw, lh)
            y = lh
        else:  # the shop name as a wordmark, at the sub-line's size
            name_size = sizes["subline"]
            mark = WEIGHTS["brand"]
            if book.length(name_size, mark, brand.name) > max_width:  # a shop name never breaks
                return None
            asc, desc = metrics.ascent_descent(mark, name_size)
            runs, box = _place_rows([(brand.name, mark, name_size, "text", False)], book, exact)
            asc, desc = max(asc, -box.top), max(desc, box.bottom)
            x = -box.left if align == "left" else -round((box.left + box.right) / 2)
            lines.append(Line("brand", tuple(runs), x, asc, x + box.left, x + box.right, 0, asc + desc))
            y = asc + desc
        first = False
    badge_pills: list[Pill] = []
    badge_places: list[str] = []
    beside = tags_at(badges, "beside")
    above = tags_at(badges, "above")
    if beside and not (copy.price or copy.old_price):  # nothing to stand beside: the tags go above
        above, beside = above + beside, ()
    tag_size = badge_size(sizes)
    if above:  # tags in a row above the headline, drawn like small buttons
        total = tag_row_width(above, book, tag_size)
        if total > max_width:
            return None
        if not first:
            y += round(0.8 * base)
        pills, line = tag_row(above, book, tag_size, 0 if align == "left" else -(total // 2), y, metrics, exact)
        lines.append(line)
        badge_pills += pills
        badge_places += ["above"] * len(pills)
        y = line.bottom
        first = False
    for role, rows in element_rows:
        if not first:
            y += round(GAP_BEFORE[role] * base)
        first = False
        if role == "cta":
            (text, weight, size, colour, strike), = rows[0]
            asc, desc = metrics.ascent_descent(weight, size)
            pad = _pill_pad(size)
            ph = round(size * 2.3)
            pw = round(book.length(size, weight, text)) + 2 * pad
            box = _extent(book, size, weight, text, exact)
            px0 = 0 if align == "left" else -(pw // 2)
            pill = Pill(px0, y, px0 + pw, y + ph)
            baseline = y + round((ph + asc - desc) / 2)
            tx = px0 + round((pw - (box.right - box.left)) / 2) - box.left  # ink centred in the pill
            lines.append(Line("cta", (Run(text, weight, size, colour, 0),), tx, baseline, px0, px0 + pw, y, y + ph))
            y += ph
            continue
        element_lines: list[Line] = []
        for i, row in enumerate(rows):
            size = max(r[2] for r in row)
            weight = row[-1][1]
            asc, desc = metrics.ascent_descent(weight, size)
            if i == 0:
                baseline = y + asc
            else:
                baseline = element_lines[-1].baseline + round(size * LEADING[role])
            runs, box = _place_rows(row, book, exact)
            # Tags beside the price follow its last row (the new price) when the row has room for them.
            tail = 0
            if role == "price" and beside and i == len(rows) - 1:
                # no taller than the price's ink, so the row keeps its height
                beside_size = min(tag_size, max(7, int((max(asc, -box.top) + max(desc, box.bottom)) / TAG_HEIGHT)))
                room = box.right - box.left + _run_gap(size) + tag_row_width(beside, book, beside_size)
                tail = room - (box.right - box.left) if room <= max_width else 0
            x = -box.left if align == "left" else -round((box.left + box.right + tail) / 2)
            # The box holds the reference Hangul height and any ink beyond it (a comma's tail).
            line = Line(role, tuple(runs), x, baseline, x + box.left, x + box.right,
                        baseline - max(asc, -box.top), baseline + max(desc, box.bottom))
            element_lines.append(line)
            if tail:  # the tags' pills centred on the price's ink height
                pills, tags = tag_row(beside, book, beside_size, line.right + _run_gap(size),
                                      round((line.top + line.bottom - tag_height(beside_size)) / 2), metrics, exact)
                element_lines.append(tags)
                badge_pills += pills
                badge_places += ["beside"] * len(pills)
                beside = ()
        if role == "price" and beside:  # no room on the price's row: the tags go right under it
            total = tag_row_width(beside, book, tag_size)
            if total > max_width:
                return None
            top = max(ln.bottom for ln in element_lines) + round(0.5 * base)
            pills, tags = tag_row(beside, book, tag_size, 0 if align == "left" else -(total // 2), top, metrics, exact)
            element_lines.append(tags)
            badge_pills += pills
            badge_places += ["beside"] * len(pills)
        lines += element_lines
        y = max(ln.bottom for ln in element_lines)
    if not lines and logo is None:
        return None
    spans = [(ln.left, ln.right) for ln in lines] + ([(logo.left, logo.right)] if logo else [])
    left = min(a for a, _ in spans)
    right = max(b for _, b in spans)
    return Block(align, headline_px, dict(sizes), tuple(lines), pill, logo, left, right, y, badges=tuple(badge_pills),
                 badge_places=tuple(badge_places))


def _candidate_sizes(hi: float, lo: float) -> list[int]:
    sizes, s = [], float(hi)
    while s >= lo - 1e-9:
        if not sizes or round(s) != sizes[-1]:
            sizes.append(round(s))
        s *= 0.97
    return sizes or [round(lo)]


def fit_block(copy: Copy, book: FontBook, fmt: AdFormat, max_width: float, max_height: float, *, align: str = "left",
              emphasis: str = "accent", brand: BrandMark | None = None, headline_px: int | None = None,
              badges: tuple[tuple[str, str], ...] = ()) -> Block | None:
    """The best block that fits `max_width` × `max_height` (pixels of this canvas), or None.

    Preference: a one-line headline at a size not below the format's one-line minimum; else the
    headline breaking with the fewest single-word lines; then the largest size. `headline_px`
    asks for a headline size instead; the block is only made smaller when that does not fit.
    """
    S = fmt.short_side
    ratio = fmt.type_ratio
    floor = fmt.headline_min * S

    def attempt(px: int, char_break: bool = False) -> Block | None:
        rough = build_block(copy, type_sizes(px, ratio), px, book, align, emphasis, max_width, brand, S, char_break,
                            exact=False, badges=badges)
        if rough is None or rough.height > max_height or rough.width > max_width:
            return None
        block = build_block(copy, type_sizes(px, ratio), px, book, align, emphasis, max_width, brand, S, char_break,
                            badges=badges)
        if block is None or block.height > max_height or block.width > max_width:
            return None
        return block

    if headline_px is not None:
        candidates = [int(headline_px)] + [s for s in _candidate_sizes(headline_px, floor) if s < headline_px]
        order = candidates
    else:
        candidates = _candidate_sizes(fmt.headline_max * S * _display_boost(copy.headline), floor)
        order = _headline_order(copy.headline, book, candidates, max_width, fmt.headline_one_line_min * S)
    for px in order:
        best = attempt(px)
        if best is not None:
            break
    else:  # words longer than the column: break inside them, at the smallest sizes
        for px in candidates[-3:]:
            best = attempt(px, char_break=True)
            if best is not None:
                return best
        return None
    if headline_px is not None and best.headline_px < headline_px:
        note = f"the text was made smaller ({best.headline_px} px headline instead of {headline_px}) to fit"
        return replace(best, notes=(note,))
    return best


def _display_boost(headline: str) -> float:
    """A headline of one or two words may be set larger than the format's usual largest size (as
    display type), so a short ad still fills its canvas."""
    return DISPLAY_BOOST if 0 < len(units(headline)) <= 2 else 1.0


def _headline_order(headline: str, book: FontBook, candidates: list[int], max_width: float, one_line_min: float) -> list[int]:
    """Candidate sizes, best first: one line (at or above `one_line_min`, largest first), then by
    fewest single-word lines and largest size; sizes where the headline cannot break go last."""
    if not headline:
        return candidates
    keyed = []
    for px in candidates:
        weight = WEIGHTS["headline"]
        breaking = balanced_lines(headline, lambda t, px=px: book.length(px, weight, t), max_width, MAX_LINES["headline"])
        if breaking is None:
            continue
        one_line = len(breaking.lines) == 1
        if one_line and px >= one_line_min:
            keyed.append(((0, 0, -px), px))
        elif not one_line:
            keyed.append(((1, breaking.single_unit_lines, -px), px))
        else:  # one line only at a size below the one-line minimum: a last resort
            keyed.append(((2, 0, -px), px))
    ranked = [px for _, px in sorted(keyed)]
    return ranked + [px for px in candidates if px not in ranked]
