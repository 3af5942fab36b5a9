"""What the brush editors send to the page: the pictures a handler returns become files in Gradio's
cache, and a file the page may be reading is never written again. (How uploads reach our loader:
tests/reliability/test_uploads.py.)"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from ui.uploads import EDITOR_CANVAS, ImageEditorFiles


def editor(tmp_path, monkeypatch) -> ImageEditorFiles:
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "gradio"))
    return ImageEditorFiles(type="filepath", format="png", image_mode="RGBA", canvas_size=EDITOR_CANVAS)


def test_sending_the_photo_the_editor_shows_again_leaves_its_file_alone(tmp_path, monkeypatch):
    """The page reads the editor's own background file for its upload while the handler answers
    with the same photo (tap to select's "use as mask"): rewriting that file in place gave the page
    a short file and left the editor on its spinner."""
    widget = editor(tmp_path, monkeypatch)
    photo = np.random.default_rng(0).integers(0, 256, (48, 64, 3), dtype=np.uint8)
    layer = Image.new("RGBA", (64, 48), (236, 72, 153, 255))
    first = widget.postprocess({"background": photo, "layers": [], "composite": None})
    path = first.background.path
    before = Path(path).stat()
    again = widget.postprocess({"background": photo.copy(), "layers": [layer], "composite": None})
    assert again.background.path == path
    after = Path(path).stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)  # not written again
    np.testing.assert_array_equal(np.asarray(Image.open(path).convert("RGB")), photo)
    np.testing.assert_array_equal(np.asarray(Image.open(again.layers[0].path)), np.asarray(layer))
    assert not [p for p in (tmp_path / "gradio").rglob(".image*")]  # no staging file left


def test_paths_and_an_empty_editor_go_through_as_gradio_takes_them(tmp_path, monkeypatch):
    widget = editor(tmp_path, monkeypatch)
    assert widget.postprocess(None) is None
    picture = tmp_path / "photo.png"
    Image.new("RGB", (8, 8), (10, 20, 30)).save(picture)
    sent = widget.postprocess({"background": str(picture), "layers": [], "composite": None})
    assert np.asarray(Image.open(sent.background.path))[0, 0].tolist() == [10, 20, 30]
