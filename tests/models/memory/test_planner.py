"""The automatic memory plan: fastest plan that fits, one-line reasons, cheaper fallbacks."""

from __future__ import annotations

import pytest

from editor.errors import IntactError
from models.memory import planner
from models.memory.planner import GB, PROFILES, GiB, plan_for_profile, plan_memory

NO_QUANT = dict(weight_quantizers=())


def test_h100_keeps_the_cache_on_the_gpu_at_512():
    plan = plan_for_profile("flux-dev", 512, 512, 28, 0.25, "h100-80gb", **NO_QUANT)
    assert plan.fits
    assert (plan.offload, plan.kv_cache, plan.vae_tiling, plan.device) == ("none", "device", False, "cuda")


def test_h100_moves_the_1024_cache_to_pinned_ram_because_80gb_of_kv_does_not_fit():
    plan = plan_for_profile("flux-dev", 1024, 1024, 28, 0.25, "h100-80gb", **NO_QUANT)
    assert (plan.offload, plan.kv_cache) == ("none", "cpu")
    assert plan.gpu_bytes <= PROFILES["h100-80gb"].gpu_free
    assert "pinned RAM" in plan.explanation and "faster plans do not fit" in plan.explanation


def test_h100_with_little_ram_picks_fp8_instead_of_the_cpu_cache():
    plan = plan_memory("flux-dev", 1024, 1024, 28, 0.25, int(78.5 * GiB), 64 * GB, **NO_QUANT)
    assert (plan.offload, plan.kv_cache) == ("none", "fp8")


def test_l4_profile_fits_flux_dev_kv_edit_at_1024_with_28_steps():
    plan = plan_for_profile("flux-dev", 1024, 1024, 28, 0.25, "l4-24gb", **NO_QUANT)
    assert plan.fits
    assert (plan.offload, plan.kv_cache) == ("group", "none")
    assert plan.gpu_bytes <= PROFILES["l4-24gb"].gpu_free and plan.ram_bytes <= PROFILES["l4-24gb"].ram_free


def test_12gb_with_32gb_ram_fits_nothing_in_bf16_and_says_why():
    plan = plan_for_profile("flux-dev", 1024, 1024, 28, 0.25, "gpu-12gb", **NO_QUANT)
    assert not plan.fits
    assert "no plan fits" in plan.explanation and "RAM" in plan.explanation
    with pytest.raises(IntactError, match="no plan fits"):
        plan.require_fit()


def test_12gb_fits_with_nf4_weights_when_bitsandbytes_is_there():
    plan = plan_for_profile("flux-dev", 1024, 1024, 28, 0.25, "gpu-12gb", weight_quantizers=("nf4",))
    assert plan.fits and plan.weight_quantization == "nf4"
    assert "NF4" in plan.explanation


def test_cpu_only_runs_the_tiny_model_in_ram_with_the_full_cache():
    plan = plan_for_profile("tiny", 128, 128, 4, 0.25, "cpu-only")
    assert (plan.device, plan.dtype, plan.offload, plan.kv_cache, plan.vae_tiling) == ("cpu", "fp32", "none", "device", False)
    assert plan.gpu_bytes == 0 and "no GPU" in plan.explanation


def test_cpu_only_flux_dev_needs_more_than_64gb_in_fp32():
    plan = plan_for_profile("flux-dev", 1024, 1024, 28, 0.25, "cpu-only")
    assert not plan.fits and plan.device == "cpu"


@pytest.mark.parametrize("profile", list(PROFILES))
def test_explanation_is_one_line_and_names_the_budget(profile):
    plan = plan_for_profile("flux-dev", 1024, 1024, 28, 0.25, profile, **NO_QUANT)
    assert "\n" not in plan.explanation
    assert "RAM free" in plan.explanation and "flux-dev 1024x1024" in plan.explanation


def test_fallbacks_fit_and_each_needs_less_gpu_than_the_one_before():
    plan = plan_for_profile("flux-dev", 512, 512, 28, 0.25, "h100-80gb", **NO_QUANT)
    chain = []
    while plan is not None:
        chain.append(plan)
        plan = plan.fallback
    assert len(chain) >= 3
    assert all(p.fits for p in chain)
    assert all(b.gpu_bytes < a.gpu_bytes for a, b in zip(chain, chain[1:]))


@pytest.mark.parametrize("size", [512, 1024])
def test_more_memory_never_picks_a_slower_plan(size):
    names = [p.name for p in planner.evaluate_plans("flux-dev", size, size, 28, 0.25, PROFILES["h100-80gb"], **NO_QUANT)]
    picked = []
    for gpu_gib in (10, 12, 16, 24, 40, 48, 80, 141):
        plan = plan_memory("flux-dev", size, size, 28, 0.25, gpu_gib * GiB, 256 * GB, **NO_QUANT)
        if plan.fits:
            picked.append(names.index(plan.name))
    assert picked == sorted(picked, reverse=True)


def test_skipped_steps_are_not_cached():
    full = plan_memory("flux-dev", 1024, 1024, 28, 0.25, 300 * GB, 300 * GB, **NO_QUANT)
    skipped = plan_memory("flux-dev", 1024, 1024, 28, 0.25, 300 * GB, 300 * GB, skip_steps=4, **NO_QUANT)
    assert full.kv_cache == skipped.kv_cache == "device"
    kv = full.parts_dict["kv_cache_on_gpu"]
    assert skipped.parts_dict["kv_cache_on_gpu"] == kv * 24 // 28


def test_generation_plans_have_no_cache_and_kv_edit_needs_an_image_model():
    plan = plan_for_profile("z-image-turbo", 1024, 1024, 9, 0.0, "l4-24gb", task="generate", **NO_QUANT)
    assert plan.fits and plan.kv_cache is None and "K/V" not in plan.explanation
    assert plan_for_profile("z-image-turbo", 1024, 1024, 9, 0.25, "l4-24gb", **NO_QUANT).kv_cache is not None
    with pytest.raises(IntactError, match="cannot run KV-Edit"):
        plan_for_profile("opus-mt-ko-en", 1024, 1024, 9, 0.25, "l4-24gb")


def test_bad_requests_are_refused():
    with pytest.raises(ValueError):
        plan_memory("flux-dev", 0, 512, 28, 0.25, GB, GB)
    with pytest.raises(ValueError):
        plan_memory("flux-dev", 512, 512, 28, 0.25, GB, GB, skip_steps=28)
    with pytest.raises(ValueError):
        plan_memory("flux-dev", 512, 512, 28, 0.25, GB, GB, task="upscale")
    with pytest.raises(ValueError):
        plan_for_profile("flux-dev", 512, 512, 28, 0.25, "tpu")


def test_detect_budget_reads_this_machine():
    budget = planner.detect_budget()
    assert budget.ram_free > 0
    import torch

    assert budget.has_accelerator == torch.cuda.is_available()
