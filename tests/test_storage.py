"""OutputStore: content-hash names, parameters inside the PNG, a history that survives crashes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from editor import storage
from editor.errors import InputError
from editor.storage import OutputStore, pixel_hash, read_params

REPO = Path(__file__).resolve().parents[1]


def _image(seed: int, size=(48, 32)) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8), "RGB")


def test_same_pixels_are_stored_once_but_every_save_is_in_the_history(tmp_path):
    store = OutputStore(tmp_path)
    first = store.save(_image(1), {"prompt": "a latte", "seed": 1})
    second = store.save(_image(1), {"prompt": "a latte, again", "seed": 1})
    other = store.save(_image(2), {"prompt": "a cake", "seed": 2})

    assert first.path == second.path and first.sha256 == second.sha256
    assert first.created and not second.created and other.created
    assert first.path.name == f"{first.sha256}.png"
    assert sorted(p.name for p in (tmp_path / "images").iterdir()) == sorted(
        [f"{first.sha256}.png", f"{other.sha256}.png"]
    )
    history = store.history()
    assert [h["params"]["prompt"] for h in history] == ["a latte", "a latte, again", "a cake"]
    assert [h["deduplicated"] for h in history] == [False, True, False]


def test_file_name_is_the_hash_of_the_pixels(tmp_path):
    image = _image(3)
    saved = OutputStore(tmp_path).save(image, {"prompt": "x"})
    with Image.open(saved.path) as back:
        assert pixel_hash(back.convert("RGB")) == saved.sha256
        assert np.array_equal(np.asarray(back.convert("RGB")), np.asarray(image))


def test_parameters_round_trip_through_png_text_chunks_including_korean(tmp_path):
    params = {"prompt": "따뜻한 카페의 라떼", "prompt_en": "a latte in a warm cafe", "seed": 42, "steps": 4,
              "guidance": 3.5, "size": [64, 48], "lora": {"name": "film", "weight": 0.8}}
    saved = OutputStore(tmp_path).save(_image(4), params)
    assert read_params(saved.path) == params
    with Image.open(saved.path) as img:
        assert img.text["Software"] == "Intact"


def test_history_survives_a_restart(tmp_path):
    OutputStore(tmp_path).save(_image(5), {"prompt": "one"})
    OutputStore(tmp_path).save(_image(6), {"prompt": "two"})
    assert [h["params"]["prompt"] for h in OutputStore(tmp_path).history()] == ["one", "two"]


def test_history_ignores_a_line_torn_by_a_process_killed_mid_write(tmp_path):
    store = OutputStore(tmp_path)
    store.save(_image(7), {"prompt": "before the crash"})
    # A real second process dies (os._exit, no cleanup) after writing half of its history line.
    script = textwrap.dedent(
        f"""
        import os, sys
        sys.path.insert(0, {str(REPO)!r})
        import numpy as np
        from PIL import Image
        from editor.storage import OutputStore
        real_write = os.write
        def crash_halfway(fd, data):
            real_write(fd, data[: len(data) // 2])
            os._exit(9)
        os.write = crash_halfway
        img = Image.fromarray(np.full((8, 8, 3), 200, np.uint8), "RGB")
        OutputStore({str(tmp_path)!r}).save(img, {{"prompt": "during the crash"}})
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=120)
    assert proc.returncode == 9, proc.stderr.decode()
    raw = (tmp_path / "history.jsonl").read_bytes()
    assert not raw.endswith(b"\n")  # the torn line really is there

    restarted = OutputStore(tmp_path)
    assert [h["params"]["prompt"] for h in restarted.history()] == ["before the crash"]
    restarted.save(_image(8), {"prompt": "after the restart"})
    assert [h["params"]["prompt"] for h in OutputStore(tmp_path).history()] == [
        "before the crash",
        "after the restart",
    ]


def test_a_failed_image_write_leaves_no_partial_file_and_no_history_entry(tmp_path, monkeypatch):
    store = OutputStore(tmp_path)

    def disk_full(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(storage.os, "replace", disk_full)
    with pytest.raises(OSError):
        store.save(_image(9), {"prompt": "lost"})
    monkeypatch.undo()
    assert list((tmp_path / "images").iterdir()) == []  # neither the image nor a temp file
    assert store.history() == []


def test_garbled_history_lines_are_skipped(tmp_path):
    store = OutputStore(tmp_path)
    store.save(_image(10), {"prompt": "good"})
    with open(tmp_path / "history.jsonl", "ab") as fh:
        fh.write(b"\xff\xfe not json\n[1, 2]\n")
    store.save(_image(11), {"prompt": "also good"})
    assert [h["params"]["prompt"] for h in store.history()] == ["good", "also good"]


def test_root_defaults_to_the_env_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("INTACT_OUTPUT_DIR", str(tmp_path / "elsewhere"))
    saved = OutputStore().save(_image(12), {})
    assert saved.path.parent == tmp_path / "elsewhere" / "images"


def test_parameters_that_are_not_json_are_refused(tmp_path):
    with pytest.raises(InputError):
        OutputStore(tmp_path).save(_image(13), {"y": {1, 2}})
    with pytest.raises(InputError):
        OutputStore(tmp_path).save(_image(13), {"x": float("nan")})
    assert not (tmp_path / "images").exists() or not any((tmp_path / "images").iterdir())


def test_history_lines_are_valid_json_objects(tmp_path):
    store = OutputStore(tmp_path)
    store.save(_image(14), {"prompt": "카페"})
    lines = (tmp_path / "history.jsonl").read_text(encoding="utf-8").splitlines()
    assert json.loads(lines[0])["params"]["prompt"] == "카페"
    assert os.path.exists(tmp_path / json.loads(lines[0])["file"])
