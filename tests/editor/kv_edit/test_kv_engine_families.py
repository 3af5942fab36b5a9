"""KV-Edit end to end on every family's tiny backend (random weights, fp32, CPU): exact pixels,
invert once / edit many, inversion-free and re_init with few steps, seeds, true CFG."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from editor.kv_edit import EditOptions, EditSession
from editor.kv_edit.engine import RECORD_BOTH, Conditioning, KVEditEngine
from editor.kv_edit.families import adapter_for
from editor.kv_edit.kv_cache import DeviceKVStore
from editor.kv_edit.masks import token_mask
from tests.editor.kv_edit.test_session import _box, _photo

FAST = dict(steps=4, skip_steps=1)


class ModelPasses:
    """Counts transformer passes: calls of the first recorded attention module, which every pass
    of every family runs once (Z-Image's adapter calls the transformer's modules, not its forward)."""

    def __init__(self, pipe):
        layers = adapter_for(pipe).kv_layers(pipe.transformer)
        first = min(layers.values(), key=lambda layer: layer.index)
        self.calls = 0
        self._handle = first.module.register_forward_pre_hook(self._count)

    def _count(self, module, args, kwargs=None):
        self.calls += 1

    def close(self):
        self._handle.remove()


def _passes(session: EditSession, guidance: float) -> int:
    return 2 if session.family.cfg_active(guidance) else 1


def test_pixels_outside_the_mask_are_bit_identical(family_pipe):
    name, pipe = family_pipe
    h, w = 75, 101
    photo, mask = _photo(h, w), _box(h, w, 20, 50, 30, 80)
    result = EditSession(pipe, photo, mask, model_name=name).edit(
        "a red cup", EditOptions.for_model(name, **FAST), source_prompt="a white cup")
    out = np.asarray(result.image)
    assert result.image.size == (w, h)
    np.testing.assert_array_equal(out[mask == 0], photo[mask == 0])
    assert (out[mask > 0] != photo[mask > 0]).any()
    report = result.report
    assert report["family"] == adapter_for(pipe).family
    assert not {"model", "licence", "licence_note"} & report.keys()  # the job states the model, once
    assert 0 < report["foreground_tokens"] < report["image_tokens"] and report["kv_cache_bytes"] > 0


def test_invert_once_edit_many_without_another_inversion_pass(family_pipe):
    name, pipe = family_pipe
    photo, mask = _photo(48, 64), _box(48, 64, 8, 40, 16, 48)
    session = EditSession(pipe, photo, mask, model_name=name)
    opts = EditOptions.for_model(name, steps=5, skip_steps=1)
    first = session.edit("a red cup", opts, source_prompt="a white cup")
    assert not first.report["reused_inversion"]
    per_step = _passes(session, opts.guidance)
    inversion_passes = _passes(session, opts.inversion_guidance)
    assert first.report["transformer_calls"] == (inversion_passes + per_step) * opts.denoise_steps
    recorded = {k: tuple(t.clone() for t in session.inversion.store.get(k, 0)) for k in session.inversion.store.steps()}

    counter = ModelPasses(pipe)
    try:
        second = session.edit("a blue cup", opts)
    finally:
        counter.close()
    assert second.report["reused_inversion"] and second.report["inversion_seconds"] == 0.0
    assert counter.calls == per_step * opts.denoise_steps  # denoising only: no inversion pass
    for k, (key, value) in recorded.items():
        now = session.inversion.store.get(k, 0)
        assert torch.equal(now[0], key) and torch.equal(now[1], value)
    again = session.edit("a red cup", opts)
    np.testing.assert_array_equal(np.asarray(again.image), np.asarray(first.image))


def test_same_seed_same_output_other_seed_other_output(family_pipe):
    name, pipe = family_pipe
    photo, mask = _photo(64, 48), _box(64, 48, 16, 48, 8, 40)

    def edit(seed: int):
        opts = EditOptions.for_model(name, **FAST, re_init=True, seed=seed)
        return np.asarray(EditSession(pipe, photo, mask, model_name=name).edit("a cat", opts, source_prompt="a dog").image)

    first, second, other = edit(7), edit(7), edit(8)
    np.testing.assert_array_equal(first, second)
    assert not np.array_equal(first, other)


@pytest.mark.parametrize("mode", [dict(kv_cache="none"), dict(re_init=True), dict(kv_cache="none", re_init=True)],
                         ids=["inversion-free", "re_init", "inversion-free re_init"])
def test_inversion_free_and_re_init_run_with_few_steps(family_pipe, mode):
    name, pipe = family_pipe
    photo, mask = _photo(48, 48), _box(48, 48, 8, 40, 8, 40)
    result = EditSession(pipe, photo, mask, model_name=name).edit(
        "a red cup", EditOptions.for_model(name, steps=4, skip_steps=0, **mode), source_prompt="a white cup")
    out = np.asarray(result.image)
    np.testing.assert_array_equal(out[mask == 0], photo[mask == 0])
    assert np.isfinite(np.asarray(result.decoded, dtype=np.float32)).all() and (out[mask > 0] != photo[mask > 0]).any()
    assert result.report["mode"] == ("inversion-free" if mode.get("kv_cache") == "none" else "kv-edit")


def test_a_step_distilled_klein_edits_in_four_steps_with_one_pass_per_step(tiny_pipes):
    from diffusers import Flux2KleinPipeline

    distilled = Flux2KleinPipeline(**tiny_pipes["tiny-flux2"].components, is_distilled=True)  # same modules
    photo, mask = _photo(48, 48), _box(48, 48, 8, 40, 8, 40)
    session = EditSession(distilled, photo, mask, model_name="a-klein-fine-tune")
    assert session.family.guidance_kind == "none" and not session.family.cfg_active(4.0)
    for mode in (dict(kv_cache="none"), dict(re_init=True)):
        result = session.edit("a red cup", EditOptions(steps=4, skip_steps=1, guidance=4.0, **mode), source_prompt="a white cup")
        expected = 2 * 3 if mode.get("kv_cache") == "none" else 3  # inversion-free: source + target pass
        assert result.report["transformer_calls"] in (expected, expected + 3)  # + the first inversion (3 steps)
        np.testing.assert_array_equal(np.asarray(result.image)[mask == 0], photo[mask == 0])


@pytest.mark.parametrize("name, off, on", [("tiny-flux2", 1.0, 4.0), ("tiny-zimage", 0.0, 2.0)])
def test_true_cfg_runs_a_second_pass_only_above_the_familys_threshold(name, off, on, tiny_pipes):
    pipe = tiny_pipes[name]
    photo, mask = _photo(48, 48), _box(48, 48, 8, 40, 8, 40)
    session = EditSession(pipe, photo, mask, model_name=name)
    images, calls = {}, {}
    for guidance in (off, on):
        counter = ModelPasses(pipe)
        try:
            result = session.edit("a red cup", EditOptions(**FAST, inversion_guidance=off, guidance=guidance),
                                  source_prompt="a white cup")
        finally:
            counter.close()
        images[guidance], calls[guidance] = np.asarray(result.decoded), counter.calls
    assert calls[off] == 3 + 3  # inversion and edit, one pass each
    assert calls[on] == 3 * 2  # inversion reused; the edit runs cond + uncond
    assert not np.array_equal(images[off], images[on])


def test_recording_both_cfg_branches_doubles_the_cache_and_feeds_the_unconditional_pass(tiny_pipes):
    pipe = tiny_pipes["tiny-flux2"]
    family = adapter_for(pipe, "tiny-flux2")
    canvas = family.canvas(64, 64)
    mask = token_mask(_box(64, 64, 16, 40, 16, 40), canvas.latent_h, canvas.latent_w)
    assert 0 < mask.foreground_tokens < mask.image_tokens
    clean = family.encode_image(_photo(64, 64), canvas, "cpu")
    source = family.encode_prompt("a white cup", "cpu", torch.float32)
    target = Conditioning(family.encode_prompt("a red cup", "cpu", torch.float32),
                          family.encode_prompt("", "cpu", torch.float32))
    sigmas = family.sigmas(4, canvas.tokens, "cpu")
    outputs, stores = {}, {}
    for policy in ("reuse-conditional", RECORD_BOTH):
        engine = KVEditEngine(pipe, canvas, mask, "cpu", family=family, unconditional_kv=policy)
        text = Conditioning(source, target.unconditional if engine.wants_unconditional(1.0, recording=True) else None)
        inversion = engine.new_inversion(clean, text, sigmas, 1.0, False, DeviceKVStore("cpu", torch.float32),
                                         DeviceKVStore("cpu", torch.float32))
        run = engine.extend(inversion, 1)
        outputs[policy], _ = engine.denoise(inversion, target, EditOptions(**FAST, guidance=4.0))
        stores[policy] = (inversion, run)
    reuse, both = stores["reuse-conditional"][0], stores[RECORD_BOTH][0]
    assert reuse.unconditional_store is None and both.unconditional_store is not None
    assert both.nbytes == 2 * reuse.nbytes > 0
    assert stores[RECORD_BOTH][1].transformer_calls == 2 * stores["reuse-conditional"][1].transformer_calls
    # The conditional trajectory is the same. The first block's image keys come before any
    # attention to the text, so both branches agree there; deeper ones have read their prompt.
    torch.testing.assert_close(reuse.latents[1], both.latents[1])
    last = len(family.kv_layers(pipe.transformer)) - 1
    torch.testing.assert_close(both.unconditional_store.get(1, 0)[0], both.store.get(1, 0)[0])
    assert not torch.equal(both.unconditional_store.get(1, last)[0], both.store.get(1, last)[0])
    assert (outputs[RECORD_BOTH] - outputs["reuse-conditional"]).abs().max() > 0
