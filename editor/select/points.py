"""Taps on the photo: where the user pointed, and whether it means "this" or "not this".

A tap is in photo pixels (x to the right, y down, from the photo's top-left corner), as the CLI's
`--point X,Y` and the browser's click both give it. Every bad tap is refused with one line naming
it: not two numbers, not a number (NaN, infinity), or off the photo.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from editor.errors import InputError
from editor.validation import shown

MAX_TAPS = 200  # a rough scribble sampled into taps stays far below this


@dataclass(frozen=True)
class Tap:
    x: float
    y: float
    positive: bool = True  # False: "not this" (remove what is under it)

    @property
    def field(self) -> str:
        return "points" if self.positive else "negatives"


def parse_point(text: str, field: str = "points") -> tuple[float, float]:
    """'X,Y' (photo pixels) -> (x, y). Refuses anything else with one line."""
    parts = str(text).replace(" ", "").split(",")
    try:
        if len(parts) != 2:
            raise ValueError
        x, y = float(parts[0]), float(parts[1])
    except ValueError:
        raise InputError(f"A point is X,Y in photo pixels (for example 420,310); got {shown(text)}.",
                         key="select_bad_point", field=field, value=shown(text)) from None
    return x, y


def as_taps(points, negatives=()) -> tuple[Tap, ...]:
    """Positive and negative points -> taps, each checked to be two finite numbers (where they fall
    is checked against the photo by `check_on_photo`, once the photo is read)."""
    taps = []
    for values, positive in ((points, True), (negatives, False)):
        field = "points" if positive else "negatives"
        for point in values or ():
            if isinstance(point, Tap):
                taps.append(point)
                continue
            if isinstance(point, str):
                point = parse_point(point, field)
            try:
                x, y = point
                x, y = float(x), float(y)
            except (TypeError, ValueError):
                raise InputError(f"A point is two numbers, x and y in photo pixels; got {shown(point)}.",
                                 key="select_bad_point", field=field, value=shown(point)) from None
            if not (math.isfinite(x) and math.isfinite(y)):
                raise InputError(f"The point ({x:g}, {y:g}) is not a position on the photo: x and y must be numbers.",
                                 key="select_point_not_number", field=field, x=f"{x:g}", y=f"{y:g}")
            taps.append(Tap(x, y, positive))
    if len(taps) > MAX_TAPS:
        raise InputError(f"Too many points ({len(taps)}, at most {MAX_TAPS}).", key="select_too_many_points",
                         field="points", count=len(taps), limit=MAX_TAPS)
    if not any(t.positive for t in taps):
        raise InputError("Tap the thing to select first (at least one point on it).", key="select_no_point",
                         field="points")
    return tuple(taps)


def check_on_photo(taps: tuple[Tap, ...], width: int, height: int) -> None:
    """Every tap on the photo: 0 <= x < width and 0 <= y < height (photo pixels)."""
    for tap in taps:
        if not (0 <= tap.x < width and 0 <= tap.y < height):
            raise InputError(f"The point ({tap.x:g}, {tap.y:g}) is outside the {width}×{height} photo.",
                             key="select_point_outside", field=tap.field, x=f"{tap.x:g}", y=f"{tap.y:g}",
                             width=width, height=height)
