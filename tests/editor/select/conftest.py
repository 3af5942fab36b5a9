"""Synthetic photos with known object masks: a textured table with objects on it, lit unevenly,
with sensor noise, so nothing is a flat colour a threshold could find."""

from __future__ import annotations

import numpy as np


def iou(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.asarray(a) > 0.5, np.asarray(b) > 0.5
    return float((a & b).sum() / max((a | b).sum(), 1))


def table(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A wood-like backdrop: warm brown with grain stripes, a light falloff and noise (float RGB)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    grain = np.sin(yy / height * 60 + np.sin(xx / width * 7) * 3) * 12
    light = 1.0 - 0.25 * ((xx / width - 0.3) ** 2 + (yy / height - 0.2) ** 2)
    base = np.array([150, 105, 70], np.float32)
    photo = (base + grain[..., None]) * light[..., None]
    return photo + rng.normal(0, 4, photo.shape)


def ellipse(height: int, width: int, cx: float, cy: float, rx: float, ry: float) -> np.ndarray:
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    return ((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2 <= 1.0


def paint(photo: np.ndarray, region: np.ndarray, colour, seed: int = 1) -> np.ndarray:
    """`region` painted in `colour` with a soft shading and its own noise."""
    rng = np.random.default_rng(seed)
    h, w = region.shape
    yy = np.mgrid[0:h, 0:w][0].astype(np.float32)
    shade = 1.0 - 0.15 * (yy / h)
    out = photo.copy()
    colours = np.asarray(colour, np.float32) * shade[..., None] + rng.normal(0, 3, photo.shape)
    out[region] = colours[region]
    return out


def to_uint8(photo: np.ndarray) -> np.ndarray:
    return np.clip(photo + 0.5, 0, 255).astype(np.uint8)


def cup_on_table(height: int = 480, width: int = 640):
    """(photo, the cup's mask): a blue-white ceramic oval on the table."""
    cup = ellipse(height, width, width * 0.45, height * 0.5, width * 0.16, height * 0.22)
    return to_uint8(paint(table(height, width), cup, (200, 205, 225))), cup


def two_touching(height: int = 480, width: int = 640):
    """(photo, left object, right object): two touching ovals of nearly the same red (two tins side
    by side): close enough that one tap takes both, far enough for a "not this" tap to split them."""
    left = ellipse(height, width, width * 0.38, height * 0.5, width * 0.13, height * 0.25)
    right = ellipse(height, width, width * 0.62, height * 0.5, width * 0.13, height * 0.25) & ~left
    photo = paint(table(height, width), left, (190, 40, 50), seed=2)
    photo = paint(photo, right, (196, 55, 48), seed=3)
    return to_uint8(photo), left, right
