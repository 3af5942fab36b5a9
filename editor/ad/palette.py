"""The product's own colours, and the ad colours suggested from them.

k-means in CIELAB over the product's opaque pixels gives its palette (shares, largest first).
From it: a text colour (a deep shade or a pale tint of the dominant hue, whichever the background
needs), an accent for the price and the button (the most colourful product colour with a real
share), and backdrop tints. Every suggestion is checked against the pixels it will sit on.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from editor.ad.colour import RGB, chroma, from_lab, readable, to_hex, to_lab, with_lightness

NEUTRAL = (128, 128, 128)


@dataclass(frozen=True)
class Palette:
    colours: tuple[RGB, ...]  # largest share first
    shares: tuple[float, ...]

    @property
    def dominant(self) -> RGB:
        return self.colours[0] if self.colours else NEUTRAL

    @property
    def accent(self) -> RGB:
        """The most colourful colour that covers at least 6% of the product (else the dominant one)."""
        candidates = [c for c, s in zip(self.colours, self.shares) if s >= 0.06] or [self.dominant]
        return max(candidates, key=chroma)

    @property
    def is_colourful(self) -> bool:
        return chroma(self.accent) >= 18.0

    def to_dict(self) -> dict:
        return {"colours": [to_hex(c) for c in self.colours], "shares": [round(s, 3) for s in self.shares]}


def product_palette(rgb: np.ndarray, alpha: np.ndarray, k: int = 5, max_pixels: int = 20000) -> Palette:
    """k-means colours of the opaque product pixels; clusters closer than ΔE 12 are merged."""
    opaque = rgb[alpha >= 0.9].reshape(-1, 3)
    if len(opaque) == 0:
        return Palette((NEUTRAL,), (1.0,))
    step = max(1, len(opaque) // max_pixels)
    pixels = opaque[::step]
    lab = to_lab(pixels).astype(np.float32)
    k = int(min(k, len(np.unique(pixels, axis=0))))
    cv2.setRNGSeed(0)  # k-means++ seeding is random: fix it so the same product gives the same palette
    _, labels, centres = cv2.kmeans(lab, k, None, (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 40, 0.2),
                                    3, cv2.KMEANS_PP_CENTERS)
    counts = np.bincount(labels.ravel(), minlength=k).astype(np.float64)
    order = np.argsort(-counts, kind="stable")
    merged: list[list] = []  # [lab centre, count]
    for i in order:
        c, n = centres[i].astype(np.float64), counts[i]
        for m in merged:
            if np.linalg.norm(m[0] - c) < 12.0:
                m[0] = (m[0] * m[1] + c * n) / (m[1] + n)
                m[1] += n
                break
        else:
            merged.append([c, n])
    merged.sort(key=lambda m: -m[1])
    total = sum(m[1] for m in merged)
    return Palette(tuple(from_lab(m[0]) for m in merged), tuple(float(m[1] / total) for m in merged))


def _is_dark(pixels: np.ndarray) -> bool:
    px = np.asarray(pixels).reshape(-1, 3)
    return bool(len(px)) and float(np.median(to_lab(px[:: max(1, len(px) // 4096)])[..., 0])) < 50


def text_colour(palette: Palette, pixels: np.ndarray) -> RGB:
    """A deep shade (on light backgrounds) or a pale tint (on dark ones) of the dominant hue,
    lightness adjusted until it reads on `pixels`; near-black/white when the hue cannot."""
    base = palette.dominant
    dark_bg = _is_dark(pixels)
    shade = with_lightness(base, 96.0 if dark_bg else 16.0, chroma_scale=0.35)
    return readable(shade, pixels) or (with_lightness(base, 100.0, 0.0) if dark_bg else with_lightness(base, 0.0, 0.0))


def accent_colour(palette: Palette, pixels: np.ndarray) -> RGB | None:
    """The product's accent, as close to itself as still reads on `pixels` (None when none does)."""
    accent = palette.accent if palette.is_colourful else with_lightness(palette.dominant, 35.0, 1.0)
    return readable(accent, pixels)


def suggest_colours(palette: Palette, pixels: np.ndarray, n: int = 4) -> dict[str, list[str]]:
    """Text and accent colours drawn from the product that each read on `pixels` (contrast >= 4.5):
    shades (or, on a dark background, tints) of every palette colour, and its colourful ones."""
    levels = (97.0, 90.0) if _is_dark(pixels) else (14.0, 26.0)
    texts: list[str] = []
    accents: list[str] = []
    for colour in (palette.dominant, *palette.colours):
        for L in levels:
            candidate = readable(with_lightness(colour, L, 0.45), pixels)
            if candidate is not None and to_hex(candidate) not in texts:
                texts.append(to_hex(candidate))
        if chroma(colour) >= 12.0:
            candidate = readable(colour, pixels)
            if candidate is not None and to_hex(candidate) not in accents:
                accents.append(to_hex(candidate))
    return {"text": texts[:n], "accent": (accents or texts)[:n]}


def backdrop_tints(palette: Palette) -> tuple[RGB, RGB]:
    """Two pale tints of the product's dominant hue for a backdrop made from the product: light
    enough that the product and dark text stand out, with enough chroma to feel related."""
    base = palette.accent if palette.is_colourful else palette.dominant
    lab = to_lab(base)
    hue_chroma = max(float(np.hypot(lab[1], lab[2])), 1e-6)
    scale_hi = min(1.0, 9.0 / hue_chroma)
    scale_lo = min(1.0, 16.0 / hue_chroma)
    top = from_lab((95.0, lab[1] * scale_hi, lab[2] * scale_hi))
    bottom = from_lab((86.0, lab[1] * scale_lo, lab[2] * scale_lo))
    return top, bottom


