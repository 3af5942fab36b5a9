"""The memory estimator and planner know the new families' real architectures (meta device, no
weights), count their KV caches, and the L4 profile picks the fastest plan that fits each model."""

from __future__ import annotations

import json

import pytest

from models.memory import estimator as est
from models.memory import planner

GB = est.GB
REAL = ("flux-dev", "flux-schnell", "flux2-klein-4b", "flux2-klein-base-4b", "z-image-turbo")


def test_klein_4b_is_the_published_architecture():
    klein = est.model_footprint("flux2-klein-base-4b")
    sizes = {c.name: c for c in klein.components}
    assert sizes["transformer"].class_name == "Flux2Transformer2DModel"
    assert sizes["transformer"].parameters == pytest.approx(3.88e9, rel=0.01)
    assert sizes["text_encoder"].class_name == "Qwen3ForCausalLM"
    assert sizes["text_encoder"].parameters == pytest.approx(4.02e9, rel=0.01)
    assert sizes["vae"].class_name == "AutoencoderKLFlux2"
    assert (klein.attention_layers, klein.heads, klein.head_dim, klein.hidden) == (25, 24, 128, 3072)
    assert klein.token_pixels == 16 and klein.text_tokens == 512
    assert est.model_footprint("flux2-klein-4b").parameters == klein.parameters  # one architecture, two checkpoints


def test_z_image_records_its_noise_refiner_and_main_layers_not_the_context_refiner():
    z = est.model_footprint("z-image-turbo")
    assert (z.attention_layers, z.heads, z.head_dim) == (32, 30, 128)


@pytest.mark.parametrize("name", ["tiny-flux2", "tiny-zimage"])
def test_tiny_footprint_from_meta_equals_counting_the_real_tiny_pipeline(name, tiny_pipes):
    assert est.model_footprint(name) == est.footprint_from_components(name, tiny_pipes[name].components)


def test_klein_cache_is_counted_per_store_mode_at_1024():
    klein = est.model_footprint("flux2-klein-base-4b")
    n_bg = est.background_tokens(klein, 1024, 1024, 0.25)
    assert n_bg == 3072
    per_step = est.kv_bytes_per_step(klein, n_bg, 2)
    assert per_step == 3072 * 25 * 2 * 3072 * 2  # background tokens × layers × (K, V) × hidden × bf16
    sizes = {m: est.kv_cache_size(klein, m, 1024, 1024, 0.25, 24, "bf16") for m in ("device", "cpu", "fp8", "none")}
    assert sizes["device"].total == pytest.approx(22.6 * GB, rel=0.01)
    assert sizes["fp8"].total == pytest.approx(sizes["device"].total / 2, rel=0.01)
    assert sizes["cpu"].in_ram == sizes["device"].total and sizes["none"].total == per_step


def test_plan_cli_prints_the_cache_bytes_per_store_mode_for_klein_base(capsys):
    from models.cli import main

    assert main(["plan", "--model", "flux2-klein-base-4b", "--size", "1024x1024", "--steps", "28", "--mask", "0.25",
                 "--profile", "l4-24gb", "--quantizers", "none"]) == 0
    out = capsys.readouterr().out
    assert "Flux2Transformer2DModel" in out and "25 attention layers x 24 heads x 128" in out
    assert "held: device 26.42, cpu 26.42, fp8 13.21, none 0.94" in out
    assert main(["plan", "--model", "flux2-klein-base-4b", "--profile", "l4-24gb", "--quantizers", "none", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert set(data["kv_cache"]) == {"device", "cpu", "fp8", "none"} and data["picks"][0]["fits"]


@pytest.mark.parametrize("model", REAL)
def test_the_l4_profile_picks_the_fastest_plan_that_fits_each_model(model):
    budget = planner.PROFILES["l4-24gb"]
    steps = {"flux2-klein-4b": 4, "flux-schnell": 4, "z-image-turbo": 9}.get(model, 28)
    plans = planner.evaluate_plans(model, 1024, 1024, steps, 0.25, budget, weight_quantizers=())
    pick = planner.plan_for_profile(model, 1024, 1024, steps, 0.25, "l4-24gb", weight_quantizers=())
    first_fitting = next(p for p in plans if p.fits)
    assert pick.fits and pick.name == first_fitting.name
    assert pick.gpu_bytes <= budget.gpu_free and pick.ram_bytes <= budget.ram_free
