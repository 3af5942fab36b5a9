"""Grow, shrink, feather and invert a selection, in the photo's own pixels.

The selection is kept as a signed distance to its edge (positive inside, in work-copy pixels),
so growing by 12 photo pixels is a threshold moved by 12, not a 25×25 dilation of a 24 MP mask,
and feathering is a ramp across the edge: both cost one pass over the photo.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from editor.validation import flag, whole

MAX_GROW_PX = 512
MAX_FEATHER_PX = 256
FAR = 1e6  # the distance of an edge that is nowhere (an empty or full selection)


@dataclass(frozen=True)
class Adjustments:
    grow_px: int = 0  # photo pixels; negative shrinks
    feather_px: int = 0  # width of the soft edge, photo pixels (0: hard edge)
    invert: bool = False  # "select the rest"

    def __post_init__(self):
        whole("grow_px", self.grow_px, -MAX_GROW_PX, MAX_GROW_PX, "grow")
        whole("feather_px", self.feather_px, 0, MAX_FEATHER_PX, "feather")
        flag("invert", self.invert)


def signed_distance(hard: np.ndarray) -> np.ndarray:
    """Distance to the mask's edge, positive inside, negative outside (float32, pixels). The edge
    lies between pixels: a pixel on either side of it is half a pixel away."""
    on = hard.astype(np.uint8)
    if not on.any():
        return np.full(on.shape, -FAR, np.float32)
    if on.all():
        return np.full(on.shape, FAR, np.float32)
    inside = cv2.distanceTransform(on, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    outside = cv2.distanceTransform(1 - on, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    return np.where(on > 0, inside - 0.5, 0.5 - outside).astype(np.float32)


def apply(distance_px: np.ndarray, adjust: Adjustments) -> np.ndarray:
    """The mask (float32 in [0, 1]) from a signed distance in photo pixels, grown or shrunk,
    feathered and inverted as asked."""
    level = distance_px + np.float32(adjust.grow_px)
    if adjust.feather_px > 0:
        mask = np.clip(level / np.float32(adjust.feather_px) + np.float32(0.5), 0.0, 1.0)
    else:
        mask = (level > 0).astype(np.float32)
    if adjust.invert:
        np.subtract(np.float32(1.0), mask, out=mask)
    return mask
