"""OutputStore: one record per job, its files in an unguessable folder with readable names, the
record in the history (never inside a published PNG), and a history that survives crashes."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from editor import storage
from editor.errors import InputError
from editor.storage import JobFile, OutputStore, pixel_hash, read_params, readable_name

REPO = Path(__file__).resolve().parents[2]


def _image(seed: int, size=(48, 32)) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8), "RGB")


def _save(store: OutputStore, seed: int, caption: str = "x", **record):
    return store.save_job({"task": "generate", "caption": caption, **record},
                          [JobFile("result", readable_name("generate", caption), image=_image(seed))])


def test_a_job_is_one_folder_with_readable_names_and_one_history_line(tmp_path):
    store = OutputStore(tmp_path)
    saved = store.save_job({"task": "edit", "caption": "녹차 한 잔"}, [
        JobFile("result", readable_name("edit", "녹차 한 잔"), image=_image(1)),
        JobFile("mask", "mask.png", image=Image.new("L", (48, 32), 255)),
        JobFile("zip", "all.zip", data=b"PK\x05\x06" + bytes(18)),
    ])
    assert re.fullmatch(r"[0-9a-f]{32}", saved.id) and saved.folder == tmp_path / "jobs" / saved.id
    assert sorted(p.name for p in saved.folder.iterdir()) == ["all.zip", "edit_녹차-한-잔.png", "mask.png"]
    [record] = store.history()
    assert record["id"] == saved.id and record["caption"] == "녹차 한 잔"
    assert [f["role"] for f in record["files"]] == ["result", "mask", "zip"]
    assert record["files"][0]["sha256"] == pixel_hash(_image(1)) and record["files"][0]["width"] == 48
    assert store.path_of(record["files"][0]) == saved.files["result"]


def test_a_large_file_written_on_disk_is_moved_into_its_job_and_a_scratch_never_outlives_its_block(tmp_path):
    import hashlib
    import zipfile

    store = OutputStore(tmp_path)
    with store.scratch_file(".zip") as path:
        with zipfile.ZipFile(path, "w") as archive:  # e.g. a batch of ads, product by product
            archive.writestr("a/story.png", b"x" * 1000)
        expected = hashlib.sha256(path.read_bytes()).hexdigest()
        saved = store.save_job({"task": "ad-batch"}, [JobFile("zip", "batch.zip", written=path)])
    assert sorted(p.name for p in (tmp_path / "jobs").iterdir()) == [saved.id]  # no scratch file left
    assert store.history()[0]["files"][0]["sha256"] == expected
    assert zipfile.ZipFile(saved.files["zip"]).read("a/story.png") == b"x" * 1000

    with pytest.raises(RuntimeError):
        with store.scratch_file(".zip") as path:
            path.write_bytes(b"half a zip")
            raise RuntimeError("cancelled")  # a cancelled or failed job
    with store.scratch_file(".zip") as path:
        path.write_bytes(b"a zip that a job did not save")
    assert sorted(p.name for p in (tmp_path / "jobs").iterdir()) == [saved.id]


def test_job_folders_are_unguessable_even_for_the_same_pixels(tmp_path):
    store = OutputStore(tmp_path)
    first, second = _save(store, 1), _save(store, 1)
    assert first.id != second.id and first.folder != second.folder
    assert len(store.history()) == 2


def test_a_published_png_carries_no_record_the_history_keeps_it_and_qa_settings_are_explicit(tmp_path):
    saved = _save(OutputStore(tmp_path), 4, caption="따뜻한 카페의 라떼", owner="ab12cd34ef56",
                  request={"seed": 42, "size": [64, 48]}, report={"memory_plan": {"explanation": "21.1 GB RAM free"}})
    raw = saved.files["result"].read_bytes()
    for secret in (b"ab12cd34ef56", b"RAM free", b"memory_plan", "라떼".encode(), b"intact:params", b"seed"):
        assert secret not in raw
    with Image.open(saved.files["result"]) as img:
        assert dict(img.text) == {"Software": "Intact"}
        assert np.array_equal(np.asarray(img.convert("RGB")), np.asarray(_image(4)))
    assert read_params(saved.files["result"]) == {}
    [record] = OutputStore(tmp_path).history()  # the record is in the job's history line
    assert record["caption"] == "따뜻한 카페의 라떼" and record["owner"] == "ab12cd34ef56"
    # A QA run asks for its settings in the picture, and gets exactly those (Korean intact).
    png = tmp_path / "qa.png"
    png.write_bytes(storage.encode_png(_image(4), {"prompt": "라떼", "seed": 42}))
    assert read_params(png) == {"prompt": "라떼", "seed": 42}


def test_the_zip_of_an_ads_pictures_reuses_their_png_bytes(tmp_path):
    import zipfile

    store = OutputStore(tmp_path)
    pictures = [JobFile(f"ad:{n}", f"{n}.png", image=_image(i, (64 + i, 40))) for i, n in enumerate(("a", "b", "c"))]
    saved = store.save_job({"task": "ad"}, [*pictures, JobFile("zip", "ads.zip", zip_of=("a.png", "b.png", "c.png"))])
    with zipfile.ZipFile(saved.files["zip"]) as archive:
        for name in ("a", "b", "c"):
            assert archive.read(f"{name}.png") == saved.files[f"ad:{name}"].read_bytes()


def test_stale_staging_leftovers_of_a_killed_save_are_swept_when_a_store_opens_and_nothing_else(tmp_path):
    import os
    import time

    jobs = tmp_path / "jobs"
    saved = _save(OutputStore(tmp_path), 1)
    old = time.time() - storage.STALE_AFTER_S - 60
    stale_dir, stale_scratch = jobs / f".{'a' * 32}.tmp", jobs / ".scratch-x1.zip"
    fresh_dir = jobs / f".{'b' * 32}.tmp"  # a save under way in another process
    theirs = jobs / ".cache"  # not a name we make
    for folder in (stale_dir, fresh_dir, theirs):
        folder.mkdir()
        (folder / "x.png").write_bytes(b"x")
    stale_scratch.write_bytes(b"half")
    for path in (stale_dir, stale_scratch, theirs):
        os.utime(path, (old, old))
    OutputStore(tmp_path)  # a restart
    assert sorted(p.name for p in jobs.iterdir()) == sorted([saved.id, fresh_dir.name, theirs.name])


def test_a_withdrawn_job_leaves_no_files_and_no_history_line_even_after_another_append(tmp_path):
    store = OutputStore(tmp_path)
    kept = _save(store, 1)
    last = _save(store, 2)
    before = store.history_path.read_bytes()
    store.withdraw(last)  # still the last line: cut off
    assert not last.folder.exists() and [r["id"] for r in store.history()] == [kept.id]
    assert before.startswith(store.history_path.read_bytes())
    middle, after = _save(store, 3), _save(store, 4)
    store.withdraw(middle)  # another job was appended since: struck out
    assert [r["id"] for r in store.history()] == [kept.id, after.id] and not middle.folder.exists()


@pytest.mark.parametrize("code, words", [("ENOSPC", "The disk is full"), ("EROFS", "read-only")])
def test_a_full_or_read_only_disk_is_one_line_and_leaves_nothing(tmp_path, monkeypatch, code, words):
    import errno as errno_codes

    from editor.errors import IntactError

    store = OutputStore(tmp_path)
    _save(store, 1)

    def fail(*args, **kwargs):
        raise OSError(getattr(errno_codes, code), "simulated", str(tmp_path / "jobs" / "x"))

    monkeypatch.setattr(storage, "atomic_write_bytes", fail)
    with pytest.raises(IntactError, match=words) as info:
        _save(store, 2)
    assert "\n" not in str(info.value) and len(store.history()) == 1
    assert [p.name for p in (tmp_path / "jobs").iterdir() if p.name.startswith(".")] == []
    monkeypatch.setattr(storage.tempfile, "mkstemp", fail)
    with pytest.raises(IntactError, match=words):
        with store.scratch_file(".zip"):
            pass


@pytest.mark.parametrize("words, name", [
    (("edit", "a cup of green tea"), "edit_a-cup-of-green-tea.png"),
    (("가을 신메뉴", "instagram-square"), "가을-신메뉴_instagram-square.png"),
    (("../../etc/passwd",), "etc-passwd.png"),
    (("", "   "), "result.png"),
    (("x\x00y/z",), "x-y-z.png"),
])
def test_readable_names_keep_words_and_drop_everything_that_could_escape_the_folder(words, name):
    assert readable_name(*words) == name


def test_history_survives_a_restart(tmp_path):
    _save(OutputStore(tmp_path), 5, "one")
    _save(OutputStore(tmp_path), 6, "two")
    assert [h["caption"] for h in OutputStore(tmp_path).history()] == ["one", "two"]


def test_history_ignores_a_line_torn_by_a_process_killed_mid_write(tmp_path):
    store = OutputStore(tmp_path)
    _save(store, 7, "before the crash")
    # A real second process dies (os._exit, no cleanup) after writing half of its history line.
    script = textwrap.dedent(
        f"""
        import os, sys
        sys.path.insert(0, {str(REPO)!r})
        import numpy as np
        from PIL import Image
        from editor.storage import JobFile, OutputStore
        real_write = os.write
        def crash_halfway(fd, data):
            real_write(fd, data[: len(data) // 2])
            os._exit(9)
        img = Image.fromarray(np.full((8, 8, 3), 200, np.uint8), "RGB")
        store = OutputStore({str(tmp_path)!r})
        original = store._append_history
        def torn(entry):
            os.write = crash_halfway
            original(entry)
        store._append_history = torn
        store.save_job({{"task": "edit", "caption": "during the crash"}}, [JobFile("result", "r.png", image=img)])
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=120)
    assert proc.returncode == 9, proc.stderr.decode()
    raw = (tmp_path / "history.jsonl").read_bytes()
    assert not raw.endswith(b"\n")  # the torn line really is there

    restarted = OutputStore(tmp_path)
    assert [h["caption"] for h in restarted.history()] == ["before the crash"]
    _save(restarted, 8, "after the restart")
    assert [h["caption"] for h in OutputStore(tmp_path).history()] == ["before the crash", "after the restart"]


def test_a_failed_write_leaves_no_file_no_folder_and_no_history_entry(tmp_path, monkeypatch):
    store = OutputStore(tmp_path)
    real_replace = storage.os.replace

    def disk_full_at_the_second_file(src, dst):
        if str(dst).endswith("mask.png"):
            raise OSError(28, "No space left on device")
        return real_replace(src, dst)

    monkeypatch.setattr(storage.os, "replace", disk_full_at_the_second_file)
    with pytest.raises(storage.IntactError, match="The disk is full"):
        store.save_job({"task": "edit"}, [JobFile("result", "r.png", image=_image(9)),
                                          JobFile("mask", "mask.png", image=_image(10))])
    monkeypatch.undo()
    assert list((tmp_path / "jobs").iterdir()) == []  # neither the files nor a staging folder
    assert store.history() == []


def test_a_failed_history_append_removes_the_jobs_files(tmp_path, monkeypatch):
    store = OutputStore(tmp_path)

    def disk_full(entry):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(store, "_append_history", disk_full)
    with pytest.raises(storage.IntactError, match="The disk is full"):
        _save(store, 11)
    assert list((tmp_path / "jobs").iterdir()) == []


def test_garbled_history_lines_are_skipped(tmp_path):
    store = OutputStore(tmp_path)
    _save(store, 10, "good")
    with open(tmp_path / "history.jsonl", "ab") as fh:
        fh.write(b"\xff\xfe not json\n[1, 2]\n{\"id\": 3}\n")
    _save(store, 11, "also good")
    assert [h["caption"] for h in store.history()] == ["good", "also good"]


def test_root_defaults_to_the_env_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("INTACT_OUTPUT_DIR", str(tmp_path / "elsewhere"))
    saved = _save(OutputStore(), 12)
    assert saved.folder.parent == tmp_path / "elsewhere" / "jobs"


def test_parameters_that_are_not_json_are_refused_before_any_file_is_written(tmp_path):
    with pytest.raises(InputError):
        _save(OutputStore(tmp_path), 13, request={"y": {1, 2}})
    with pytest.raises(InputError):
        _save(OutputStore(tmp_path), 13, request={"x": float("nan")})
    assert not (tmp_path / "jobs").exists() or not any((tmp_path / "jobs").iterdir())


def test_only_the_owner_deletes_a_job_and_its_line_stays_in_the_history(tmp_path):
    store = OutputStore(tmp_path)
    saved = _save(store, 14, owner="alice")
    assert not store.delete_job(saved.id, "bob") and saved.folder.is_dir()
    assert not store.delete_job("../" + saved.id, "alice")
    assert store.delete_job(saved.id, "alice") and not saved.folder.exists()
    assert [r["id"] for r in store.history()] == [saved.id]


def test_history_lines_are_valid_json_objects(tmp_path):
    _save(OutputStore(tmp_path), 15, "카페")
    lines = (tmp_path / "history.jsonl").read_text(encoding="utf-8").splitlines()
    record = json.loads(lines[0])
    assert record["caption"] == "카페" and (tmp_path / record["files"][0]["file"]).is_file()
