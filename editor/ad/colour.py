"""Colour for ads: WCAG contrast, CIELAB lightness, and making a colour readable on a background.

Readability is measured, never assumed: `min_contrast` takes the actual pixels a text covers,
and `readable` moves a colour's CIELAB lightness (keeping its hue) until every one of those
pixels is at least `MIN_CONTRAST` away, or says that no lightness is.
"""

from __future__ import annotations

import warnings

import numpy as np
from skimage import color as skcolor

from editor.errors import InputError

MIN_CONTRAST = 4.5  # WCAG 2 AA for normal text
MARGIN = 0.05  # aim a little above the bar so rounding on the way to 8-bit pixels cannot undercut it
WHITE, DARK = (255, 255, 255), (17, 17, 17)

RGB = tuple[int, int, int]


def parse_hex(value: str) -> RGB:
    v = str(value).strip().lstrip("#")
    if len(v) != 6 or any(c not in "0123456789abcdefABCDEF" for c in v):
        raise InputError(f"'{value}' is not a colour like #1a2b3c.", key="bad_colour", field="color", value=str(value))
    return int(v[0:2], 16), int(v[2:4], 16), int(v[4:6], 16)


def to_hex(rgb) -> str:
    return "#%02x%02x%02x" % tuple(int(c) for c in rgb)


def relative_luminance(rgb) -> np.ndarray:
    c = np.asarray(rgb, np.float64) / 255.0
    lin = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    return lin[..., 0] * 0.2126 + lin[..., 1] * 0.7152 + lin[..., 2] * 0.0722


def contrast_ratio(a, b) -> np.ndarray:
    la, lb = relative_luminance(a), relative_luminance(b)
    return (np.maximum(la, lb) + 0.05) / (np.minimum(la, lb) + 0.05)


def min_contrast(colour, pixels: np.ndarray) -> float:
    """The worst WCAG contrast between `colour` and any of `pixels` (N×3 or H×W×3)."""
    px = np.asarray(pixels, np.float64).reshape(-1, 3)
    if not len(px):
        return float("inf")
    lum = relative_luminance(px)
    # Only the darkest and the lightest pixel can be the worst case.
    extremes = np.array([lum.min(), lum.max()])
    lc = float(relative_luminance(np.asarray(colour, np.float64)))
    return float(((np.maximum(lc, extremes) + 0.05) / (np.minimum(lc, extremes) + 0.05)).min())


def to_lab(rgb) -> np.ndarray:
    arr = np.asarray(rgb, np.float64) / 255.0
    return skcolor.rgb2lab(arr.reshape(-1, 1, 3)).reshape(arr.shape)


def from_lab(lab) -> RGB:
    """The nearest displayable sRGB colour (chroma is reduced, not clipped per channel, when out of gamut)."""
    lab = np.asarray(lab, np.float64).copy()
    for _ in range(24):
        with warnings.catch_warnings():  # out-of-gamut values are handled right below
            warnings.simplefilter("ignore")
            rgb = skcolor.lab2rgb(lab.reshape(1, 1, 3)).reshape(3)
        back = skcolor.rgb2lab(np.clip(rgb, 0, 1).reshape(1, 1, 3)).reshape(3)
        if np.abs(back - lab).max() < 1.0:
            break
        lab[1:] *= 0.9
    return tuple(int(round(v)) for v in np.clip(rgb, 0, 1) * 255)


def lightness(rgb) -> float:
    return float(to_lab(rgb)[0])


def chroma(rgb) -> float:
    lab = to_lab(rgb)
    return float(np.hypot(lab[1], lab[2]))


def with_lightness(rgb, L: float, chroma_scale: float = 1.0) -> RGB:
    lab = to_lab(rgb)
    return from_lab((float(np.clip(L, 0, 100)), lab[1] * chroma_scale, lab[2] * chroma_scale))


def readable(colour, pixels: np.ndarray, target: float = MIN_CONTRAST + MARGIN) -> RGB | None:
    """`colour`, or the closest colour of the same hue (by CIELAB lightness) whose contrast with
    every pixel is at least `target`; None when no lightness gets there (a background with both
    very dark and very light pixels)."""
    colour = tuple(int(c) for c in colour)
    if min_contrast(colour, pixels) >= target:
        return colour
    L0 = lightness(colour)
    found: list[tuple[float, RGB]] = []
    for end in (0.0, 100.0):
        candidate = with_lightness(colour, end)
        if min_contrast(candidate, pixels) < target:
            continue
        lo, hi = L0, end  # lo fails, hi passes: bisect towards the original lightness
        for _ in range(14):
            mid = (lo + hi) / 2
            if min_contrast(with_lightness(colour, mid), pixels) >= target:
                hi = mid
            else:
                lo = mid
        best = with_lightness(colour, hi)
        if min_contrast(best, pixels) >= target:
            found.append((abs(hi - L0), best))
    return min(found)[1] if found else None


def best_plain(pixels: np.ndarray) -> RGB:
    """Near-black or white, whichever contrasts more with the pixels."""
    return DARK if min_contrast(DARK, pixels) >= min_contrast(WHITE, pixels) else WHITE


def on_fill(fill, preferred=None, target: float = MIN_CONTRAST + MARGIN) -> tuple[RGB, RGB]:
    """(fill, text colour) for a solid shape such as a button: the text is `preferred` when it
    reads on the fill, else white or near-black; when neither does, the fill's lightness moves."""
    fill = tuple(int(c) for c in fill)
    options = ([tuple(preferred)] if preferred is not None else []) + [WHITE, DARK]
    for text in options:
        if float(contrast_ratio(fill, text)) >= target:
            return fill, text
    text = WHITE if float(contrast_ratio(fill, WHITE)) >= float(contrast_ratio(fill, DARK)) else DARK
    adjusted = readable(fill, np.array([text], np.float64), target)
    return (adjusted if adjusted is not None else (DARK if text == WHITE else WHITE)), text
