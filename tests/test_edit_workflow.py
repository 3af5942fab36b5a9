"""The memory plan wired into the real run paths: edit and generate on the tiny model, CLI included."""

from __future__ import annotations

import io
import json
from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image

from editor.edit_workflow import resolve_kv_cache, run_edit
from editor.generate import GenerateRequest, generate
from editor.kv_edit import kv_stores
from models.manager import ModelManager
from models.memory import OutOfMemoryPlanError
from models.memory.planner import GB, MemoryBudget, plan_memory

H, W = 48, 64
FAST = dict(steps=3, skip_steps=1, seed=3)
BUDGET = MemoryBudget(0, 16 * GB, "test: no GPU, 16 GB RAM")  # CPU plans: the device cache fits first


@pytest.fixture
def manager(tiny_pipe):
    manager = ModelManager.from_pipeline("tiny", tiny_pipe)
    yield manager
    # A fallback plan may have tiled the shared pipeline's VAE: put it back as every test expects.
    if manager.loaded_name is not None:
        manager.apply_memory_plan(SimpleNamespace(offload="none", vae_tiling=False, text_encoders="device"))
    assert not tiny_pipe.vae.use_tiling


@pytest.fixture
def photo_and_mask():
    rng = np.random.default_rng(2)
    photo = Image.fromarray(rng.integers(0, 256, (H, W, 3), dtype=np.uint8))
    mask = np.zeros((H, W), np.float32)
    mask[8:40, 16:48] = 1
    return photo, mask


class EncoderCalls:
    """Counts forward passes of the pipeline's text encoders while installed."""

    def __init__(self, pipe):
        self.count = 0
        self._handles = [m.register_forward_hook(self._seen) for m in (pipe.text_encoder, pipe.text_encoder_2)]

    def _seen(self, *_):
        self.count += 1

    def remove(self):
        for h in self._handles:
            h.remove()


def test_auto_kv_cache_follows_the_plan_and_the_report_explains_the_plan(manager, photo_and_mask):
    photo, mask = photo_and_mask
    run = run_edit(manager, "tiny", photo, mask, "a white cup", "a red cup", budget=BUDGET, **FAST)
    report = run.result.report
    assert run.plan.kv_cache == "device" and report["kv_cache_mode"] == "device"
    assert report["kv_cache_requested"] == "device"  # "auto" never reaches EditOptions
    assert report["memory_plan"]["name"] == run.plan.name
    assert report["memory_plan"]["explanation"] == run.plan.explanation and "\n" not in run.plan.explanation
    assert report["memory_plan"]["fallback_used"] is False
    out = np.asarray(run.result.image)
    np.testing.assert_array_equal(out[mask == 0], np.asarray(photo)[mask == 0])


def test_a_forced_kv_cache_is_kept_and_bad_modes_fail_before_planning(manager, photo_and_mask):
    photo, mask = photo_and_mask
    run = run_edit(manager, "tiny", photo, mask, "a white cup", "a red cup", kv_cache="none", budget=BUDGET, **FAST)
    assert run.result.report["kv_cache_mode"] == "none" and run.result.report["mode"] == "inversion-free"
    from editor.errors import InputError

    with pytest.raises(InputError, match="floppy"):
        run_edit(manager, "tiny", photo, mask, "a", "b", kv_cache="floppy", budget=BUDGET, **FAST)
    assert resolve_kv_cache("auto", None) == "device" and resolve_kv_cache("cpu", run.plan) == "cpu"


def test_report_names_the_store_really_used_fp8_becomes_int8_without_float8(manager, photo_and_mask, monkeypatch):
    photo, mask = photo_and_mask
    monkeypatch.setattr(kv_stores, "float8_supported", lambda device: False)
    report = run_edit(manager, "tiny", photo, mask, "a white cup", "a red cup", kv_cache="fp8", budget=BUDGET,
                      **FAST).result.report
    assert report["kv_cache_requested"] == "fp8" and report["kv_cache_mode"] == "int8"


def test_out_of_memory_mid_edit_retries_once_with_the_fallback_plan(manager, tiny_pipe, photo_and_mask):
    photo, mask = photo_and_mask
    plan = plan_memory("tiny", W, H, FAST["steps"], float(mask.mean()), 0, 16 * GB, skip_steps=FAST["skip_steps"])
    cheaper = plan.fallback
    while cheaper.kv_cache == plan.kv_cache:  # the first fallback that changes the cache
        cheaper = cheaper.fallback
    plan = replace(plan, fallback=replace(cheaper, fallback=None))

    def explode_once(module, args, kwargs):
        handle.remove()
        raise torch.OutOfMemoryError("CUDA out of memory (injected)")

    handle = tiny_pipe.transformer.register_forward_pre_hook(explode_once, with_kwargs=True)
    try:
        run = run_edit(manager, "tiny", photo, mask, "a white cup", "a red cup", plan=plan, **FAST)
    finally:
        handle.remove()
    report = run.result.report
    assert run.plan is plan.fallback and report["memory_plan"]["fallback_used"] is True
    assert report["memory_plan"]["name"] == plan.fallback.name
    assert report["kv_cache_requested"] == plan.fallback.kv_cache


