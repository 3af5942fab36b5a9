"""Where a big photo is edited: a crop around the mask, at the model's working resolution.

A phone photo has 12-50 megapixels; the models were trained near 1 megapixel and their cost grows
with the square of the token count (attention), so editing the whole photo at full size takes
minutes and memory no consumer GPU has. Instead the edit runs on a crop around the mask (with
context around it, so the model sees the scene), scaled down to about one megapixel when it is
bigger, and the regenerated pixels are scaled back up and pasted into the full-size photo.

Every pixel outside the mask is the input's, bit for bit: the paste uses the full-size mask, and
its blend weights are exactly zero outside it (`editor.kv_edit.masks.blend_weights`). A photo that
is already within the working size is edited whole, at its own size, as before.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image

from editor.kv_edit.masks import SIZE_MULTIPLE, blend_weights, mask_to_grid, paste_back

# FLUX-family models are trained around 1024×1024; the same budget suits every model here.
WORKING_PIXELS = 1024 * 1024
CONTEXT_SHARE = 0.25  # context kept around the mask, as a share of its bounding box's longer side
MIN_CONTEXT_PX = 32


@dataclass(frozen=True)
class WorkArea:
    """A crop of the photo (`box`, photo pixels) and the size it is edited at (`size`)."""

    box: tuple[int, int, int, int]  # x0, y0, x1, y1 (x1, y1 exclusive)
    size: tuple[int, int]  # (width, height) the crop is edited at
    photo_size: tuple[int, int]  # (width, height) of the whole photo

    @property
    def crop_size(self) -> tuple[int, int]:
        x0, y0, x1, y1 = self.box
        return x1 - x0, y1 - y0

    @property
    def scaled(self) -> bool:
        return self.size != self.crop_size

    @property
    def whole_photo(self) -> bool:
        return self.box == (0, 0, *self.photo_size)

    def _slices(self) -> tuple[slice, slice]:
        x0, y0, x1, y1 = self.box
        return slice(y0, y1), slice(x0, x1)

    def cut(self, rgb: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(crop of the photo, crop of the mask), at the working size. Scaled down, the mask marks
        every working pixel that covers any painted photo pixel, so no painted pixel is lost."""
        rows, cols = self._slices()
        crop, crop_mask = rgb[rows, cols], mask[rows, cols]
        if not self.scaled:
            return np.ascontiguousarray(crop), np.ascontiguousarray(crop_mask, dtype=np.float32)
        # reducing_gap: a box reduction first, then Lanczos over the last factor of 3 (much faster
        # on a 10-megapixel crop, the same look).
        small = np.asarray(Image.fromarray(np.ascontiguousarray(crop)).resize(self.size, Image.Resampling.LANCZOS,
                                                                              reducing_gap=3.0))
        small_mask = mask_to_grid(crop_mask, self.size[1], self.size[0]).astype(np.float32)
        return small, small_mask

    def paste(self, rgb: np.ndarray, mask: np.ndarray, generated: np.ndarray, feather_px: int) -> np.ndarray:
        """The full photo with `generated` (the crop as the model made it, at the working size)
        blended in under the full-size mask; every pixel outside the mask stays the input's."""
        out = rgb.copy()
        x0, y0, x1, y1 = self.box
        ys = np.flatnonzero((mask[y0:y1, x0:x1] > 0).any(axis=1))
        xs = np.flatnonzero((mask[y0:y1, x0:x1] > 0).any(axis=0))
        if len(xs) == 0:
            return out
        crop_w, crop_h = self.crop_size
        if generated.shape[:2] != (crop_h, crop_w):
            generated = np.asarray(Image.fromarray(generated).resize((crop_w, crop_h), Image.Resampling.LANCZOS))
        # Blend only over the mask's bounding box and one pixel around it: every pixel outside it is
        # unpainted, so the distances to the mask's edge (and the blend weights) computed there are
        # those of the whole photo; the photo's border is never taken for an edge.
        gy0, gy1 = max(int(ys[0]) - 1, 0), min(int(ys[-1]) + 2, crop_h)
        gx0, gx1 = max(int(xs[0]) - 1, 0), min(int(xs[-1]) + 2, crop_w)
        rows, cols = slice(y0 + gy0, y0 + gy1), slice(x0 + gx0, x0 + gx1)
        weights = blend_weights(mask[rows, cols], feather_px)
        out[rows, cols] = paste_back(rgb[rows, cols], generated[gy0:gy1, gx0:gx1], weights)
        return out

    def to_report(self) -> dict:
        return {"box": list(self.box), "size": list(self.size), "scaled": self.scaled,
                "whole_photo": self.whole_photo}


def _grow(box: tuple[int, int, int, int], width: int, height: int, target: int) -> tuple[int, int, int, int]:
    """`box` grown around its centre toward `target` pixels (more context costs nothing while the
    crop stays within the working size), kept inside the photo."""
    x0, y0, x1, y1 = box
    bw, bh = x1 - x0, y1 - y0
    if bw * bh >= target:
        return box
    side = math.sqrt(target)
    new_w = min(width, max(bw, round(side)))
    new_h = min(height, max(bh, round(target / new_w)))
    new_w = min(width, max(new_w, round(target / new_h)))
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    nx0 = int(min(max(round(cx - new_w / 2), 0), width - new_w))
    ny0 = int(min(max(round(cy - new_h / 2), 0), height - new_h))
    return nx0, ny0, nx0 + new_w, ny0 + new_h


def _fit(side: float) -> int:
    return max(SIZE_MULTIPLE, int(round(side / SIZE_MULTIPLE)) * SIZE_MULTIPLE)


def work_area(mask: np.ndarray, working_pixels: int = WORKING_PIXELS, context: float = CONTEXT_SHARE) -> WorkArea:
    """The crop to edit for `mask` (H×W, > 0 = change) and the size to edit it at.

    The crop is the mask's bounding box with `context` around it, grown toward `working_pixels`
    while the photo allows; a crop bigger than `working_pixels` is scaled down to about that
    (sides multiples of 16, as the models need). A photo within `working_pixels` is edited whole."""
    height, width = mask.shape
    whole = (0, 0, width, height)
    if width * height <= working_pixels:
        return WorkArea(whole, (width, height), (width, height))
    ys = np.flatnonzero((mask > 0).any(axis=1))
    xs = np.flatnonzero((mask > 0).any(axis=0))
    if len(xs) == 0:  # nothing painted: the edit changes nothing; a small copy is enough for the model
        box = whole
    else:
        x0, x1, y0, y1 = int(xs[0]), int(xs[-1]) + 1, int(ys[0]), int(ys[-1]) + 1
        pad = max(MIN_CONTEXT_PX, round(context * max(x1 - x0, y1 - y0)))
        box = (max(0, x0 - pad), max(0, y0 - pad), min(width, x1 + pad), min(height, y1 + pad))
        box = _grow(box, width, height, working_pixels)
    crop_w, crop_h = box[2] - box[0], box[3] - box[1]
    if crop_w * crop_h <= working_pixels:
        return WorkArea(box, (crop_w, crop_h), (width, height))
    scale = math.sqrt(working_pixels / (crop_w * crop_h))
    return WorkArea(box, (_fit(crop_w * scale), _fit(crop_h * scale)), (width, height))
