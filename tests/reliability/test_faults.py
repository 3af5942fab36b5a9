"""Faults in the middle of a run: out of memory, a corrupt model folder, a full disk, a cancelled request.

Each fault is injected into the real code path (a forward hook on the tiny transformer, a broken
safetensors file, `os.write` / the file object raising ENOSPC, a progress callback that raises,
SIGINT to a real process). What the user sees is one line; what was saved before is never lost.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from editor.errors import IntactError

ROOT = Path(__file__).resolve().parents[2]


def photo_and_mask(w: int = 48, h: int = 32):
    rng = np.random.default_rng(3)
    rgb = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    mask = np.zeros((h, w), np.float32)
    mask[8:24, 12:36] = 1.0
    return rgb, mask


def run_cli(argv, capsys) -> tuple[int, str, str]:
    """`editor.cli.main` in this process (so faults can be injected), its log handler removed after."""
    from editor.cli import main

    root = logging.getLogger()
    before = set(root.handlers)
    capsys.readouterr()
    try:
        rc = main([str(a) for a in argv])
    finally:
        for handler in set(root.handlers) - before:
            root.removeHandler(handler)
            handler.close()
    out = capsys.readouterr()
    return rc, out.out, out.err


# ---------------------------------------------------------------- out of memory


class InjectedOOM:
    """Raise torch.OutOfMemoryError from the transformer's next `times` calls."""

    def __init__(self, transformer, times: int):
        self.left = times
        self.raised = 0
        self.handle = transformer.register_forward_pre_hook(self, with_kwargs=True)

    def __call__(self, module, args, kwargs):
        if self.left > 0:
            self.left -= 1
            self.raised += 1
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB (injected)")

    def remove(self):
        self.handle.remove()


@pytest.fixture
def tiny_loader(tiny_pipe, monkeypatch):
    """Make `load_pipeline('tiny')` hand out the session's tiny pipeline (so a hook can be put on it)."""
    import models.loading
    import models.manager

    def load(name, dtype=None):
        return tiny_pipe

    monkeypatch.setattr(models.loading, "load_pipeline", load)
    monkeypatch.setattr(models.manager, "load_pipeline", load)  # the manager's default loader
    return tiny_pipe


def _cli_edit_with_injected_oom(pipe, tmp_path, capsys, times: int):
    """`python -m editor edit` on a small photo while the transformer runs out of memory `times` times."""
    rgb, mask = photo_and_mask()
    Image.fromarray(rgb).save(tmp_path / "in.png")
    Image.fromarray((mask * 255).astype(np.uint8)).save(tmp_path / "mask.png")
    oom = InjectedOOM(pipe.transformer, times=times)
    try:
        rc, out, err = run_cli(["edit", "--model", "tiny", "--image", tmp_path / "in.png", "--mask", tmp_path / "mask.png",
                                "--source", "a", "--target", "b", "--steps", "2", "--skip-steps", "0",
                                "--out", tmp_path / "out.png"], capsys)
    finally:
        oom.remove()
    return oom, rc, out, err


def test_edit_cli_out_of_memory_every_time_is_one_clear_line_and_no_output(tiny_loader, tmp_path, capsys):
    oom, rc, out, err = _cli_edit_with_injected_oom(tiny_loader, tmp_path, capsys, times=10_000)
    last = err.strip().splitlines()[-1]
    assert oom.raised >= 1
    assert rc == 2, err
    assert last.startswith("error: ") and "memory" in last.lower(), err
    assert "Traceback" not in err + out
    assert not (tmp_path / "out.png").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_edit_cli_recovers_from_one_out_of_memory_by_retrying_with_a_cheaper_plan(tiny_loader, tmp_path, capsys):
    oom, rc, out, err = _cli_edit_with_injected_oom(tiny_loader, tmp_path, capsys, times=1)
    assert oom.raised == 1
    assert rc == 0, err
    rgb, mask = photo_and_mask()  # the same photo and mask the helper saved
    result = np.asarray(Image.open(tmp_path / "out.png"))
    np.testing.assert_array_equal(result[mask == 0], rgb[mask == 0])


