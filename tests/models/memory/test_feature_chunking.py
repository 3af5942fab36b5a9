"""Feature chunking: the blocks' MLPs over token slices give the same numbers with a lower peak,
are chosen by the planner where the activation peak decides, and come off with the plan."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from benchmarks.peak_memory import PeakMemory
from benchmarks.random_models import build, kv_edit_setup
from models.memory import estimator as est
from models.memory import planner
from models.memory.chunking import feature_chunks, set_feature_chunking
from models.memory.offload import apply_memory_plan, reset_memory_options


@pytest.mark.parametrize("family, modules", [("flux", 4), ("flux2", 2), ("z-image", 4)])
def test_chunked_pass_equals_the_plain_pass_for_every_family(family, modules):
    model = build(family, "tiny", torch.device("cpu"), torch.float32)
    x = model.noise(128, seed=0)
    plain = model.velocity(x, 0.5)
    # tiny FLUX.1: 1 double block (ff, ff_context) + 2 single blocks; FLUX.2: its double block's
    # two MLPs (single blocks fuse the MLP into attention); Z-Image: 2 layers + 2 refiners.
    assert set_feature_chunking(model.transformer, 3) == modules
    assert feature_chunks(model.transformer) == 3
    torch.testing.assert_close(model.velocity(x, 0.5), plain, rtol=1e-5, atol=1e-6)
    set_feature_chunking(model.transformer, 1)
    assert feature_chunks(model.transformer) == 1
    assert torch.equal(model.velocity(x, 0.5), plain)


def test_chunking_lowers_the_activation_peak():
    model = build("flux", "tiny", torch.device("cpu"), torch.float32)
    x = model.noise(256, seed=0)
    peaks = {}
    for chunks in (1, 4):
        set_feature_chunking(model.transformer, chunks)
        with PeakMemory("cpu") as peak:
            model.velocity(x, 0.5)
        peaks[chunks] = peak.bytes
    assert peaks[4] < 0.85 * peaks[1]


def test_kv_edit_records_and_replays_through_chunked_blocks():
    from editor.kv_edit.kv_cache import make_kv_store
    from editor.kv_edit.options import EditOptions

    model = build("flux", "tiny", torch.device("cpu"), torch.float32)
    setup = kv_edit_setup(model, 128, 0.25)
    engine, source, target, clean = setup.engine, setup.source, setup.target, setup.clean
    sigmas = [1.0, 0.75, 0.5, 0.25, 0.0]

    def edit():
        inversion = engine.new_inversion(clean, source, sigmas, 1.5, False, make_kv_store("device", "cpu", torch.float32))
        engine.extend(inversion, 1)
        return engine.denoise(inversion, target, EditOptions(steps=4, skip_steps=1))[0]

    plain = edit()
    set_feature_chunking(model.transformer, 2)
    try:
        torch.testing.assert_close(edit(), plain, rtol=1e-5, atol=1e-6)
    finally:
        set_feature_chunking(model.transformer, 1)


def test_chunking_works_under_group_offload_and_is_removed_with_the_plan():
    from models.tiny import build_tiny_flux_pipeline

    pipe = build_tiny_flux_pipeline(seed=0)

    def picture():
        return pipe(prompt="a cup", height=64, width=64, num_inference_steps=2, max_sequence_length=32,
                    generator=torch.Generator().manual_seed(7), output_type="np").images[0]

    before = picture()
    plan = replace(planner.plan_memory("tiny", 64, 64, 2, 0.25, 0, 16 * planner.GB), offload="group", feature_chunks=4)
    apply_memory_plan(pipe, plan, device="cpu")
    try:
        assert feature_chunks(pipe.transformer) == 4
        np.testing.assert_allclose(picture(), before, atol=1e-5)
    finally:
        reset_memory_options(pipe)
    assert feature_chunks(pipe.transformer) == 1


def test_the_estimator_counts_chunking_and_batches():
    fp = est.model_footprint("flux-dev")
    plain = est.transformer_activation_bytes(fp, 2048, 2048)
    chunked = est.transformer_activation_bytes(fp, 2048, 2048, feature_chunks=4)
    assert 0.6 * plain < chunked < 0.75 * plain  # the attention phase is what remains
    assert est.transformer_activation_bytes(fp, 1024, 1024, images=4) > 3.9 * est.transformer_activation_bytes(fp, 1024, 1024)
    # A tiled VAE is sliced (one image at a time); a full one decodes the batch at once.
    assert est.vae_activation_bytes(fp, 1024, 1024, images=4) == 4 * est.vae_activation_bytes(fp, 1024, 1024)
    tiled = est.vae_activation_bytes(fp, 1024, 1024, tiled=True)
    assert est.vae_activation_bytes(fp, 1024, 1024, tiled=True, images=4) == tiled


def test_the_planner_chunks_before_it_offloads_and_tiling_comes_first():
    plan = planner.plan_for_profile("z-image-turbo", 2048, 2048, 8, 1.0, "l4-24gb", task="generate",
                                    weight_quantizers=(), images=4)
    assert (plan.offload, plan.feature_chunks, plan.vae_tiling) == ("none", est.FEATURE_CHUNKS, True)
    assert "MLP in 4 token slices" in plan.explanation and "mlp=chunks4" in plan.name
    small = planner.plan_for_profile("flux-dev", 512, 512, 28, 0.25, "h100-80gb", weight_quantizers=())
    assert small.feature_chunks == 1  # nothing to gain where everything fits


def test_bad_chunk_counts_are_refused():
    model = build("flux", "tiny", torch.device("cpu"), torch.float32)
    with pytest.raises(ValueError, match="chunks"):
        set_feature_chunking(model.transformer, 0)