def test_out_of_memory_twice_gives_a_clear_message(manager, tiny_pipe, photo_and_mask):
    photo, mask = photo_and_mask
    plan = plan_memory("tiny", W, H, FAST["steps"], float(mask.mean()), 0, 16 * GB, skip_steps=FAST["skip_steps"])

    def always(module, args, kwargs):
        raise torch.OutOfMemoryError("CUDA out of memory (injected)")

    handle = tiny_pipe.transformer.register_forward_pre_hook(always, with_kwargs=True)
    try:
        with pytest.raises(OutOfMemoryPlanError, match="Ran out of memory with .* and again with the cheaper"):
            run_edit(manager, "tiny", photo, mask, "a white cup", "a red cup", plan=plan, **FAST)
    finally:
        handle.remove()


def test_a_second_edit_with_the_same_prompts_runs_no_text_encoder(manager, tiny_pipe, photo_and_mask):
    photo, mask = photo_and_mask
    calls = EncoderCalls(tiny_pipe)
    try:
        first = run_edit(manager, "tiny", photo, mask, "a white cup", "a red cup", budget=BUDGET, **FAST)
        assert calls.count > 0
        encoded = calls.count
        # A new session (another user, same model) with the same prompts: embeddings come from the
        # manager's cache, so neither encoder runs.
        second = run_edit(manager, "tiny", photo, mask, "a white cup", "a red cup", budget=BUDGET, **FAST)
        assert second.session is not first.session
        assert calls.count == encoded
        np.testing.assert_array_equal(np.asarray(first.result.image), np.asarray(second.result.image))
        run_edit(manager, "tiny", photo, mask, "a white cup", "a blue cup", budget=BUDGET, **FAST)
        assert calls.count > encoded  # a new prompt is encoded
    finally:
        calls.remove()
    assert len(manager.prompt_cache) == 3
    manager.unload()
    assert len(manager.prompt_cache) == 0  # embeddings belong to the unloaded encoders


def test_generate_plans_memory_and_reuses_prompt_embeddings(manager, tiny_pipe):
    request = GenerateRequest(prompt="a cup of coffee", model="tiny", seed=7, steps=2, width=32, height=48, num_images=2)
    calls = EncoderCalls(tiny_pipe)
    try:
        first = generate(manager, request, memory="auto")
        encoded = calls.count
        second = generate(manager, request, memory="auto")
        assert encoded > 0 and calls.count == encoded
    finally:
        calls.remove()
    assert first.report["memory_plan"]["explanation"] and first.report["memory_plan"]["fallback_used"] is False
    assert len(first.images) == 2
    for a, b in zip(first.images, second.images):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    # Two pictures from one prompt still differ (each row of the embeddings gets its own noise).
    assert not np.array_equal(np.asarray(first.images[0]), np.asarray(first.images[1]))


def test_cli_edit_defaults_to_the_automatic_plan_and_says_so(tmp_path, capsys):
    from editor.cli import main

    rng = np.random.default_rng(4)
    Image.fromarray(rng.integers(0, 256, (40, 56, 3), dtype=np.uint8)).save(tmp_path / "in.png")
    region = np.zeros((40, 56), np.uint8)
    region[8:32, 8:40] = 255
    Image.fromarray(region).save(tmp_path / "mask.png")
    code = main(["edit", "--image", str(tmp_path / "in.png"), "--mask", str(tmp_path / "mask.png"),
                 "--source", "a", "--target", "b", "--out", str(tmp_path / "out.png"), "--model", "tiny",
                 "--steps", "2", "--skip-steps", "0", "--device", "cpu", "--report", str(tmp_path / "r.json")])
    assert code == 0
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["kv_cache_requested"] == report["kv_cache_mode"]
    captured = capsys.readouterr()
    last = captured.out.strip().splitlines()[-1]
    assert last == f"memory plan: {report['memory_plan']['explanation']}"
    assert "\r" not in captured.err and "edit 2/2" in captured.err.splitlines()  # not a terminal: stage lines


def test_progress_rewrites_one_line_on_a_terminal_and_prints_finished_stages_otherwise():
    from editor.cli_progress import StageProgress

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    log, tty = io.StringIO(), Terminal()
    for stream in (log, tty):
        progress = StageProgress(stages=("invert", "edit"), stream=stream)
        for stage, total in (("invert", 2), ("decode", 1), ("edit", 3)):
            for step in range(1, total + 1):
                progress(stage, step, total)
    assert log.getvalue() == "invert 2/2\nedit 3/3\n"
    assert tty.getvalue() == "\rinvert 1/2\rinvert 2/2\n\redit 1/3\redit 2/3\redit 3/3\n"


def test_atomic_write_leaves_the_old_file_when_writing_fails(tmp_path):
    from editor.atomic import atomic_write, atomic_write_bytes

    target = tmp_path / "sub" / "out.bin"
    atomic_write_bytes(target, b"old")

    def broken(tmp):
        with open(tmp, "wb") as fh:
            fh.write(b"half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(target, broken)
    assert target.read_bytes() == b"old"
    assert [p.name for p in target.parent.iterdir()] == ["out.bin"]  # no temporary left behind
