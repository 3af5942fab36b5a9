"""Memory estimates from the real architectures on the meta device (no weights anywhere)."""

from __future__ import annotations

import pytest
import torch

from models.memory import estimator as est

GB = est.GB


@pytest.fixture(scope="module")
def flux():
    return est.model_footprint("flux-dev")


def test_flux_dev_parameter_counts_match_the_published_architecture(flux):
    sizes = {c.name: c for c in flux.components}
    # FLUX.1 transformer ~11.9B, T5-XXL encoder ~4.76B, CLIP-L text ~123M, VAE ~84M.
    assert sizes["transformer"].parameters == pytest.approx(11.90e9, rel=0.002)
    assert sizes["text_encoder_2"].parameters == pytest.approx(4.762e9, rel=0.002)
    assert sizes["text_encoder"].parameters == pytest.approx(123.06e6, rel=0.002)
    assert sizes["vae"].parameters == pytest.approx(83.82e6, rel=0.002)
    assert sizes["transformer"].weight_bytes("bf16") == pytest.approx(23.8 * GB, rel=0.002)
    assert flux.attention_layers == 57 and flux.heads == 24 and flux.head_dim == 128 and flux.hidden == 3072


def test_meta_models_hold_no_storage():
    from models.memory.model_configs import ARCHITECTURES

    module = est._build_on_meta(*ARCHITECTURES["flux-dev"]["vae"])
    assert all(p.device.type == "meta" for p in module.parameters())


def test_kv_bytes_per_step_is_the_issue_arithmetic(flux):
    # 4096 image tokens x 57 layers x 2 (K and V) x 3072 x 2 bytes = 2.87 GB per step, 80 GB for 28.
    n = est.image_tokens(flux, 1024, 1024)
    assert n == 4096
    per_step = est.kv_bytes_per_step(flux, n, 2)
    assert per_step == 4096 * 57 * 2 * 3072 * 2 == 2_868_903_936
    assert est.kv_cache_size(flux, "device", 1024, 1024, 0.0, 28, "bf16").total == pytest.approx(80.3 * GB, rel=0.001)


def test_only_background_tokens_are_counted_for_every_mode(flux):
    n_bg = est.background_tokens(flux, 1024, 1024, 0.25)
    assert n_bg == 3072
    full = est.kv_bytes_per_step(flux, n_bg, 2)
    sizes = {m: est.kv_cache_size(flux, m, 1024, 1024, 0.25, 24, "bf16") for m in ("device", "cpu", "fp8", "int8", "none")}
    assert sizes["device"].on_device == 24 * full and sizes["device"].in_ram == 0
    assert sizes["cpu"].in_ram == 24 * full and sizes["cpu"].on_device == 2 * full // 57  # two layers staged
    assert sizes["none"].total == full  # one step alive
    assert sizes["fp8"].total == pytest.approx(24 * full / 2, rel=0.001)
    assert 0.5 < sizes["int8"].total / sizes["device"].total < 0.52  # + one fp32 scale per head and token


def test_cpu_store_without_accelerator_lives_in_ram_like_device(flux):
    size = est.kv_cache_size(flux, "cpu", 512, 512, 0.5, 10, "fp32", accelerator=False)
    assert size.in_ram == 0 and size.on_device == size.total == 10 * est.kv_bytes_per_step(flux, 512, 4)


def test_tiny_footprint_from_meta_equals_counting_the_real_tiny_pipeline(tiny_pipe):
    from_meta = est.model_footprint("tiny")
    from_real = est.footprint_from_components("tiny", tiny_pipe.components)
    assert from_meta == from_real
    assert from_meta.attention_layers == 4 and from_meta.heads == 2 and from_meta.head_dim == 16


def test_flux_schnell_differs_only_by_guidance_embedding_and_text_length(flux):
    schnell = est.model_footprint("flux-schnell")
    assert schnell.text_tokens == 256 and flux.text_tokens == 512
    diff = flux.component("transformer").parameters - schnell.component("transformer").parameters
    assert 0 < diff < 20e6
    assert schnell.component("text_encoder_2") == flux.component("text_encoder_2")


def test_z_image_turbo_is_a_6b_transformer_with_a_qwen3_4b_encoder():
    z = est.model_footprint("z-image-turbo")
    assert z.component("transformer").parameters == pytest.approx(6.15e9, rel=0.01)
    assert z.component("text_encoder").class_name == "Qwen3Model"
    assert z.component("text_encoder").parameters == pytest.approx(4.02e9, rel=0.01)
    assert z.token_pixels == 16 and z.hidden == 3840


def test_weight_quantization_shrinks_transformer_and_t5_but_not_clip_or_vae(flux):
    t = flux.component("transformer")
    assert t.weight_bytes("bf16", "nf4") < 0.3 * t.weight_bytes("bf16")
    assert 0.5 < t.weight_bytes("bf16", "int8") / t.weight_bytes("bf16") < 0.52
    for name in ("text_encoder", "vae"):
        c = flux.component(name)
        assert c.weight_bytes("bf16", "nf4") == c.weight_bytes("bf16")


def test_group_offload_keeps_two_blocks_and_the_embedders_resident(flux):
    t = flux.component("transformer")
    resident = t.group_resident_bytes("bf16")
    assert resident == (t.outside_blocks + 2 * t.largest_block) * 2
    assert resident < 0.07 * t.weight_bytes("bf16")


def test_tiled_vae_needs_less_working_memory_than_full(flux):
    full = est.vae_activation_bytes(flux, 1024, 1024, "bf16")
    tiled = est.vae_activation_bytes(flux, 1024, 1024, "bf16", tiled=True)
    assert tiled < full / 3
    # At or below the tile size, tiling only adds the blended output.
    assert est.vae_activation_bytes(flux, 256, 256, "bf16", tiled=True) > est.vae_activation_bytes(flux, 256, 256, "bf16")


def test_activations_grow_with_image_size(flux):
    small = est.transformer_activation_bytes(flux, 512, 512)
    large = est.transformer_activation_bytes(flux, 1024, 1024)
    assert large > 2.5 * small


def test_bad_inputs_are_refused(flux):
    with pytest.raises(ValueError):
        est.background_tokens(flux, 512, 512, 1.5)
    with pytest.raises(ValueError):
        est.kv_cache_size(flux, "disk", 512, 512, 0.5, 4)
    with pytest.raises(ValueError):
        est.model_footprint("opus-mt-ko-en")
    with pytest.raises(ValueError):
        est.dtype_name(torch.int64)
