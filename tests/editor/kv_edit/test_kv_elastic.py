"""Elastic refresh: threshold 0 is the exact modes bit for bit; above it, fewer source passes or
keyframes, a depth-aware refresh that reproduces a full pass where nothing moved, and reports that
say which steps and layers were recomputed."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from benchmarks.random_models import build, kv_edit_setup, shifted_sigmas
from editor.errors import InputError
from editor.kv_edit import EditOptions, EditSession
from editor.kv_edit.attention import recording, replaying
from editor.kv_edit.elastic import (
    BackgroundStates,
    ElasticPolicy,
    KeyframeStore,
    readout,
    relative_change,
    source_pass_from,
    top_keys,
)
from editor.kv_edit.engine import seeded_noise
from editor.kv_edit.kv_cache import make_kv_store
from editor.kv_edit.kv_stores import DeviceKVStore
from models.speed import KV_EDIT_REFRESH
from models.vocabulary import FAST

STEPS, SKIP = 12, 2


@pytest.fixture(scope="module")
def setup():
    model = build("flux", "tiny", torch.device("cpu"), torch.float32)
    mask = np.zeros((16, 16), np.float32)
    mask[4:12, 3:11] = 1
    edit = kv_edit_setup(model, 128, mask)
    edit.sigmas = shifted_sigmas(STEPS)
    return edit


def _relative(a, b, rows):
    return float((a[:, rows] - b[:, rows]).pow(2).mean().sqrt() / b[:, rows].pow(2).mean().sqrt())


def _plain_inversion_free(e, clean, source, target, sigmas, opts):
    """Today's inversion-free edit, written out: per step a full source pass recording one step of
    background keys/values, then the foreground-only target pass over them."""
    noise = seeded_noise(clean.shape, opts.seed, e.device)
    fg, m = e.fg_index, e.fg_pixel_mask
    z_fg = clean[:, fg].clone()
    for k in range(opts.skip_steps, len(sigmas) - 1):
        sigma = sigmas[k]
        z_source = (1 - sigma) * clean + sigma * noise
        store = DeviceKVStore("cpu", torch.float32)
        ctx = e._context(store)
        ctx.step = k
        with recording(e.layers, ctx):
            v_source = e.velocity(z_source, e.image_ids, source, sigma, opts.inversion_guidance, ctx, (store, None))
        target_ctx = e._biased(e._context(store), opts.attn_scale)
        target_ctx.step = k
        with replaying(e.layers, target_ctx):
            v_target = e.velocity(z_source[:, fg] - clean[:, fg] + z_fg, e.fg_ids, target, sigma, opts.guidance,
                                  target_ctx, (store, store))
        z_fg = z_fg + (sigmas[k + 1] - sigma) * (v_target - v_source[:, fg]) * m
    out = clean.clone()
    out[:, fg] = z_fg
    return out


def test_threshold_zero_inversion_free_is_todays_result_bit_for_bit(setup):
    opts = EditOptions(steps=STEPS, skip_steps=SKIP, kv_cache="none")
    reference = _plain_inversion_free(setup.engine, setup.clean, setup.source, setup.target, setup.sigmas, opts)
    out, run = setup.engine.edit_without_inversion(setup.clean, setup.source, setup.target, setup.sigmas, opts,
                                                   policy=ElasticPolicy(0.0))
    assert torch.equal(out, reference)
    assert run.transformer_calls == 2 * (STEPS - SKIP) and "elastic" not in run.extra


def test_threshold_zero_keyframes_are_todays_stored_cache_bit_for_bit(setup):
    e, opts = setup.engine, EditOptions(steps=STEPS, skip_steps=SKIP)

    def edit(store):
        inversion = e.new_inversion(setup.clean, setup.source, setup.sigmas, 1.5, False, store)
        e.extend(inversion, SKIP)
        return e.denoise(inversion, setup.target, opts)[0], inversion

    plain, _ = edit(make_kv_store("device", "cpu", torch.float32))
    keyframed, inversion = edit(KeyframeStore(make_kv_store("device", "cpu", torch.float32), ElasticPolicy(0.0)))
    assert torch.equal(keyframed, plain) and inversion.store.kept_share() == 1.0


def test_elastic_inversion_free_runs_fewer_source_passes_and_stays_close(setup):
    opts = EditOptions(steps=STEPS, skip_steps=SKIP, kv_cache="none")
    exact, _ = setup.engine.edit_without_inversion(setup.clean, setup.source, setup.target, setup.sigmas, opts)
    out, run = setup.engine.edit_without_inversion(setup.clean, setup.source, setup.target, setup.sigmas, opts,
                                                   policy=ElasticPolicy(0.1))
    report = run.extra["elastic"]
    assert report["refreshes"][0] == {"step": SKIP, "from_layer": 0}  # the first step has no cache yet
    assert 0 < report["source_passes_per_step"] < 1
    assert len(report["layer_refreshes"]) == setup.engine.n_layers
    assert _relative(out, exact, setup.engine.fg_index) < 0.05
    assert torch.equal(out[:, setup.engine.bg_index], setup.clean[:, setup.engine.bg_index])


def test_a_refresh_from_a_deeper_layer_reproduces_a_full_pass_when_nothing_moved(setup):
    """Depth-aware refresh: replay the shallow layers, recompute from layer l on. With the cache and
    block inputs of the same evaluation, it must give the full pass's foreground velocity."""
    e = setup.engine
    blocks = e.family.block_inputs(setup.source.prompt)
    noise = torch.randn(setup.clean.shape, generator=torch.Generator().manual_seed(9))
    z, sigma = setup.clean * 0.6 + 0.4 * noise, 0.4
    states = BackgroundStates(e.bg_index, e.image_rows)
    store = DeviceKVStore("cpu", torch.float32)
    ctx = e._context(store)
    with recording(e.layers, ctx), states.recording(blocks):
        full = e.family.predict(z, e.image_ids, setup.source.prompt, sigma, 1.5)[:, e.fg_index]
    assert sorted(states.rows) == list(range(e.n_layers))
    for from_layer in range(1, e.n_layers):
        partial = source_pass_from(e, blocks, states, e._context(store), store, from_layer, z, setup.source.prompt,
                                   sigma, 1.5)
        torch.testing.assert_close(partial, full, rtol=1e-4, atol=1e-5)


