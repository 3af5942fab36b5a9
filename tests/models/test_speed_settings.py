"""Speed settings: what each setting means per family and task, and that applying one to a shared
transformer always leaves it exact again afterwards."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from benchmarks.random_models import build, generate, shifted_sigmas
from models import speed
from models.speed import (
    SPEED_TABLE,
    SpeedPlan,
    StepCache,
    active_step_caches,
    compiled_blocks,
    plan_speed,
    speed_applied,
)
from models.vocabulary import EXACT, FAST, FASTEST, KV_EDIT, SPEED_SETTINGS, TEXT2IMG


def test_the_vocabulary_names_the_settings_and_the_table_uses_only_those():
    assert SPEED_SETTINGS == (EXACT, FAST, FASTEST)
    for family, settings in SPEED_TABLE.items():
        assert set(settings) <= {FAST, FASTEST}, family  # "exact" is never a cache


def test_exact_is_the_plain_model_everywhere():
    plan = plan_speed(EXACT, "flux", task=TEXT2IMG, steps=28, device="cuda")
    assert plan.exact and not plan.compile and plan.not_applied == ()


def test_fast_generation_gets_the_family_cache_and_compiles_on_cuda_only():
    on_gpu = plan_speed(FAST, "flux", task=TEXT2IMG, steps=28, device="cuda")
    on_cpu = plan_speed(FAST, "flux", task=TEXT2IMG, steps=28, device="cpu")
    assert on_gpu.cache == on_cpu.cache == SPEED_TABLE["flux"][FAST]
    assert on_gpu.compile and not on_cpu.compile
    assert any("CUDA only" in note for note in on_cpu.not_applied)
    assert on_gpu.report()["step_cache"].startswith("TaylorSeer")


def test_step_caches_do_not_apply_to_kv_edit_and_the_plan_says_why():
    plan = plan_speed(FASTEST, "flux", task=KV_EDIT, steps=28, device="cuda")
    assert plan.cache is None and not plan.compile
    assert any("KV-Edit" in note for note in plan.not_applied)


def test_distilled_step_counts_are_too_few_to_skip():
    plan = plan_speed(FAST, "flux", task=TEXT2IMG, steps=4, device="cpu")
    assert plan.cache is None and any("too few" in note for note in plan.not_applied)


def test_a_family_without_a_cache_for_a_setting_runs_exactly_and_says_so():
    plan = plan_speed(FAST, "z-image", task=TEXT2IMG, steps=8, device="cpu")
    assert plan.cache is None and any("z-image" in note for note in plan.not_applied)


def test_unknown_setting_is_refused():
    with pytest.raises(ValueError, match="speed setting"):
        plan_speed("turbo", "flux", task=TEXT2IMG, steps=28, device="cpu")


def test_hook_names_match_the_installed_diffusers():
    from diffusers.hooks import first_block_cache, mag_cache, taylorseer_cache

    assert speed._HOOK_NAMES["first-block"] == (first_block_cache._FBC_LEADER_BLOCK_HOOK, first_block_cache._FBC_BLOCK_HOOK)
    assert speed._HOOK_NAMES["taylorseer"] == (taylorseer_cache._TAYLORSEER_CACHE_HOOK,)
    assert speed._HOOK_NAMES["magcache"] == (mag_cache._MAG_CACHE_LEADER_BLOCK_HOOK, mag_cache._MAG_CACHE_BLOCK_HOOK)


def _relative_rms(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).pow(2).mean().sqrt() / b.pow(2).mean().sqrt())


@pytest.mark.parametrize("family", ["flux", "flux2", "z-image"])
def test_every_table_entry_runs_on_its_family_skips_work_and_leaves_the_model_exact(family):
    model = build(family, "tiny", torch.device("cpu"), torch.float32)
    x, sigmas = model.noise(128, seed=0), shifted_sigmas(16)
    exact = generate(model, x, sigmas)
    queries = [m for name, m in model.transformer.named_modules() if name.endswith(("attn.to_q", "attention.to_q"))]
    for setting in SPEED_TABLE[family]:
        plan = plan_speed(setting, family, task=TEXT2IMG, steps=16, device="cpu")
        calls = []  # query projections run: a skipped block or a predicted attention runs none
        hooks = [m.register_forward_pre_hook(lambda *_: calls.append(1)) for m in queries]
        try:
            with speed_applied(model.transformer, plan):
                assert active_step_caches(model.transformer)
                fast = generate(model, x, sigmas)
        finally:
            for h in hooks:
                h.remove()
        assert 0 < len(calls) < len(queries) * 16, f"{family}/{setting}: nothing was skipped"
        assert _relative_rms(fast, exact) < 0.05, f"{family}/{setting}"
        assert active_step_caches(model.transformer) == []
        assert torch.equal(generate(model, x, sigmas), exact)  # the shared model is exact again


def test_hooks_are_removed_when_the_run_fails():
    model = build("flux", "tiny", torch.device("cpu"), torch.float32)
    plan = SpeedPlan(FAST, "flux", TEXT2IMG, 16, SPEED_TABLE["flux"][FAST], False)
    with pytest.raises(RuntimeError, match="cancelled"):
        with speed_applied(model.transformer, plan):
            model.velocity(model.noise(128, seed=0), 0.5)
            raise RuntimeError("cancelled by the user")
    assert active_step_caches(model.transformer) == []


def test_the_other_diffusers_hooks_apply_and_come_off_too():
    model = build("flux", "tiny", torch.device("cpu"), torch.float32)
    x, sigmas = model.noise(128, seed=0), shifted_sigmas(12)
    exact = generate(model, x, sigmas)
    for cache in (StepCache("first-block", threshold=0.2), StepCache("magcache", threshold=0.2, max_skip=3, warmup=2)):
        with speed_applied(model.transformer, SpeedPlan(FAST, "flux", TEXT2IMG, 12, cache, False)):
            generate(model, x, sigmas)
        assert active_step_caches(model.transformer) == []
        assert torch.equal(generate(model, x, sigmas), exact)


def test_the_real_flux_pipeline_runs_under_a_speed_setting(tiny_pipe):
    plan = plan_speed(FAST, "flux", task=TEXT2IMG, steps=14, device="cpu")

    def run():
        return tiny_pipe(prompt="a cup of coffee", num_inference_steps=14, height=128, width=128, guidance_scale=3.5,
                         max_sequence_length=32, generator=torch.Generator().manual_seed(0), output_type="np").images[0]

    exact = run()
    with speed_applied(tiny_pipe.transformer, plan):
        fast = run()
    assert fast.shape == exact.shape and np.isfinite(fast).all()
    assert active_step_caches(tiny_pipe.transformer) == []
    np.testing.assert_array_equal(run(), exact)


def test_regional_compilation_is_kept_on_the_blocks_and_switched_off_after_the_run():
    # The "eager" backend runs torch.compile's tracing without generating code (no toolchain needed).
    model = build("flux", "tiny", torch.device("cpu"), torch.float32)
    x = model.noise(128, seed=0)
    exact = model.velocity(x, 0.5)
    blocks = list(model.transformer.transformer_blocks) + list(model.transformer.single_transformer_blocks)
    with compiled_blocks(model.transformer, backend="eager") as n:
        assert n == len(blocks) and all(b._compiled_call_impl is not None for b in blocks)
        torch.testing.assert_close(model.velocity(x, 0.5), exact)
    first = [b._intact_compiled for b in blocks]
    assert all(b._compiled_call_impl is None for b in blocks)
    with compiled_blocks(model.transformer, backend="eager"):
        assert [b._compiled_call_impl for b in blocks] == first  # reused, not compiled again
