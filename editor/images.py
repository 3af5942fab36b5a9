"""Reading user images and masks into well-defined arrays.

Every image that enters Intact passes through here: files that are not images, truncated
files, decompression bombs and oversize images become an `InputError` with one line; odd
modes (16-bit, CMYK, palette, greyscale, EXIF-rotated) are converted correctly.

The megapixel limit is checked from the file header, before any pixel is decoded, so a
small file that claims a huge size costs nothing. It defaults to 40 MP and can be changed
with the environment variable INTACT_MAX_MEGAPIXELS (read at each call).

Every error names the file by its name only (never its folder: the app's uploads live in a
server folder) and carries a catalogue key, its values and the request field it was read for,
so the app says it in the user's language and the CLI points at the flag.
"""

from __future__ import annotations

import io
import logging
import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from editor.errors import InputError
from models.data_files import NotARegularFile, open_regular

log = logging.getLogger(__name__)

FALLBACK_MAX_MEGAPIXELS = 40.0
EXIF_ORIENTATION = 0x0112

ImageSource = str | os.PathLike | bytes | Image.Image | np.ndarray


def max_megapixels_from_env() -> float:
    """The configured limit (INTACT_MAX_MEGAPIXELS); a bad value falls back to 40 with a log line."""
    raw = os.environ.get("INTACT_MAX_MEGAPIXELS", "").strip()
    if not raw:
        return FALLBACK_MAX_MEGAPIXELS
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not np.isfinite(value) or value <= 0:
        log.warning("INTACT_MAX_MEGAPIXELS=%r is not a positive number; using %g", raw, FALLBACK_MAX_MEGAPIXELS)
        return FALLBACK_MAX_MEGAPIXELS
    return value


# Kept for callers that read the limit once at import; new code passes None to read it per call.
DEFAULT_MAX_MEGAPIXELS = max_megapixels_from_env()


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
    return "the uploaded file" if isinstance(source, (bytes, bytearray, memoryview)) else "the image"


def _error(message: str, key: str, what: str, field: str | None, **values) -> InputError:
    """One line, starting with a capital, with its catalogue key and the field it was read for."""
    return InputError(message[:1].upper() + message[1:], key=key, field=field, name=what, **values)


def _too_big(what: str, w: int | None, h: int | None, max_megapixels: float, field: str | None,
             pixels: int | None = None) -> InputError:
    pixels = w * h if pixels is None else pixels
    size = f"{w}×{h}, " if w and h else ""
    return _error(f"{what} is {size}{pixels / 1e6:.1f} megapixels; the limit is {max_megapixels:g} megapixels. "
                  "Use a smaller image.", "image_too_large", what, field, size=size.rstrip(", "),
                  megapixels=f"{pixels / 1e6:.1f}", limit=f"{max_megapixels:g}")


