"""The photo in the Edit tab: the full-size file stays on the server, the browser gets a copy at
screen size.

A 24-megapixel phone photo makes the browser's brush editor crawl (every stroke re-renders and
re-encodes the whole canvas: tens of seconds per stroke on a shop's PC without a graphics card).
So a photo larger than the screen is opened in the editor as a screen-size copy; the session
remembers the full-size file. When the edit runs with that copy, the painted mask is scaled up to
the full photo and the Studio edits the full-size file (a crop of it, at the model's working size)
and saves the result at full size; every pixel outside the mask stays the file's own.

What the editor holds is matched by its pixels: a different picture (a new upload, a pasted one)
is edited as it is.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from editor.digests import array_digest
from editor.images import load_image
from ui.controls import preview
from ui.imaging import mask_from_layers

SCREEN_SIDE = 2048  # longest side the brush editor gets


@dataclass(frozen=True)
class EditorPhoto:
    path: str  # the full-size photo on the server (an upload, a saved result)
    size: tuple[int, int]  # its (width, height)
    shown_size: tuple[int, int]  # the copy in the editor
    shown_digest: str  # the copy's pixels, to recognise it when it comes back


def open_in_editor(state, source) -> dict:
    """An editor value for `source` (a path, or a picture); a photo bigger than the screen goes in
    as a screen-size copy and `state.photo` remembers the full-size file. Every check of
    `editor.images` applies here, at upload (size limit, damaged files, EXIF orientation)."""
    loaded = load_image(source, field="image")
    picture = loaded.to_pil()
    state.photo = None
    if isinstance(source, str):
        # The session keeps the file whatever its size: the Studio reads it as uploaded, so what
        # was done to it (EXIF rotation, CMYK, 16 bits) reaches the report's notes.
        shown = preview(picture.convert("RGB"), SCREEN_SIDE)
        state.photo = EditorPhoto(source, picture.size, shown.size, array_digest(np.asarray(shown)))
        picture = shown
    return {"background": picture, "layers": [], "composite": picture}


def photo_and_mask(state, value) -> tuple[object | None, np.ndarray | None]:
    """(the photo to edit: the full-size file when the editor holds its screen copy, else the
    editor's own picture; the painted mask at that photo's size). None for what is missing."""
    if not value or value.get("background") is None:
        return None, None
    # Same checks and conversions as every other input (16-bit, CMYK, palette, size limit).
    background = load_image(value["background"], field="image").to_pil().convert("RGB")
    layers = [layer for layer in value.get("layers") or [] if layer is not None]
    mask = mask_from_layers(layers, background.size)
    if not mask.any():
        return background, None
    photo = getattr(state, "photo", None)
    if (photo is not None and background.size == photo.shown_size
            and array_digest(np.asarray(background)) == photo.shown_digest):
        if photo.size == photo.shown_size:
            return photo.path, mask
        full = Image.fromarray(mask, "F").resize(photo.size, Image.Resampling.BILINEAR)
        return photo.path, np.clip(np.asarray(full, np.float32), 0.0, 1.0)
    return background, mask