def test_session_that_ran_out_of_memory_mid_inversion_edits_exactly_like_a_fresh_one(tiny_pipe):
    from editor.kv_edit import EditOptions, EditSession

    rgb, mask = photo_and_mask()
    opts = EditOptions(steps=3, skip_steps=0, seed=5)
    session = EditSession(tiny_pipe, rgb, mask, model_name="tiny")
    # Let one transformer call pass, then fail: the inversion is half recorded when the fault hits.
    calls = {"n": 0}

    def count_then_fail(module, args, kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise torch.OutOfMemoryError("CUDA out of memory (injected)")

    handle = tiny_pipe.transformer.register_forward_pre_hook(count_then_fail, with_kwargs=True)
    try:
        with pytest.raises(torch.OutOfMemoryError):
            session.edit("b", opts, source_prompt="a")
    finally:
        handle.remove()
    again = session.edit("b", opts, source_prompt="a")
    fresh = EditSession(tiny_pipe, rgb, mask, model_name="tiny").edit("b", opts, source_prompt="a")
    np.testing.assert_array_equal(np.asarray(again.image), np.asarray(fresh.image))


# ---------------------------------------------------------------- missing or corrupt model folders


@pytest.fixture(scope="module")
def saved_tiny(tmp_path_factory):
    from models.tiny import ensure_tiny

    return ensure_tiny()


def broken_copy(saved: Path, where: Path, damage: str) -> Path:
    folder = where / f"tiny-{damage}"
    shutil.copytree(saved, folder)
    weights = next((folder / "transformer").glob("*.safetensors"))
    if damage == "truncated":
        data = weights.read_bytes()
        weights.write_bytes(data[: len(data) // 3])
    elif damage == "garbage":
        weights.write_bytes(os.urandom(4096))
    elif damage == "deleted":
        weights.unlink()
    elif damage == "bad-index":
        (folder / "model_index.json").write_text("{ this is not json")
    elif damage == "bad-config":
        (folder / "transformer" / "config.json").write_text('{"_class_name": "FluxTransformer2DModel", "num_layers": "x"}')
    return folder


@pytest.mark.parametrize("damage", ["truncated", "garbage", "deleted", "bad-index", "bad-config"])
def test_corrupt_model_folder_gives_one_line_naming_the_folder(saved_tiny, tmp_path, monkeypatch, damage):
    from models.loading import ModelLoadError, load_pipeline

    folder = broken_copy(saved_tiny, tmp_path, damage)
    monkeypatch.setenv("INTACT_MODEL_TINY", str(folder))
    with pytest.raises(ModelLoadError) as exc:
        load_pipeline("tiny")
    message = str(exc.value)
    assert "\n" not in message and "Fetch the model again" in message
    assert str(folder) not in message and str(folder) in exc.value.operator_hint  # paths are the operator's


def test_missing_model_folder_says_where_we_looked_and_how_to_fetch(monkeypatch, tmp_path):
    from models.loading import load_pipeline
    from models.locate import ModelNotAvailableError

    monkeypatch.setenv("INTACT_MODEL_FLUX_DEV", str(tmp_path / "nowhere"))
    with pytest.raises(ModelNotAvailableError) as exc:
        load_pipeline("flux-dev")
    message, hint = str(exc.value), exc.value.operator_hint
    assert "\n" not in message and "flux-dev" in message and str(tmp_path / "nowhere") in hint
    assert "python -m models download flux-dev" in hint


def test_app_shows_a_corrupt_model_as_a_message_not_a_trace(saved_tiny, tmp_path, monkeypatch):
    import gradio as gr

    from ui.feedback import user_errors

    folder = broken_copy(saved_tiny, tmp_path, "truncated")
    monkeypatch.setenv("INTACT_MODEL_TINY", str(folder))
    from models.manager import ModelManager

    with pytest.raises(gr.Error) as exc:
        with user_errors("en"):
            ModelManager(device="cpu").base("tiny")
    assert "could not be loaded" in exc.value.message and "Traceback" not in exc.value.message
    assert str(folder) not in exc.value.message  # a browser never sees a server path


# ---------------------------------------------------------------- a full disk while saving


def snapshot(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def enospc(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


class FullDiskFile:
    """A file object whose writes fail with ENOSPC after `budget` bytes (a disk that fills up)."""

    def __init__(self, real, budget: int):
        self.real, self.budget = real, budget

    def write(self, data):
        if len(data) > self.budget:
            self.real.write(data[: self.budget])  # what fitted is really written, as on a real disk
            self.budget = 0
            raise OSError(errno.ENOSPC, "No space left on device")
        self.budget -= len(data)
        return self.real.write(data)

    def __getattr__(self, name):
        return getattr(self.real, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return self.real.__exit__(*exc)


def fill_disk_under(monkeypatch, root: Path, budget: int) -> None:
    """Every file opened for writing under `root` fails with ENOSPC after `budget` bytes.

    Patches `io.open` (what `open`, `Path.write_bytes` and `os.fdopen` all call), so the test does not
    depend on which of them the store uses.
    """
    import builtins
    import io

    real_open = io.open
    root = Path(root).resolve()

    def open_on_a_full_disk(file, mode="r", *args, **kwargs):
        handle = real_open(file, mode, *args, **kwargs)
        writing = any(c in mode for c in "wax")
        inside = isinstance(file, int) or Path(os.fsdecode(file)).resolve().is_relative_to(root)
        return FullDiskFile(handle, budget) if writing and inside else handle

    monkeypatch.setattr(io, "open", open_on_a_full_disk)
    monkeypatch.setattr(builtins, "open", open_on_a_full_disk)


@pytest.fixture
def store_with_history(tmp_path):
    from editor.storage import OutputStore

    store = OutputStore(tmp_path / "outputs")
    for i in range(3):
        save(store, Image.new("RGB", (16, 16), (i * 40, 0, 0)), f"earlier {i}", i=i)
    return store


def save(store, image, caption, **record):
    from editor.storage import JobFile

    return store.save_job({"caption": caption, **record}, [JobFile("result", "result.png", image=image)])


def test_disk_full_while_writing_the_image_leaves_outputs_and_history_untouched(store_with_history, monkeypatch):
    store = store_with_history
    before = snapshot(store.root)
    fill_disk_under(monkeypatch, store.root, budget=100)
    with pytest.raises(IntactError) as exc:
        save(store, Image.new("RGB", (32, 32), (1, 2, 3)), "new")
    assert exc.value.key == "disk_full" and exc.value.__cause__.errno == errno.ENOSPC
    monkeypatch.undo()
    assert snapshot(store.root) == before  # no new image, no temp file, no empty folder, history unchanged
    assert len(list(store.jobs_dir.iterdir())) == 3  # no empty or staging folder either
    assert [e["i"] for e in store.history()] == [0, 1, 2]


def test_disk_full_while_appending_history_keeps_every_earlier_entry_readable(store_with_history, monkeypatch):
    import editor.storage as storage

    store = store_with_history
    history_before = store.history_path.read_bytes()
    monkeypatch.setattr(storage.os, "write", enospc)
    with pytest.raises(IntactError, match="The disk is full"):
        save(store, Image.new("RGB", (32, 32), (9, 9, 9)), "new")
    monkeypatch.undo()
    assert store.history_path.read_bytes() == history_before
    assert [e["i"] for e in store.history()] == [0, 1, 2]
    assert [p for p in store.root.rglob(".*")] == [] and len(list(store.jobs_dir.iterdir())) == 3
    # Space is back: the next save works and history grows by exactly one entry.
    save(store, Image.new("RGB", (32, 32), (9, 9, 9)), "new")
    assert [e["caption"] for e in store.history()][-1] == "new"
    assert len(store.history()) == 4


def test_a_torn_history_line_from_a_crash_is_skipped_and_the_next_save_stays_readable(store_with_history):
    store = store_with_history
    with open(store.history_path, "ab") as fh:
        fh.write(b'{"sha256": "abc", "par')  # a crash in the middle of an append
    assert len(store.history()) == 3
    save(store, Image.new("RGB", (8, 8), (5, 5, 5)), "after crash")
    assert [e["caption"] for e in store.history()] == ["earlier 0", "earlier 1", "earlier 2", "after crash"]


def test_generate_cli_on_a_full_disk_says_so_in_one_line_and_keeps_history(tmp_path, monkeypatch, capsys, tiny_pipe):
    import editor.storage as storage
    from editor.storage import OutputStore

    out = tmp_path / "gen"
    save(OutputStore(out), Image.new("RGB", (16, 16), (7, 7, 7)), "earlier")
    before = snapshot(out)
    monkeypatch.setattr(storage.os, "write", enospc)  # history append
    fill_disk_under(monkeypatch, out, budget=10)  # the picture
    rc, _, err = run_cli(["generate", "--model", "tiny", "--prompt", "a cup", "--steps", "1", "--size", "32x32",
                          "--seed", "1", "--out", out / "copies", "--output-dir", out], capsys)
    monkeypatch.undo()
    lines = err.strip().splitlines()
    assert rc == 2, err
    assert lines[-1].startswith("error: The disk is full"), err
    assert "Traceback" not in err
    assert snapshot(out) == before


# ---------------------------------------------------------------- cancellation


class Cancelled(Exception):
    """What a UI raises from a progress callback when the user presses Stop."""


def cancel_at(stage: str, step: int):
    def progress(s, i, total):
        if s == stage and i >= step:
            raise Cancelled()

    return progress


@pytest.mark.parametrize("stage, step", [("invert", 1), ("invert", 2), ("edit", 1)])
def test_cancelled_edit_leaves_the_session_usable_and_exact(tiny_pipe, stage, step):
    from editor.kv_edit import EditOptions, EditSession

    rgb, mask = photo_and_mask()
    opts = EditOptions(steps=4, skip_steps=1, seed=9)
    session = EditSession(tiny_pipe, rgb, mask, model_name="tiny")
    with pytest.raises(Cancelled):
        session.edit("a green cup", opts, progress=cancel_at(stage, step), source_prompt="a white cup")
    again = session.edit("a green cup", opts, source_prompt="a white cup")
    fresh = EditSession(tiny_pipe, rgb, mask, model_name="tiny").edit("a green cup", opts, source_prompt="a white cup")
    np.testing.assert_array_equal(np.asarray(again.image), np.asarray(fresh.image))
    np.testing.assert_array_equal(np.asarray(again.image)[mask == 0], rgb[mask == 0])


def test_cancelled_generation_releases_the_model_lock(studio):
    from editor.studio import GenerateRequest, JobContext

    manager = studio.manager
    request = GenerateRequest(prompt="a cup", model="tiny", steps=3, width=32, height=32, seed=1)
    with pytest.raises(Cancelled):
        studio.generate(request, JobContext(progress=cancel_at("generate", 1)))
    got = []
    t = threading.Thread(target=lambda: got.append(manager.lock.acquire(timeout=10) and manager.lock.release() is None))
    t.start()
    t.join(15)
    assert got == [True]  # another user's request is not blocked
    after = studio.generate(request)
    assert len(after.images) == 1 and len(studio.store.history()) == 1  # the cancelled run saved nothing


def test_ctrl_c_stops_the_cli_with_cancelled_and_no_output(tmp_path):
    import pty
    import select

    rgb, mask = photo_and_mask(64, 64)
    Image.fromarray(rgb).save(tmp_path / "in.png")
    Image.fromarray((mask * 255).astype(np.uint8)).resize((64, 64)).save(tmp_path / "mask.png")
    # stderr on a terminal, as for a user at a shell: the progress line then updates every step.
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "editor", "edit", "--model", "tiny", "--image", str(tmp_path / "in.png"),
         "--mask", str(tmp_path / "mask.png"), "--source", "a", "--target", "b", "--steps", "100",
         "--skip-steps", "0", "--kv-cache", "device", "--out", str(tmp_path / "out.png")],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=slave, env={**os.environ, "PYTHONUNBUFFERED": "1"},
        # As a shell starts it: Ctrl-C at its default (a pytest-xdist worker ignores SIGINT, and an
        # ignored signal stays ignored in a child, so Python would never raise KeyboardInterrupt).
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    os.close(slave)
    seen = b""

    def read_available(wait: float) -> bytes:
        ready, _, _ = select.select([master], [], [], wait)
        try:
            return os.read(master, 65536) if ready else b""
        except OSError:  # the child closed the terminal
            return b""

    deadline = time.monotonic() + 300
    while b"invert 3/" not in seen and time.monotonic() < deadline and proc.poll() is None:
        seen += read_available(0.5)
    assert b"invert 3/100" in seen, seen[-2000:]
    proc.send_signal(signal.SIGINT)  # what Ctrl-C sends
    proc.wait(120)
    while chunk := read_available(0.2):
        seen += chunk
    os.close(master)
    text = seen.decode(errors="replace").replace("\x1b[K", "").replace("\r", "\n")
    assert proc.returncode == 130, text[-2000:]
    assert text.strip().splitlines()[-1].strip() == "cancelled"
    assert "Traceback" not in text
    assert not (tmp_path / "out.png").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_a_full_disk_in_the_app_is_one_line_in_the_users_language_and_leaves_no_folder(studio, monkeypatch):
    """The Studio says it (every front end): before, the app showed "Something went wrong: OSError
    [Errno 28]" and left an empty job folder."""
    from editor.studio import GenerateRequest, JobContext
    from ui.error_text import error_text

    studio.store.root.mkdir(parents=True, exist_ok=True)
    before = snapshot(studio.store.root)
    fill_disk_under(monkeypatch, studio.store.root, budget=10)
    with pytest.raises(IntactError) as caught:
        studio.generate(GenerateRequest(prompt="a cup", model="tiny", steps=1, width=32, height=32, seed=1),
                        JobContext())
    monkeypatch.undo()
    assert caught.value.key == "disk_full" and str(caught.value).startswith("The disk is full")
    assert str(studio.store.root) not in str(caught.value)  # the folder is for the operator: in the hint
    assert "디스크가 가득" in error_text(caught.value, "ko")
    assert snapshot(studio.store.root) == before
    assert not studio.store.jobs_dir.exists() or list(studio.store.jobs_dir.iterdir()) == []
