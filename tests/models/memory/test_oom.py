"""Out-of-memory mid-run: free, retry once with the next cheaper plan, then a clear message."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from editor.errors import IntactError
from editor.kv_edit import EditOptions, EditSession
from models.memory.oom import OutOfMemoryPlanError, is_out_of_memory, run_with_oom_fallback
from models.memory.planner import GB, plan_memory


def _plan():
    # 512² FLUX.1-dev on an 80 GB card: a chain of several fitting plans.
    return plan_memory("flux-dev", 512, 512, 28, 0.25, 84 * GB, 200 * GB, weight_quantizers=())


@pytest.mark.parametrize(
    "exc",
    [
        torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"),
        RuntimeError("CUDA error: out of memory"),
        RuntimeError("[enforce fail at alloc_cpu.cpp:117] DefaultCPUAllocator: can't allocate memory: you tried to allocate 80 GB"),
        MemoryError(),
    ],
    ids=["torch", "cuda-runtime", "cpu-allocator", "python"],
)
def test_out_of_memory_errors_are_recognised(exc):
    assert is_out_of_memory(exc)


def test_other_errors_are_not_out_of_memory():
    assert not is_out_of_memory(RuntimeError("shape mismatch"))
    assert not is_out_of_memory(ValueError("out of memory"))  # not an allocator error type


def test_first_plan_succeeding_runs_once():
    plan = _plan()
    seen = []
    assert run_with_oom_fallback(lambda p: seen.append(p) or "ok", plan) == "ok"
    assert seen == [plan]


def test_out_of_memory_retries_once_with_the_cheaper_plan():
    plan = _plan()
    seen, switches = [], []

    def fn(p):
        seen.append(p)
        if p is plan:
            raise torch.OutOfMemoryError("CUDA out of memory")
        return p.name

    result = run_with_oom_fallback(fn, plan, before_retry=lambda new, old, why: switches.append((new, old, why)))
    assert result == plan.fallback.name
    assert seen == [plan, plan.fallback]
    assert switches == [(plan.fallback, plan, "CUDA out of memory")]
    assert plan.fallback.gpu_bytes < plan.gpu_bytes


def test_second_out_of_memory_gives_a_clear_one_line_message():
    plan = _plan()
    calls = []

    def fn(p):
        calls.append(p)
        raise torch.OutOfMemoryError("CUDA out of memory")

    with pytest.raises(OutOfMemoryPlanError) as info:
        run_with_oom_fallback(fn, plan)
    assert len(calls) == 2  # retried once, not down the whole chain
    message = str(info.value)
    assert isinstance(info.value, IntactError) and "\n" not in message
    assert "again with the cheaper" in message and "smaller image" in message


def test_no_cheaper_plan_means_no_retry():
    plan = _plan()
    while plan.fallback is not None:
        plan = plan.fallback
    calls = []

    def fn(p):
        calls.append(p)
        raise RuntimeError("CUDA error: out of memory")

    with pytest.raises(OutOfMemoryPlanError, match="no cheaper plan"):
        run_with_oom_fallback(fn, plan)
    assert len(calls) == 1


def test_other_errors_pass_through_without_retry():
    plan = _plan()
    calls = []

    def fn(p):
        calls.append(p)
        raise KeyError("bug")

    with pytest.raises(KeyError):
        run_with_oom_fallback(fn, plan)
    assert len(calls) == 1


def test_kv_edit_recovers_from_an_injected_out_of_memory_with_the_fallback_cache(tiny_pipe):
    """A real tiny KV-Edit: the transformer 'runs out of memory' on the first plan; the retry
    uses the fallback plan's cache mode and gives the same picture as running that plan directly."""
    h, w = 64, 96
    rng = np.random.default_rng(1)
    photo = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    mask = np.zeros((h, w), np.float32)
    mask[16:48, 24:72] = 1
    # A CPU budget where the full cache fits first; retry with the first cheaper plan in the chain
    # that changes the cache (the one right after may differ only in VAE tiling).
    plan = plan_memory("tiny", w, h, 4, 0.25, 0, 16 * GB)
    assert plan.kv_cache == "device"
    cheaper = plan.fallback
    while cheaper.kv_cache == plan.kv_cache:
        cheaper = cheaper.fallback
    assert cheaper.kv_cache in ("fp8", "int8", "none")
    plan = replace(plan, fallback=cheaper)

    def edit(p):
        session = EditSession(tiny_pipe, photo, mask, model_name="tiny")
        opts = EditOptions(steps=4, skip_steps=1, kv_cache=p.kv_cache)
        return session.edit("a red cup", opts, source_prompt="a white cup")

    def explode_once(module, args, kwargs):
        handle.remove()
        raise torch.OutOfMemoryError("CUDA out of memory (injected)")

    handle = tiny_pipe.transformer.register_forward_pre_hook(explode_once, with_kwargs=True)
    try:
        used = []
        result = run_with_oom_fallback(lambda p: used.append(p) or edit(p), plan)
    finally:
        handle.remove()
    assert [p.kv_cache for p in used] == ["device", plan.fallback.kv_cache]
    direct = edit(plan.fallback)
    np.testing.assert_array_equal(np.asarray(result.image), np.asarray(direct.image))
    assert result.report["kv_cache_mode"] == plan.fallback.kv_cache