def test_keyframes_keep_fewer_steps_within_the_share_and_every_step_reads_the_nearest(setup):
    e, opts = setup.engine, EditOptions(steps=STEPS, skip_steps=SKIP)
    policy = ElasticPolicy(0.05, keyframe_share=0.5)
    inversion = e.new_inversion(setup.clean, setup.source, setup.sigmas, 1.5, False,
                                make_kv_store("device", "cpu", torch.float32), policy=policy)
    e.extend(inversion, SKIP)
    store = inversion.store
    assert isinstance(store, KeyframeStore)
    frames = store.keyframes()
    steps = STEPS - SKIP
    assert all(len(f) <= np.ceil(0.5 * steps) for f in frames.values())
    assert all(f[-1] == STEPS - 1 for f in frames.values())  # inversion's first step is always kept
    assert store.kept_share() <= 0.5 and store.steps() == list(range(SKIP, STEPS))
    for layer, layer_frames in frames.items():
        for step in range(SKIP, STEPS):
            chosen = store.nearest(step, layer)
            assert chosen in layer_frames and abs(chosen - step) == min(abs(f - step) for f in layer_frames)
    exact_inversion = e.new_inversion(setup.clean, setup.source, setup.sigmas, 1.5, False,
                                      make_kv_store("device", "cpu", torch.float32))
    e.extend(exact_inversion, SKIP)
    out = e.denoise(inversion, setup.target, opts)[0]
    exact = e.denoise(exact_inversion, setup.target, opts)[0]
    assert store.nbytes < exact_inversion.store.nbytes
    assert 0 < _relative(out, exact, e.fg_index) < 0.05


def test_the_drift_of_identical_readouts_is_zero_and_grows_with_the_keys():
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(1, 2, n, 8, generator=g) for n in (5, 40, 40))
    index = top_keys(q, k, 6)
    assert index.shape == (1, 2, 6)
    base = readout(q, k, v, index)
    assert relative_change(base, base) == 0
    small = relative_change(readout(q, k + 0.01 * torch.randn(k.shape, generator=g), v, index), base)
    large = relative_change(readout(q, k + 0.5 * torch.randn(k.shape, generator=g), v, index), base)
    assert 0 < small < large


def test_speed_settings_map_to_policies_and_bad_ones_are_refused():
    assert ElasticPolicy.for_speed("exact", stored=True).exact
    free, stored = ElasticPolicy.for_speed(FAST, stored=False), ElasticPolicy.for_speed(FAST, stored=True)
    assert free.threshold == KV_EDIT_REFRESH[FAST].refresh_threshold and not free.exact
    assert (stored.threshold, stored.keyframe_share) == (KV_EDIT_REFRESH[FAST].keyframe_threshold,
                                                         KV_EDIT_REFRESH[FAST].keyframe_share)
    with pytest.raises(InputError, match="speed"):
        EditOptions(speed="warp")
    with pytest.raises(ValueError, match="threshold"):
        ElasticPolicy(-1.0)


def test_a_fast_edit_session_reports_what_was_recomputed(tiny_pipe):
    rng = np.random.default_rng(0)
    photo = rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)
    mask = np.zeros((48, 64), np.float32)
    mask[8:40, 16:48] = 1
    session = EditSession(tiny_pipe, photo, mask, model_name="tiny")
    stored = session.edit("a red cup", EditOptions(steps=8, skip_steps=1, speed=FAST), source_prompt="a white cup")
    assert stored.report["speed"] == FAST and "keyframes" in stored.report["elastic_keyframes"]
    free = session.edit("a red cup", EditOptions(steps=8, skip_steps=1, kv_cache="none", speed=FAST),
                        source_prompt="a white cup")
    assert free.report["elastic_refresh"]["refreshes"][0]["from_layer"] == 0
    for result in (stored, free):
        np.testing.assert_array_equal(np.asarray(result.image)[mask == 0], photo[mask == 0])