def pillow_pixel_guard(max_megapixels: float | None = None) -> int:
    """The value for Pillow's `Image.MAX_IMAGE_PIXELS` that makes Pillow itself refuse exactly what
    the loader refuses: Pillow only warns between 1× and 2× its limit and raises above 2×, so half
    our limit makes any decode anywhere in the process fail from the header above our limit."""
    limit = max_megapixels_from_env() if max_megapixels is None else float(max_megapixels)
    return max(1, int(limit * 1_000_000) // 2)


def _open(source: ImageSource, max_megapixels: float, field: str | None) -> Image.Image:
    if isinstance(source, Image.Image):
        return source
    if isinstance(source, np.ndarray):
        return _from_array(source, max_megapixels, field)
    if not isinstance(source, (str, os.PathLike, bytes, bytearray, memoryview)):
        raise _error(f"an image must be a file path, bytes, a PIL image or an array; got {type(source).__name__}.",
                     "image_bad_source", "the image", field, kind=type(source).__name__)
    what = _describe(source)
    max_pixels = int(max_megapixels * 1_000_000)
    try:
        fp = io.BytesIO(bytes(source)) if isinstance(source, (bytes, bytearray, memoryview)) else open_regular(source)
    except NotARegularFile as exc:  # a named pipe would block a plain open forever
        if exc.kind == "a folder":
            raise _error(f"{what} is a folder, not an image file.", "image_is_folder", what, field) from None
        raise _error(f"{what} is {exc.kind}, not an image file.", "image_not_a_file", what, field) from None
    except FileNotFoundError:
        raise InputError(f"File not found: {what}.", key="file_not_found", field=field, name=what,
                         operator_hint=f"(looked for {source})") from None
    except IsADirectoryError:
        raise _error(f"{what} is a folder, not an image file.", "image_is_folder", what, field) from None
    except PermissionError:
        raise _error(f"{what} cannot be read: permission denied.", "image_permission", what, field) from None
    except (OSError, ValueError) as exc:  # e.g. a name with a NUL byte, a path too long
        raise _error(f"{what} cannot be opened ({_first_line(exc)}).", "image_cannot_open", what, field) from None
    with fp:
        try:
            with warnings.catch_warnings():
                # PIL warns at its own limit; we apply ours below, from the header.
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                image = Image.open(fp)
                w, h = image.size
                if w * h > max_pixels:
                    raise _too_big(what, w, h, max_megapixels, field)
                image.load()
        except InputError:
            raise
        except Image.DecompressionBombError as exc:
            # Pillow's own guard fired first (from the header too): say ours, with the size it read.
            claimed = re.search(r"\((\d+) pixels\)", str(exc))
            pixels = int(claimed.group(1)) if claimed else max_pixels + 1
            raise _too_big(what, None, None, max_megapixels, field, pixels=pixels) from None
        except UnidentifiedImageError:
            raise _error(f"{what} is not an image Intact can read (PNG, JPEG, WebP, BMP, TIFF...).",
                         "image_unreadable", what, field) from None
        except MemoryError:
            raise _error(f"{what} needs more memory to decode than this machine has free.", "image_memory",
                         what, field) from None
        except Exception as exc:  # noqa: BLE001 - decoders raise OSError, SyntaxError, struct.error, IndexError...
            # Whatever a damaged file makes a decoder raise, the user's answer is the same.
            log.info("decoding %s failed", what, exc_info=True)
            raise _error(f"{what} is damaged or truncated and cannot be read ({_first_line(exc)}).",
                         "image_damaged", what, field, detail=_first_line(exc)) from None
    return image


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else type(exc).__name__


def _from_array(array: np.ndarray, max_megapixels: float = FALLBACK_MAX_MEGAPIXELS,
                field: str | None = None) -> Image.Image:
    a = np.asarray(array)
    what = "the image"
    if not (a.ndim == 2 or (a.ndim == 3 and a.shape[2] in (1, 3, 4))):
        raise _error(f"an image array must be H×W, H×W×3 or H×W×4; got shape {a.shape}.", "image_array_shape",
                     what, field, shape=str(a.shape))
    if a.shape[0] < 1 or a.shape[1] < 1:
        raise _error("the image is empty (0 pixels).", "image_empty", what, field)
    if a.shape[0] * a.shape[1] > max_megapixels * 1_000_000:
        raise _too_big(what, a.shape[1], a.shape[0], max_megapixels, field)
    if a.dtype == np.bool_:
        a = a.astype(np.uint8) * 255
    elif np.issubdtype(a.dtype, np.floating):
        if not np.isfinite(a).all():
            raise _error("the image contains invalid values (NaN or infinity).", "image_invalid_values", what, field)
        # 0..1 floats are the usual convention; anything larger is taken as 0..255.
        a = np.clip(a * (255.0 if a.max() <= 1.0 else 1.0), 0, 255).round().astype(np.uint8)
    elif np.issubdtype(a.dtype, np.integer):
        if a.dtype != np.uint8:
            a = _to_uint8(a, 65535.0 if a.max() > 255 else 255.0)
    else:
        raise _error(f"an image array must hold numbers; got {a.dtype}.", "image_array_dtype", what, field,
                     dtype=str(a.dtype))
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    return Image.fromarray(np.ascontiguousarray(a))


def _to_uint8(a: np.ndarray, top: float) -> np.ndarray:
    """Scale integer data whose full scale is `top` (65535 for 16-bit) to 8 bits, rounding."""
    a = a.astype(np.float64)
    return np.clip(a / top * 255.0, 0, 255).round().astype(np.uint8)


def _exif_transpose(image: Image.Image) -> tuple[Image.Image, str | None]:
    """The image turned upright per its EXIF orientation, and a note when that changed anything."""
    try:
        orientation = image.getexif().get(EXIF_ORIENTATION, 1)
    except Exception:  # noqa: BLE001 - broken EXIF must not make a good image unusable
        return image, None
    if orientation in (None, 1):
        return image, None
    try:
        upright = ImageOps.exif_transpose(image)
    except Exception:  # noqa: BLE001
        log.info("ignoring EXIF orientation %r that could not be applied", orientation, exc_info=True)
        return image, None
    if upright is None or orientation not in range(2, 9):
        return image, None
    return upright, "turned upright according to the photo's EXIF orientation"


_SIXTEEN_BIT_GREY = ("I;16", "I;16B", "I;16L", "I;16N")


def _normalise(image: Image.Image) -> tuple[np.ndarray, np.ndarray | None, list[str]]:
    notes: list[str] = []
    image, note = _exif_transpose(image)
    if note:
        notes.append(note)
    mode = image.mode
    if mode in _SIXTEEN_BIT_GREY:
        # 16-bit greyscale: full scale is 65535 whatever the content, so a dark photo stays dark.
        grey = _to_uint8(np.asarray(image), 65535.0)
        notes.append("16-bit image reduced to 8 bits")
        return np.repeat(grey[:, :, None], 3, axis=2), None, notes
    if mode == "I":
        # 32-bit integer greyscale: older readers give 16-bit PNGs this mode; infer the scale.
        a = np.asarray(image)
        top = 65535.0 if a.max(initial=0) > 255 else 255.0
        return np.repeat(_to_uint8(a, top)[:, :, None], 3, axis=2), None, notes
    if mode == "F":
        a = np.asarray(image, dtype=np.float64)
        a = np.nan_to_num(a, nan=0.0, posinf=0.0, neginf=0.0)
        span = a.max() - a.min()
        a = (a - a.min()) / (span if span > 0 else 1.0) * 255.0
        return np.repeat(a.round().astype(np.uint8)[:, :, None], 3, axis=2), None, notes
    if mode == "La":  # premultiplied grey + alpha: Pillow converts it only through LA
        image, mode = image.convert("LA"), "LA"
    has_alpha = mode in ("RGBA", "RGBa", "LA", "PA") or (mode == "P" and "transparency" in image.info)
    if mode == "CMYK":
        notes.append("converted from CMYK")
    if has_alpha:
        rgba = np.asarray(image.convert("RGBA"))
        alpha = rgba[:, :, 3].copy()
        if alpha.min() == 255:  # an alpha channel that is fully opaque carries no information
            alpha = None
        return np.ascontiguousarray(rgba[:, :, :3]), alpha, notes
    return np.ascontiguousarray(np.asarray(image.convert("RGB"))), None, notes


def load_image(source: ImageSource, max_megapixels: float | None = None, *, field: str | None = None) -> LoadedImage:
    """Open any supported image as 8-bit RGB (+ alpha). Raises InputError with one line.

    max_megapixels: None reads INTACT_MAX_MEGAPIXELS (default 40). field: the request field the
    image was given as ("image", "mask", "background", ...), carried by every error.
    """
    if source is None:
        raise InputError("No image was given.", key="image_missing", field=field)
    limit = max_megapixels_from_env() if max_megapixels is None else float(max_megapixels)
    image = _open(source, limit, field)
    w, h = image.size
    if w < 1 or h < 1:
        raise _error("the image is empty (0 pixels).", "image_empty", _describe(source), field)
    if w * h > limit * 1_000_000:
        raise _too_big(_describe(source), w, h, limit, field)
    try:
        rgb, alpha, notes = _normalise(image)
    except InputError:
        raise
    except MemoryError:
        raise _error("the image needs more memory to convert than this machine has free.", "image_memory",
                     _describe(source), field) from None
    except Exception as exc:  # noqa: BLE001 - an exotic mode Pillow cannot convert
        log.info("converting a %s image failed", image.mode, exc_info=True)
        raise _error(f"images in colour mode {image.mode} cannot be used ({_first_line(exc)}). "
                     "Save it as an RGB PNG or JPEG.", "image_mode", _describe(source), field, mode=image.mode) from None
    return LoadedImage(rgb, alpha, tuple(notes))


EMPTY_MASK_NOTE = "the mask is empty (nothing painted): the image will not change"
FULL_MASK_NOTE = "the mask covers the whole image: every pixel may change"


def mask_coverage_notes(mask: np.ndarray) -> tuple[str, ...]:
    """A note when a mask marks nothing or everything (both legal, both usually a mistake)."""
    m = np.asarray(mask)
    if not (m > 0).any():
        return (EMPTY_MASK_NOTE,)
    if (m >= 1.0).all():
        return (FULL_MASK_NOTE,)
    return ()


def load_mask(source: ImageSource, size: tuple[int, int], max_megapixels: float | None = None,
              *, field: str | None = "mask") -> tuple[np.ndarray, tuple[str, ...]]:
    """A mask as float32 H×W in [0, 1] (1 = change this pixel), resized to `size` (W, H) if needed.

    With an alpha channel, opacity marks the region (painted strokes on a transparent layer);
    otherwise brightness does (white = change). Binary masks stay exactly binary. The notes say
    when the mask was resized, and when it is empty or full.
    """
    width, height = (int(v) for v in size)
    if width < 1 or height < 1:
        raise InputError(f"A mask needs an image of at least 1×1 pixels; got {width}×{height}.", key="mask_size",
                         field=field, width=width, height=height)
    loaded = load_image(source, max_megapixels, field=field)
    notes = [n for n in loaded.notes if "EXIF" in n]  # colour conversions mean nothing for a mask
    if loaded.alpha is not None:
        m = loaded.alpha.astype(np.float32) / 255.0
    else:
        m = loaded.rgb.max(axis=2).astype(np.float32) / 255.0
    if (m.shape[1], m.shape[0]) != (width, height):
        notes.append(f"mask was {m.shape[1]}×{m.shape[0]}, resized to the image's {width}×{height}")
        binary = bool(np.isin(m, (0.0, 1.0)).all())
        resized = Image.fromarray((m * 255).round().astype(np.uint8)).resize(
            (width, height), Image.NEAREST if binary else Image.BILINEAR
        )
        m = np.asarray(resized).astype(np.float32) / 255.0
    notes.extend(mask_coverage_notes(m))
    return np.ascontiguousarray(m, dtype=np.float32), tuple(notes)


def as_mask(mask, size: tuple[int, int], field: str = "mask") -> tuple[np.ndarray, tuple[str, ...]]:
    """A mask as the engine and the ad workflow use it: float32 H×W in [0, 1] for an image of
    `size` (W, H), and notes. Arrays of the image's size are taken as they are (0..1 floats,
    bools, or 0..255 integers); anything else goes through `load_mask` (files, PIL, other sizes)."""
    if mask is None:
        raise InputError("No mask was given: paint the region to change.", key="no_mask", field=field)
    width, height = size
    if isinstance(mask, np.ndarray) and mask.ndim == 2 and mask.shape == (height, width):
        if np.issubdtype(mask.dtype, np.floating):
            m = mask.astype(np.float32)
            if not np.isfinite(m).all():
                raise InputError("The mask contains invalid values (NaN or infinity).", key="bad_mask", field=field)
        elif np.issubdtype(mask.dtype, np.bool_):
            m = mask.astype(np.float32)
        else:
            m = mask.astype(np.float32) / (255.0 if mask.max(initial=0) > 1 else 1.0)
        return np.clip(m, 0.0, 1.0), ()
    return load_mask(mask, size, field=field)
