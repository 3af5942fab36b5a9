"""Upload widgets that hand the event the uploaded file as it is, never an image Gradio decoded.

Gradio's own `gr.Image` / `gr.ImageEditor` open every upload with Pillow before the event runs: a
file that is not an image, empty, truncated or SVG then fails inside Gradio ("Could not preprocess
input component ... <its temporary path>", several lines, in English), and a large one is decoded
in full before any of our checks. These subclasses look the same in the page (same front-end
widgets) but pass the file on untouched: a path for uploads and API calls, bytes for what the
browser's canvas sends. `editor.images.load_image` then reads it — header first, so an oversized
picture is refused before a pixel is decoded — and every problem is our one line, with a key the
page shows in the user's language.
"""

from __future__ import annotations

import base64
import binascii
import os
import threading
from pathlib import Path

import gradio as gr
import numpy as np
from gradio import processing_utils
from PIL import Image

Source = str | bytes  # what an event receives for each picture: a file path, or the bytes of one


def upload_source(payload) -> Source | None:
    """The picture inside a Gradio file payload (FileData / ImageData / raw bytes), undecoded."""
    if payload is None or isinstance(payload, (bytes, bytearray)):
        return None if payload is None else bytes(payload)
    path = getattr(payload, "path", None)
    if path:
        return str(path)
    url = getattr(payload, "url", None) or ""
    if url.startswith("data:") and "," in url:  # a pasted picture sent inline
        try:
            return base64.b64decode(url.split(",", 1)[1], validate=False)
        except (binascii.Error, ValueError):
            return b""  # the loader says it is not an image
    return None


class ImageFile(gr.Image):
    """`gr.Image` whose event value is the uploaded file (path or bytes), read by our loader."""

    is_template = True  # the page uses gr.Image's front end
    # No __init__ of its own: Gradio builds the page's config from gr.Image.__init__'s parameters.
    # Make it with type="filepath" (what the API documents; the value is a file whatever the type).

    def preprocess(self, payload) -> Source | None:
        return upload_source(payload)


# The brush editors' blank canvas (`canvas_size`), smaller than any photo. Why: Gradio 6's editor
# places a layer sent from the server (tap to select's mask, the Ad tab's strokes) centred in the
# union of the photo and this canvas (800×800 by default), so on a photo smaller than the canvas
# the layer landed beside the photo: drawn off it, and lost when the brush exported the layers.
EDITOR_CANVAS = (16, 16)


class ImageEditorFiles(gr.ImageEditor):
    """`gr.ImageEditor` whose event value is {"background": file, "layers": [file, ...], "composite":
    None}, each file a path or bytes read by our loader (the composite is never used, so never read)."""

    is_template = True  # the page uses gr.ImageEditor's front end (make it with type="filepath", as above)

    def preprocess(self, payload) -> dict | None:
        if payload is None:
            return None
        stored = payload
        if payload.id is not None:  # the browser's canvas sent the pictures ahead, as blobs
            stored = self.blob_storage.pop(payload.id, None)
        if stored is None:
            return {"background": None, "layers": [], "composite": None}
        layers = [upload_source(layer) for layer in stored.layers or []]
        return {"background": upload_source(stored.background), "layers": [x for x in layers if x is not None],
                "composite": None}

    def postprocess(self, value):
        """Pictures from the server are written to Gradio's cache as Gradio names them (by their
        encoded bytes) but never over a file that is already there. Why: Gradio rewrites that file
        in place, and sending the photo the editor already shows (tap to select's "use as mask",
        the Ad tab's strokes) rewrote the very file the page was reading for its own upload: the
        page got a short file (ERR_CONTENT_LENGTH_MISMATCH) and the editor stayed on its spinner."""
        if isinstance(value, dict):
            value = {**value, "background": self._cached(value.get("background")),
                     "layers": [self._cached(layer) for layer in value.get("layers") or []],
                     "composite": self._cached(value.get("composite"))}
        return super().postprocess(value)

    def _cached(self, picture):
        if isinstance(picture, np.ndarray) and picture.dtype == np.uint8:
            picture = Image.fromarray(picture)
        if not isinstance(picture, Image.Image):
            return picture  # a path, None: as Gradio takes them
        data = processing_utils.encode_pil_to_bytes(picture, self.format)
        folder = Path(self.GRADIO_CACHE) / processing_utils.hash_bytes(data)
        path = folder / f"image.{self.format}"
        if not path.exists():
            folder.mkdir(parents=True, exist_ok=True)
            staging = folder / f".image.{os.getpid()}.{threading.get_ident()}"
            staging.write_bytes(data)
            os.replace(staging, path)  # whole or not at all, for a page reading it meanwhile
        return str(path)
