"""Studio.edit and Studio.invert: the steps of an edit job on the tiny model."""

from __future__ import annotations

import threading
from dataclasses import replace

import numpy as np
import pytest
import torch
from PIL import Image

from editor.errors import InputError
from editor.kv_edit import kv_stores
from editor.studio import EditRequest, InvertRequest, JobCancelled, JobContext
from editor.studio.memory import kv_cache_for
from models.memory import OutOfMemoryPlanError
from models.memory.planner import GB, plan_memory

H, W = 48, 64
FAST = dict(steps=3, skip_steps=1, seed=3, model="tiny")


@pytest.fixture
def photo_and_mask():
    rng = np.random.default_rng(2)
    photo = Image.fromarray(rng.integers(0, 256, (H, W, 3), dtype=np.uint8))
    mask = np.zeros((H, W), np.float32)
    mask[8:40, 16:48] = 1
    return photo, mask


def edit(photo, mask, target="a red cup", **kw):
    return EditRequest(image=photo, mask=mask, source_prompt="a white cup", target_prompt=target, **{**FAST, **kw})


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


def test_an_edit_keeps_every_pixel_outside_the_mask_and_reports_model_licence_and_plan(studio, photo_and_mask):
    photo, mask = photo_and_mask
    outcome = studio.edit(edit(photo, mask))
    np.testing.assert_array_equal(np.asarray(outcome.image)[mask == 0], np.asarray(photo)[mask == 0])
    r = outcome.report
    assert (r["model"], r["model_label"], r["random_weights"]) == ("tiny", "tiny (random weights, for testing)", True)
    assert r["license"] and r["commercial_use"] is True
    assert r["memory_plan"]["explanation"] and "\n" not in r["memory_plan"]["explanation"]
    assert r["memory_plan"]["fallback_used"] is False
    assert r["kv_cache_requested"] == "device" == r["kv_cache_mode"]  # "auto" never reaches the engine
    assert r["inversion"] == "computed" and r["style"] is None


def test_a_forced_kv_cache_is_kept_and_a_bad_mode_is_refused_when_the_request_is_made(studio, photo_and_mask):
    photo, mask = photo_and_mask
    report = studio.edit(edit(photo, mask, kv_cache="none")).report
    assert report["kv_cache_mode"] == "none" and report["mode"] == "inversion-free"
    assert report["inversion"] == "not needed (inversion-free)"
    with pytest.raises(InputError, match="floppy") as info:
        edit(photo, mask, kv_cache="floppy")
    assert info.value.field == "kv_cache" and info.value.key == "bad_choice"
    assert kv_cache_for("auto", None) == "device" and kv_cache_for("cpu", None) == "cpu"


def test_the_store_really_used_is_reported_fp8_becomes_int8_without_float8(studio, photo_and_mask, monkeypatch):
    photo, mask = photo_and_mask
    monkeypatch.setattr(kv_stores, "float8_supported", lambda device: False)
    report = studio.edit(edit(photo, mask, kv_cache="fp8")).report
    assert report["kv_cache_requested"] == "fp8" and report["kv_cache_mode"] == "int8"


@pytest.mark.parametrize("steps, skip", [(4, 1), (1, 0), (28, 4), (9, 1)])
def test_skip_steps_left_out_follow_the_step_count_and_are_always_valid(studio, photo_and_mask, steps, skip):
    photo, mask = photo_and_mask
    report = studio.edit(edit(photo, mask, steps=steps, skip_steps=None, kv_cache="none")).report
    assert (report["steps"], report["skip_steps"], report["denoise_steps"]) == (steps, skip, steps - skip)


def test_an_explicit_skip_steps_is_still_checked(studio, photo_and_mask):
    photo, mask = photo_and_mask
    with pytest.raises(InputError, match="skip_steps"):
        studio.edit(edit(photo, mask, steps=4, skip_steps=4))


def test_the_sessions_second_edit_reuses_its_inversion_another_session_inverts_its_own(studio, photo_and_mask):
    photo, mask = photo_and_mask
    first = studio.edit(edit(photo, mask), JobContext(session="a"))
    again = studio.edit(edit(photo, mask, target="a blue cup"), JobContext(session="a"))
    other = studio.edit(edit(photo, mask, target="a blue cup"), JobContext(session="b"))
    assert first.report["inversion"] == "computed" and again.report["inversion"] == "reused"
    assert again.report["transformer_calls"] == 2  # the denoising steps only
    assert other.report["inversion"] == "computed"
    np.testing.assert_array_equal(np.asarray(again.image), np.asarray(other.image))


def test_invert_ahead_then_edit_inverts_once(studio, photo_and_mask):
    photo, mask = photo_and_mask
    ctx = JobContext(session="s")
    report = studio.invert(InvertRequest(image=photo, mask=mask, source_prompt="a white cup", **FAST), ctx).report
    assert report["inversion"] == "computed" and report["transformer_calls"] == FAST["steps"] - FAST["skip_steps"]
    assert studio.edit(edit(photo, mask), ctx).report["inversion"] == "reused"


def test_the_least_recently_used_session_loses_its_inversion_and_its_next_edit_says_so(studio, photo_and_mask):
    photo, mask = photo_and_mask  # the studio keeps two sessions' inversions
    for session in ("a", "b", "c"):
        studio.edit(edit(photo, mask), JobContext(session=session))
    assert studio.sessions.holding_inversions == 2
    assert studio.edit(edit(photo, mask), JobContext(session="a")).report["inversion"] == "recomputed (evicted to make room)"
    assert studio.edit(edit(photo, mask), JobContext(session="a")).report["inversion"] == "reused"


