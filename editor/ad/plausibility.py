"""Is this cut-out believable? Checks that catch a cut-out gone wrong before an ad is built on it.

A cut-out model always returns *something*; the user must be told when that something is
probably not the product, in words they can act on (the brush editor is where they fix it).
The checks look at the alpha only, so they apply to every method alike:

- empty: nothing was kept;
- tiny: a sliver of the photo was kept (a reflection, a logo, a light flare);
- whole photo: nearly everything was kept (the background is still there);
- touches all borders: a product photographed whole rarely touches all four edges; a cut-out
  that does has usually kept the background (or a table) around the product;
- fragments: the kept area falls into many comparable pieces;
- unsure: the method itself was unsure (a wide band of half-transparent pixels, or the
  offline matting's own low-confidence flag).

Each concern carries neutral English and a message-catalogue key (`cutout_check.<code>`), with
the numbers as values, so every front end can say it in the user's language.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from editor.notices import Notice

SOLID = 0.5  # alpha above this counts as product
MIN_COVERAGE = 0.02  # below: "tiny"
MAX_COVERAGE = 0.95  # above: "whole photo"
BORDER_TOUCH = 0.05  # a side is touched when this share of its edge pixels is product
FRAGMENT_AREA = 0.002  # pieces smaller than this share of the photo are specks, not fragments
MAX_FRAGMENTS = 3  # more comparable pieces than this: "fragments"
MAIN_PIECE_SHARE = 0.75  # ...unless the biggest piece holds this share of the product anyway
MAX_UNSURE_SHARE = 0.35  # half-transparent pixels, relative to the product area


@dataclass(frozen=True)
class Verdict:
    """The result of the checks: `plausible` when there is no concern."""

    concerns: tuple[Notice, ...]
    coverage: float  # share of the photo that is product
    pieces: int  # connected product pieces larger than a speck
    borders_touched: int  # 0..4

    @property
    def plausible(self) -> bool:
        return not self.concerns

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(c.code for c in self.concerns)

    def to_report(self) -> dict:
        return {"plausible": self.plausible, "coverage": round(self.coverage, 4), "pieces": self.pieces,
                "borders_touched": self.borders_touched, "concerns": [c.to_report() for c in self.concerns]}


def _percent(share: float) -> str:
    return f"{100 * share:.1f}" if share < 0.1 else f"{100 * share:.0f}"


def _borders_touched(solid: np.ndarray) -> int:
    sides = (solid[0, :], solid[-1, :], solid[:, 0], solid[:, -1])
    return sum(bool(side.mean() > BORDER_TOUCH) for side in sides)


def _pieces(solid: np.ndarray) -> tuple[int, float]:
    """(number of pieces bigger than a speck, the biggest piece's share of the product)."""
    labels, count = ndimage.label(solid)
    if count == 0:
        return 0, 0.0
    sizes = np.asarray(ndimage.sum(solid, labels, index=np.arange(1, count + 1)))
    real = sizes[sizes >= max(FRAGMENT_AREA * solid.size, 16)]
    return int(len(real)), float(sizes.max() / sizes.sum())


def _concern(code: str, message: str, **values) -> Notice:
    return Notice(f"cutout_check.{code}", message.format(**values), values)


def check_cutout(alpha: np.ndarray, method_unsure: bool = False) -> Verdict:
    """Check a cut-out's alpha (H×W, [0, 1]). `method_unsure`: the method flagged low confidence."""
    alpha = np.asarray(alpha, np.float32)
    solid = alpha > SOLID
    coverage = float(solid.mean())
    if not solid.any():
        return Verdict((_concern("empty", "The cut-out found no product in this photo. Paint the product with the add "
                                          "brush."),), 0.0, 0, 0)
    concerns: list[Notice] = []
    if coverage < MIN_COVERAGE:
        concerns.append(_concern("tiny", "The cut-out kept only {percent}% of the photo; it may have missed the product. "
                                         "Check it and paint the missing parts.", percent=_percent(coverage)))
    if coverage > MAX_COVERAGE:
        concerns.append(_concern("whole_photo", "The cut-out kept almost the whole photo ({percent}%); the background is "
                                                "probably still there. Paint the background out.", percent=_percent(coverage)))
    touched = _borders_touched(solid)
    if touched == 4 and coverage <= MAX_COVERAGE:
        concerns.append(_concern("touches_all_borders", "The cut-out touches all four edges of the photo; part of the "
                                                        "background is probably still in it. Check the edges."))
    pieces, main_share = _pieces(solid)
    if pieces > MAX_FRAGMENTS and main_share < MAIN_PIECE_SHARE:
        concerns.append(_concern("fragments", "The cut-out is in {count} separate pieces; background may have been kept "
                                              "or the product broken up. Check it.", count=pieces))
    unsure_share = float(((alpha > 0.1) & (alpha < 0.9)).sum() / max(solid.sum(), 1))
    if method_unsure or unsure_share > MAX_UNSURE_SHARE:
        concerns.append(_concern("unsure", "The cut-out is unsure where the product ends in this photo. Check the edges "
                                           "and fix them with the brush."))
    return Verdict(tuple(concerns), coverage, pieces, touched)
