"""Turning upload and ImageEditor values into (image, mask) and drawing masks for display.

Presentation only: no model code. Every picture a client sends (photo, brush layer, product,
background) is read here through `editor.images.load_image`: header first (an oversized file is
refused before it is decoded), one-line errors with a key. The mask convention is Intact's
everywhere: float32 H×W in [0, 1], 1 = regenerate.
"""

from __future__ import annotations

import hashlib

import numpy as np
from PIL import Image

from editor.images import load_image

OVERLAY_RGB = (255, 40, 120)  # a magenta that stands out on photos


def read_upload(source, field: str) -> Image.Image | None:
    """An uploaded picture (a path, bytes, or an already decoded image) as a PIL image (RGB, or
    RGBA when it carries transparency); None when nothing was uploaded."""
    return None if source is None else load_image(source, field=field).to_pil()


def _layer_rgba(layer, size: tuple[int, int]) -> np.ndarray:
    """A brush layer as uint8 H×W×4 at the background's size (a layer without transparency is
    opaque everywhere, as Pillow's RGBA conversion makes it)."""
    loaded = load_image(layer, field="mask")
    alpha = np.full(loaded.rgb.shape[:2], 255, np.uint8) if loaded.alpha is None else loaded.alpha
    rgba = Image.fromarray(np.dstack([loaded.rgb, alpha]), "RGBA")
    if rgba.size != size:  # the canvas may export layers at its own size
        rgba = rgba.resize(size, Image.Resampling.NEAREST)
    return np.asarray(rgba, dtype=np.uint8)


def layer_alpha(layer, size: tuple[int, int]) -> np.ndarray:
    """A layer's alpha as float32 in [0, 1], at the background's size."""
    return _layer_rgba(layer, size)[:, :, 3].astype(np.float32) / 255.0


def mask_from_layers(layers, size: tuple[int, int]) -> np.ndarray:
    """The union of every painted layer: per pixel, the most opaque stroke wins."""
    mask = np.zeros((size[1], size[0]), dtype=np.float32)
    for layer in layers or []:
        if layer is not None:
            np.maximum(mask, layer_alpha(layer, size), out=mask)
    return mask


def digest(array_or_image) -> str:
    """Content hash, used to tell whether an edit is on the same image and mask as the last one."""
    array = np.ascontiguousarray(np.asarray(array_or_image))
    h = hashlib.sha256()
    h.update(f"{array.dtype}{array.shape}".encode())
    h.update(array.tobytes())
    return h.hexdigest()


def overlay_mask(image: Image.Image, mask: np.ndarray, strength: float = 0.45) -> Image.Image:
    """The image with the edited region tinted and outlined, so reviewers see what could change."""
    rgb = np.asarray(image.convert("RGB"), dtype=np.float32)
    m = np.clip(mask, 0.0, 1.0)[:, :, None] * strength
    tinted = rgb * (1.0 - m) + np.array(OVERLAY_RGB, dtype=np.float32) * m
    edge = _edge(mask > 0.5)
    tinted[edge] = OVERLAY_RGB
    return Image.fromarray(np.clip(tinted + 0.5, 0, 255).astype(np.uint8), "RGB")


def _edge(binary: np.ndarray) -> np.ndarray:
    """Pixels of the region that touch a pixel outside it (4-neighbourhood)."""
    padded = np.pad(binary, 1, mode="edge")
    inner = (
        padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:]
    )
    return binary & ~inner


def checkerboard_preview(rgba: np.ndarray, cell: int = 12) -> Image.Image:
    """A cut-out (H×W×4 uint8) over a grey checkerboard, the usual way to show transparency."""
    h, w = rgba.shape[:2]
    ys, xs = np.mgrid[0:h, 0:w]
    board = np.where(((ys // cell) + (xs // cell)) % 2 == 0, 236, 206).astype(np.float32)[:, :, None]
    a = rgba[:, :, 3:4].astype(np.float32) / 255.0
    out = rgba[:, :, :3].astype(np.float32) * a + board * (1.0 - a)
    return Image.fromarray(np.clip(out + 0.5, 0, 255).astype(np.uint8), "RGB")


def dimmed_outside(rgb: np.ndarray, alpha: np.ndarray, keep: float = 0.3) -> Image.Image:
    """The photo with everything the cut-out leaves out darkened: the canvas for fixing the mask."""
    weight = keep + (1.0 - keep) * np.clip(alpha, 0.0, 1.0)[:, :, None]
    return Image.fromarray(np.clip(rgb.astype(np.float32) * weight + 0.5, 0, 255).astype(np.uint8), "RGB")


def strokes_by_colour(layers, size: tuple[int, int]) -> tuple[np.ndarray | None, np.ndarray | None]:
    """(add, remove) masks from brush strokes: green strokes add product, red strokes remove it."""
    add = np.zeros((size[1], size[0]), dtype=np.float32)
    remove = np.zeros_like(add)
    for layer in layers or []:
        if layer is None:
            continue
        px = _layer_rgba(layer, size).astype(np.int16)
        alpha = px[:, :, 3].astype(np.float32) / 255.0
        greener = px[:, :, 1] > px[:, :, 0]
        np.maximum(add, np.where(greener, alpha, 0.0), out=add)
        np.maximum(remove, np.where(~greener, alpha, 0.0), out=remove)
    return (add if add.any() else None), (remove if remove.any() else None)
