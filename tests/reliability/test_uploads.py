"""Uploads reach our loader as files, whatever the widget: a photo, a brush layer, a product, a
background or an init image that is not an image, empty, truncated, SVG or too large is refused with
our one line, in the user's language, with no folder in it; and an oversized picture is refused
from its header, at the configured limit, before any pixel is decoded."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from editor.errors import InputError
from tests.reliability.test_images import encode, png_header_only, uniform_png
from ui.error_text import error_text

GOOD = encode(Image.fromarray(np.full((24, 32, 3), 90, np.uint8)))
BAD_FILES = {  # name -> (bytes, key of our message)
    "notes.png": (b"this is a text file, not a picture", "image_unreadable"),
    "empty.png": (b"", "image_unreadable"),
    "half.png": (GOOD[: len(GOOD) // 2], "image_damaged"),
    "logo.svg": (b"<svg xmlns='http://www.w3.org/2000/svg' width='10' height='10'/>", "image_unreadable"),
    "bomb.png": (png_header_only(12_000, 12_000), "image_too_large"),
}


@pytest.fixture
def bad_files(tmp_path):
    folder = tmp_path / "gradio-upload-cache" / "3f2a9c"  # where Gradio keeps an upload: a server folder
    folder.mkdir(parents=True)
    for name, (data, _key) in BAD_FILES.items():
        (folder / name).write_bytes(data)
    return folder


def file_data(path):
    from gradio.data_classes import FileData

    return FileData(path=str(path), orig_name=path.name)


def test_the_upload_widgets_hand_over_the_file_untouched(tmp_path):
    import gradio as gr
    from gradio.components.image_editor import EditorData, EditorDataBlobs

    from ui.uploads import ImageEditorFiles, ImageFile

    path = tmp_path / "notes.png"
    path.write_bytes(b"not a picture")  # Gradio's own gr.Image fails on this inside its preprocess
    assert ImageFile().preprocess(file_data(path)) == str(path)
    assert ImageFile().preprocess(None) is None
    editor = ImageEditorFiles()
    value = editor.preprocess(EditorData(background=file_data(path), layers=[file_data(path)]))
    assert value == {"background": str(path), "layers": [str(path)], "composite": None}
    # The browser's canvas sends the pictures ahead as blobs: they come through as bytes.
    editor.blob_storage["abc"] = EditorDataBlobs(background=b"bg", layers=[None, b"layer"], composite=b"c")
    assert editor.preprocess(EditorData(id="abc")) == {"background": b"bg", "layers": [b"layer"], "composite": None}
    assert "abc" not in editor.blob_storage
    # The page still uses Gradio's own widgets, configured exactly as they would be.
    assert ImageFile().get_block_name() == "image" and editor.get_block_name() == "imageeditor"
    for ours, theirs in ((ImageFile, gr.Image), (ImageEditorFiles, gr.ImageEditor)):
        mine = ours(type="filepath", elem_id="x", label="Photo").get_config()
        original = theirs(type="filepath", elem_id="x", label="Photo").get_config()
        assert mine.keys() == original.keys() and mine["elem_id"] == "x"


@pytest.mark.parametrize("name", sorted(BAD_FILES))
@pytest.mark.parametrize("where", ["photo", "brush layer", "cut-out stroke", "product", "background"])
def test_every_bad_upload_gets_our_one_line_in_korean_without_a_folder(bad_files, name, where):
    from ui.app_state import ClientState
    from ui.imaging import read_upload, strokes_by_colour
    from ui.photo import photo_and_mask

    path = bad_files / name
    good = bad_files / "good.png"
    good.write_bytes(GOOD)
    read = {
        # The Edit tab reads its editor through photo_and_mask (the same call the app makes).
        "photo": lambda: photo_and_mask(ClientState(), {"background": str(path), "layers": []}),
        "brush layer": lambda: photo_and_mask(ClientState(), {"background": str(good), "layers": [str(path)]}),
        "cut-out stroke": lambda: strokes_by_colour([str(path)], (32, 24)),
        "product": lambda: read_upload(str(path), "product"),
        "background": lambda: read_upload(str(path), "background"),
    }[where]
    with pytest.raises(InputError) as caught:
        read()
    error = caught.value
    assert error.key == BAD_FILES[name][1]
    assert error.field == {"photo": "image", "brush layer": "mask", "cut-out stroke": "mask", "product": "product",
                           "background": "background"}[where]
    for text in (str(error), error_text(error, "ko")):
        assert "\n" not in text and str(bad_files) not in text and "preprocess" not in text
        assert name in text  # the user's own file name
    korean = error_text(error, "ko")
    assert korean != str(error) and any("\uac00" <= c <= "\ud7a3" for c in korean)


def test_an_8900_by_8900_png_is_refused_from_its_header_at_the_limit_not_twice_it(monkeypatch):
    """79 MP is between 1x and 2x of the 40 MP limit, where Pillow only warns: we refuse it anyway,
    before decoding, in the CLI's process (Pillow's defaults) and in the app's (Pillow limited)."""
    import warnings

    from PIL import ImageFile

    import app
    from editor.images import load_image

    data = uniform_png(8900, 8900)
    decoded = []
    real_load = ImageFile.ImageFile.load
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda self: decoded.append(self.size) or real_load(self))
    for limited in (False, True):
        with warnings.catch_warnings():
            if limited:
                monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", Image.MAX_IMAGE_PIXELS)
                app.limit_decoded_pixels()
            with pytest.raises(InputError) as caught:
                load_image(data, field="image")
        assert caught.value.key == "image_too_large" and "limit is 40 megapixels" in str(caught.value)
        assert "79.2 megapixels" in str(caught.value)
    assert decoded == []  # not one pixel was decoded
    assert load_image(uniform_png(6000, 6000)).size == (6000, 6000)  # 36 MP: within the limit, read as usual
    assert set(decoded) == {(6000, 6000)}  # (so the spy above does see a decode)


def test_masks_and_brush_layers_obey_the_limit_too(monkeypatch):
    from editor.images import as_mask, load_mask
    from ui.app_state import ClientState
    from ui.photo import photo_and_mask

    monkeypatch.setenv("INTACT_MAX_MEGAPIXELS", "0.001")  # 1,000 pixels
    big = encode(Image.new("L", (40, 40)))  # 1,600 pixels
    for read in (lambda: load_mask(big, (10, 10)), lambda: as_mask(big, (10, 10)),
                 lambda: photo_and_mask(ClientState(), {"background": encode(Image.new("RGB", (10, 10))),
                                                        "layers": [big]})):
        with pytest.raises(InputError, match="the limit is 0.001 megapixels") as caught:
            read()
        assert caught.value.field == "mask"


def test_a_pasted_picture_sent_inline_is_read_by_our_loader_too():
    import base64

    from gradio.data_classes import ImageData

    from ui.uploads import upload_source

    url = "data:image/png;base64," + base64.b64encode(GOOD).decode()
    assert Image.open(io.BytesIO(upload_source(ImageData(url=url)))).size == (32, 24)
    from editor.images import load_image

    with pytest.raises(InputError, match="not an image"):
        load_image(upload_source(ImageData(url="data:image/png;base64,@@@")))
