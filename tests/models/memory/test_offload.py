"""Applying memory plans to a real (tiny) FluxPipeline with diffusers' own offloading."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from editor.errors import IntactError
from models.memory.offload import _has_group_offload, apply_memory_plan, reset_memory_options, set_vae_tiling
from models.memory.planner import GB, plan_memory
from models.memory.prompt_cache import release_text_encoders


@pytest.fixture(scope="module")
def pipe():
    """A private tiny pipeline: these tests change its hooks (the shared fixture stays untouched)."""
    from models.tiny import build_tiny_flux_pipeline

    return build_tiny_flux_pipeline(seed=0)


@pytest.fixture(scope="module")
def cpu_plan():
    return plan_memory("tiny", 64, 64, 2, 0.25, 0, 16 * GB)


def _picture(pipe) -> np.ndarray:
    generator = torch.Generator().manual_seed(7)
    return pipe(
        prompt="a cup of coffee", height=64, width=64, num_inference_steps=2, max_sequence_length=32,
        generator=generator, output_type="np",
    ).images[0]


def test_group_offload_streams_transformer_blocks_and_changes_nothing_in_the_picture(pipe, cpu_plan):
    before = _picture(pipe)
    applied = apply_memory_plan(pipe, replace(cpu_plan, offload="group"), device="cpu")
    try:
        assert _has_group_offload(pipe.transformer)
        assert not _has_group_offload(pipe.vae)  # the VAE stays put
        assert applied.device == torch.device("cpu") and applied.text_encoder_device == torch.device("cpu")
        np.testing.assert_array_equal(_picture(pipe), before)
    finally:
        reset_memory_options(pipe)
    assert not _has_group_offload(pipe.transformer)
    np.testing.assert_array_equal(_picture(pipe), before)


def test_switching_from_group_to_model_offload_replaces_the_hooks(pipe, cpu_plan):
    apply_memory_plan(pipe, replace(cpu_plan, offload="group"), device="cpu")
    try:
        apply_memory_plan(pipe, replace(cpu_plan, offload="model"), device="cpu")
        assert not _has_group_offload(pipe.transformer)
        assert hasattr(pipe.transformer, "_hf_hook")
        # Offload hooks own the text encoders now: the release helper leaves them alone.
        assert release_text_encoders(pipe, "cpu") == 0
    finally:
        reset_memory_options(pipe)
    assert not hasattr(pipe.transformer, "_hf_hook")


def test_vae_tiling_follows_the_plan_and_is_undone(pipe, cpu_plan):
    vae = pipe.vae
    default = (vae.tile_sample_min_size, vae.tile_latent_min_size)
    apply_memory_plan(pipe, replace(cpu_plan, vae_tiling=True), device="cpu")
    try:
        assert vae.use_tiling and vae.use_slicing
        assert (vae.tile_sample_min_size, vae.tile_latent_min_size) == (64, 8)  # tiny VAE: 64 px < 512
    finally:
        reset_memory_options(pipe)
    assert not vae.use_tiling and (vae.tile_sample_min_size, vae.tile_latent_min_size) == default


def test_tiling_really_decodes_in_tiles(pipe):
    latent = torch.randn(1, 4, 24, 24, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        full = pipe.vae.decode(latent).sample
        set_vae_tiling(pipe.vae, True, tile_pixels=512)
        try:
            assert pipe.vae.tile_sample_min_size == 64  # never above the VAE's own tile size
            tiled = pipe.vae.decode(latent).sample
        finally:
            set_vae_tiling(pipe.vae, False)
    assert tiled.shape == full.shape == (1, 3, 192, 192)
    # Tiles see only part of the picture (random weights: no closeness to expect), so the tiled
    # path gives a different but complete picture.
    assert not torch.equal(tiled, full) and torch.isfinite(tiled).all()


def test_a_plan_with_quantized_weights_needs_a_quantized_model(pipe, cpu_plan):
    with pytest.raises(IntactError, match="NF4"):
        apply_memory_plan(pipe, replace(cpu_plan, weight_quantization="nf4"), device="cpu")
