"""What a front end asks for to select by tapping, and what it gets back.

Like every request (`editor.studio.requests`), a `SelectRequest` refuses a bad value when it is
made, with one line naming the field: a point that is not two numbers or not a number at all, no
"this" tap, a grow or feather out of range. Whether the points fall on the photo is checked by
the job, once it has read the photo.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from editor.errors import InputError
from editor.select.adjust import Adjustments
from editor.select.points import Tap, as_taps


@dataclass(frozen=True)
class SelectRequest:
    """Select what the taps point at. points / negatives: (x, y) pairs in photo pixels (or "X,Y"
    text): "this" and "not this". grow_px (negative: shrink) and feather_px in photo pixels;
    invert: select the rest of the photo instead."""

    image: Any  # path, bytes, PIL image or array
    points: tuple = ()
    negatives: tuple = ()
    grow_px: int = 0
    feather_px: int = 0
    invert: bool = False

    def __post_init__(self):
        if self.image is None:
            raise InputError("Upload a photo first.", key="no_image", field="image")
        object.__setattr__(self, "points", tuple(self.points or ()))
        object.__setattr__(self, "negatives", tuple(self.negatives or ()))
        as_taps(self.points, self.negatives)
        self.adjustments  # noqa: B018 - checks grow, feather and invert now

    @property
    def taps(self) -> tuple[Tap, ...]:
        return as_taps(self.points, self.negatives)

    @property
    def adjustments(self) -> Adjustments:
        return Adjustments(self.grow_px, self.feather_px, self.invert)


@dataclass
class SelectOutcome:
    mask: np.ndarray  # float32 H×W in [0, 1] at the photo's size (1: selected)
    report: dict
