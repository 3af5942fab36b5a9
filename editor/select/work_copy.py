"""Selecting on a ~1 MP copy of the photo and scaling the mask back to the photo exactly.

A phone photo has 12-50 megapixels; the salient-object model reads 320×320 anyway, and a graph
cut's cost grows with the pixel count. So the selection runs on a copy of about one megapixel
(the same budget as edits, `editor.kv_edit.work_area`), and the mask comes back as a signed
distance to its edge, resampled to the photo's pixel grid: the photo-size mask is as smooth as
the work copy's edge allows, has the photo's exact size, and grows, shrinks or feathers in the
photo's own pixels (`editor.select.adjust`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from editor.kv_edit.work_area import WORKING_PIXELS

SELECT_PIXELS = WORKING_PIXELS  # the work copy's size: about one megapixel


@dataclass(frozen=True)
class WorkCopy:
    rgb: np.ndarray  # uint8 h×w×3: the photo at most SELECT_PIXELS
    photo_size: tuple[int, int]  # (width, height) of the photo

    @property
    def size(self) -> tuple[int, int]:
        return self.rgb.shape[1], self.rgb.shape[0]

    @property
    def scaled(self) -> bool:
        return self.size != self.photo_size

    @property
    def scale(self) -> float:
        """Photo pixels per work-copy pixel (the mean of both axes; they differ by under a pixel)."""
        (pw, ph), (w, h) = self.photo_size, self.size
        return (pw / w + ph / h) / 2.0

    def point(self, x: float, y: float) -> tuple[float, float]:
        """A photo position in work-copy pixels (pixel centres map onto pixel centres)."""
        (pw, ph), (w, h) = self.photo_size, self.size
        return (x + 0.5) * w / pw - 0.5, (y + 0.5) * h / ph - 0.5

    def to_photo(self, field: np.ndarray) -> np.ndarray:
        """A float map over the work copy resampled to the photo's size (bilinear, pixel-centre
        aligned: OpenCV's convention matches `point`)."""
        if not self.scaled:
            return field.astype(np.float32, copy=True)
        return cv2.resize(field.astype(np.float32), self.photo_size, interpolation=cv2.INTER_LINEAR)


def work_copy(rgb: np.ndarray, pixels: int = SELECT_PIXELS) -> WorkCopy:
    """The photo itself when it is within `pixels`, else a copy reduced to about that (area averaging)."""
    h, w = rgb.shape[:2]
    if w * h <= pixels:
        return WorkCopy(np.ascontiguousarray(rgb), (w, h))
    scale = math.sqrt(pixels / (w * h))
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return WorkCopy(cv2.resize(rgb, size, interpolation=cv2.INTER_AREA), (w, h))
