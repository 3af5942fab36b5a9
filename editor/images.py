"""Reading user images and masks into well-defined arrays.

Every image that enters Intact passes through here: files that are not images, truncated
files, decompression bombs and oversize images become an `InputError` with one line; odd
modes (16-bit, CMYK, palette, greyscale, EXIF-rotated) are converted correctly.
"""

from __future__ import annotations

import io
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from editor.errors import InputError

DEFAULT_MAX_MEGAPIXELS = float(os.environ.get("INTACT_MAX_MEGAPIXELS", "40"))

ImageSource = str | os.PathLike | bytes | Image.Image | np.ndarray


@dataclass(frozen=True)
class LoadedImage:
    rgb: np.ndarray  # H×W×3 uint8
    alpha: np.ndarray | None  # H×W uint8, when the source had transparency
    notes: tuple[str, ...] = ()

    @property
    def size(self) -> tuple[int, int]:  # (width, height), PIL order
        return self.rgb.shape[1], self.rgb.shape[0]

    def to_pil(self) -> Image.Image:
        if self.alpha is None:
            return Image.fromarray(self.rgb, "RGB")
        return Image.fromarray(np.dstack([self.rgb, self.alpha]), "RGBA")


def _describe(source) -> str:
    if isinstance(source, (str, os.PathLike)):
        return f"'{Path(source).name}'"
    return "the uploaded file"


def _open(source: ImageSource, max_megapixels: float) -> Image.Image:
    if isinstance(source, Image.Image):
        return source
    if isinstance(source, np.ndarray):
        return _from_array(source)
    what = _describe(source)
    max_pixels = int(max_megapixels * 1_000_000)
    try:
        fp = io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else open(source, "rb")
    except FileNotFoundError:
        raise InputError(f"File not found: {source}") from None
    except IsADirectoryError:
        raise InputError(f"{what} is a folder, not an image file.") from None
    with fp:
        try:
            with warnings.catch_warnings():
                # PIL warns at half its bomb limit; we apply our own limit below instead.
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                image = Image.open(fp)
                w, h = image.size
                if w * h > max_pixels:
                    raise InputError(
                        f"{what} is {w}×{h} ({w * h / 1e6:.1f} megapixels); the limit is {max_megapixels:g} megapixels. "
                        "Use a smaller image."
                    )
                image.load()
        except InputError:
            raise
        except Image.DecompressionBombError:
            raise InputError(f"{what} is too large to open safely (decompression bomb protection).") from None
        except UnidentifiedImageError:
            raise InputError(f"{what} is not an image Intact can read (PNG, JPEG, WebP, BMP, TIFF...).") from None
        except (OSError, SyntaxError, ValueError) as exc:
            raise InputError(f"{what} is damaged or truncated and cannot be read ({exc}).") from None
    return image


def _from_array(array: np.ndarray) -> Image.Image:
    a = np.asarray(array)
    if a.ndim == 2 or (a.ndim == 3 and a.shape[2] in (1, 3, 4)):
        if a.dtype != np.uint8:
            if np.issubdtype(a.dtype, np.floating):
                a = np.clip(a * (255.0 if a.max() <= 1.0 else 1.0), 0, 255).round().astype(np.uint8)
            else:
                a = _to_uint8(a)
        if a.ndim == 3 and a.shape[2] == 1:
            a = a[:, :, 0]
        return Image.fromarray(a)
    raise InputError(f"An image array must be H×W, H×W×3 or H×W×4; got shape {a.shape}.")


def _to_uint8(a: np.ndarray) -> np.ndarray:
    """Scale integer data of any depth (e.g. 16-bit PNG) to 8 bits."""
    a = a.astype(np.float64)
    top = 65535.0 if a.max() > 255 else 255.0
    return np.clip(a / top * 255.0, 0, 255).round().astype(np.uint8)


def _normalise(image: Image.Image) -> tuple[np.ndarray, np.ndarray | None, list[str]]:
    notes: list[str] = []
    try:
        transposed = ImageOps.exif_transpose(image)
    except Exception:  # broken EXIF must not make a good image unusable
        transposed = image
    if transposed is not image and transposed.size != image.size:
        notes.append("rotated according to the photo's EXIF orientation")
    image = transposed
    mode = image.mode
    if mode in ("I;16", "I;16B", "I;16L", "I", "I;16N"):
        rgb = np.repeat(_to_uint8(np.asarray(image))[:, :, None], 3, axis=2)
        return rgb, None, notes
    if mode == "F":
        a = np.asarray(image, dtype=np.float64)
        a = (a - a.min()) / max(a.max() - a.min(), 1e-12) * 255.0
        return np.repeat(a.round().astype(np.uint8)[:, :, None], 3, axis=2), None, notes
    has_alpha = mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in image.info)
    if mode == "CMYK":
        notes.append("converted from CMYK")
    if has_alpha:
        rgba = np.asarray(image.convert("RGBA"))
        alpha = rgba[:, :, 3].copy()
        if alpha.min() == 255:  # an alpha channel that is fully opaque carries no information
            alpha = None
        return np.ascontiguousarray(rgba[:, :, :3]), alpha, notes
    return np.asarray(image.convert("RGB")).copy(), None, notes


def load_image(source: ImageSource, max_megapixels: float = DEFAULT_MAX_MEGAPIXELS) -> LoadedImage:
    """Open any supported image as 8-bit RGB (+ alpha). Raises InputError with one line."""
    if source is None:
        raise InputError("No image was given.")
    image = _open(source, max_megapixels)
    w, h = image.size
    if w < 1 or h < 1:
        raise InputError("The image is empty (0 pixels).")
    if w * h > max_megapixels * 1_000_000:
        raise InputError(f"The image is {w}×{h}; the limit is {max_megapixels:g} megapixels. Use a smaller image.")
    rgb, alpha, notes = _normalise(image)
    return LoadedImage(rgb, alpha, tuple(notes))


def load_mask(source: ImageSource, size: tuple[int, int], max_megapixels: float = DEFAULT_MAX_MEGAPIXELS) -> tuple[np.ndarray, tuple[str, ...]]:
    """A mask as float32 H×W in [0, 1] (1 = change this pixel), resized to `size` (W, H) if needed.

    With an alpha channel, opacity marks the region (painted strokes on a transparent layer);
    otherwise brightness does (white = change). Binary masks stay exactly binary.
    """
    loaded = load_image(source, max_megapixels)
    notes = list(loaded.notes)
    if loaded.alpha is not None:
        m = loaded.alpha.astype(np.float32) / 255.0
    else:
        m = loaded.rgb.max(axis=2).astype(np.float32) / 255.0
    if (m.shape[1], m.shape[0]) != tuple(size):
        notes.append(f"mask was {m.shape[1]}×{m.shape[0]}, resized to the image's {size[0]}×{size[1]}")
        binary = bool(np.isin(m, (0.0, 1.0)).all())
        resized = Image.fromarray((m * 255).round().astype(np.uint8)).resize(
            tuple(size), Image.NEAREST if binary else Image.BILINEAR
        )
        m = np.asarray(resized).astype(np.float32) / 255.0
    return m, tuple(notes)