def test_forgetting_a_session_frees_its_inversion(studio, photo_and_mask):
    photo, mask = photo_and_mask
    studio.edit(edit(photo, mask), JobContext(session="gone"))
    assert studio.sessions.holding_inversions == 1
    studio.forget("gone")
    assert studio.sessions.holding_inversions == 0


def test_out_of_memory_mid_edit_retries_once_with_the_fallback_plan(studio, tiny_pipe, photo_and_mask, monkeypatch):
    photo, mask = photo_and_mask
    plan = plan_memory("tiny", W, H, FAST["steps"], float(mask.mean()), 0, 16 * GB, skip_steps=FAST["skip_steps"])
    cheaper = plan.fallback
    while cheaper.kv_cache == plan.kv_cache:  # the first fallback that changes the cache
        cheaper = cheaper.fallback
    plan = replace(plan, fallback=replace(cheaper, fallback=None))
    monkeypatch.setattr(studio.memory.__class__, "plan", lambda *a, **k: plan)

    def explode_once(module, args, kwargs):
        handle.remove()
        raise torch.OutOfMemoryError("CUDA out of memory (injected)")

    handle = tiny_pipe.transformer.register_forward_pre_hook(explode_once, with_kwargs=True)
    try:
        report = studio.edit(edit(photo, mask)).report
    finally:
        handle.remove()
    assert report["memory_plan"]["fallback_used"] is True and report["memory_plan"]["name"] == plan.fallback.name
    assert report["kv_cache_requested"] == plan.fallback.kv_cache


def test_out_of_memory_twice_gives_a_clear_message_and_saves_nothing(studio, tiny_pipe, photo_and_mask):
    photo, mask = photo_and_mask

    def always(module, args, kwargs):
        raise torch.OutOfMemoryError("CUDA out of memory (injected)")

    handle = tiny_pipe.transformer.register_forward_pre_hook(always, with_kwargs=True)
    try:
        with pytest.raises(OutOfMemoryPlanError, match="Ran out of memory with .*"):
            studio.edit(edit(photo, mask))
    finally:
        handle.remove()
    assert studio.store.history() == []


def test_a_second_edit_with_the_same_prompts_runs_no_text_encoder(studio, tiny_pipe, photo_and_mask):
    photo, mask = photo_and_mask
    calls = EncoderCalls(tiny_pipe)
    try:
        first = studio.edit(edit(photo, mask))
        encoded = calls.count
        # No session (another user, same model), same prompts: embeddings come from the manager's cache.
        second = studio.edit(edit(photo, mask))
        assert encoded > 0 and calls.count == encoded
        np.testing.assert_array_equal(np.asarray(first.image), np.asarray(second.image))
        studio.edit(edit(photo, mask, target="a blue cup"))
        assert calls.count > encoded  # a new prompt is encoded
    finally:
        calls.remove()


def test_korean_prompts_are_translated_for_english_encoders_and_reported(studio, photo_and_mask):
    photo, mask = photo_and_mask
    report = studio.edit(edit(photo, mask, target="녹차 한 잔")).report
    translation = report["target_translation"]
    assert translation["source_text"] == "녹차 한 잔" and translation["backend"] in ("marian", "glossary")
    assert not any("\uac00" <= ch <= "\ud7a3" for ch in translation["text"])


def test_the_record_holds_the_result_the_mask_and_the_request_without_pictures(studio, photo_and_mask):
    photo, mask = photo_and_mask
    outcome = studio.edit(edit(photo, mask), JobContext(owner="owner-1"))
    [record] = studio.store.history()
    assert record["task"] == "edit" and record["caption"] == "a red cup" and record["owner"] == "owner-1"
    assert record["request"]["target_prompt"] == "a red cup" and "image" not in record["request"]
    assert {f["role"] for f in record["files"]} == {"result", "mask"}
    saved_mask = np.asarray(Image.open(outcome.saved.files["mask"]))
    np.testing.assert_array_equal(saved_mask > 127, mask > 0.5)
    assert outcome.saved.files["result"].name == "edit_a-red-cup.png"


def test_cancelling_stops_the_job_at_its_next_step_and_saves_nothing(studio, photo_and_mask):
    photo, mask = photo_and_mask
    ctx = JobContext(session="c")
    steps = []

    def progress(stage, step, total):
        steps.append((stage, step))
        if stage == "invert" and step == 1:
            assert studio.cancel("c")  # as the Cancel button does, from another thread
    ctx.progress = progress
    with pytest.raises(JobCancelled):
        studio.edit(edit(photo, mask, steps=6, skip_steps=0), ctx)
    assert ("invert", 2) not in steps and studio.store.history() == []
    assert not studio.cancel("c")  # nothing runs for that session any more


def test_a_job_holding_the_model_makes_another_wait_not_fail(studio, photo_and_mask):
    photo, mask = photo_and_mask
    results = []

    def one(target):
        results.append(studio.edit(edit(photo, mask, target=target)).report["target_prompt"])

    threads = [threading.Thread(target=one, args=(t,)) for t in ("a red cup", "a blue cup")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["a blue cup", "a red cup"]
