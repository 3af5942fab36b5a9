"""EditSession on the tiny FLUX pipeline (random weights): exact pixels, reuse, determinism, memory."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from editor.errors import InputError
from editor.kv_edit import EditOptions, EditSession
from editor.kv_edit.engine import text_length

FAST = dict(steps=4, skip_steps=1)


def _photo(h: int, w: int, seed: int = 0) -> np.ndarray:
    """A smooth picture with some texture (random weights make any content fine)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([xx * 255 / w, yy * 255 / h, (xx + yy) * 127 / (h + w)], axis=2)
    return np.clip(base + rng.normal(0, 12, (h, w, 3)), 0, 255).astype(np.uint8)


def _box(h: int, w: int, y0: int, y1: int, x0: int, x1: int, value: float = 1.0) -> np.ndarray:
    mask = np.zeros((h, w), np.float32)
    mask[y0:y1, x0:x1] = value
    return mask


class CallCounter:
    """Counts transformer forward calls (the expensive part) with a removable hook."""

    def __init__(self, module):
        self.calls = 0
        self._handle = module.register_forward_pre_hook(self._count)

    def _count(self, module, args):
        self.calls += 1

    def close(self):
        self._handle.remove()


def _store_snapshot(session: EditSession) -> dict:
    inv = session.inversion
    snap = {("latent", k): v.clone() for k, v in inv.latents.items()}
    for step in inv.store.steps():
        for layer in range(session._get_engine().n_layers):
            key, value = inv.store.get(step, layer)
            snap[(step, layer)] = (key.clone(), value.clone())
    return snap


def _assert_same(a: dict, b: dict):
    assert a.keys() == b.keys()
    for k in a:
        x, y = a[k], b[k]
        if isinstance(x, tuple):
            assert torch.equal(x[0], y[0]) and torch.equal(x[1], y[1])
        else:
            assert torch.equal(x, y)


@pytest.mark.parametrize("soft", [False, True], ids=["binary mask", "soft mask"])
def test_pixels_outside_mask_are_bit_identical_for_odd_sizes(tiny_pipe, soft):
    h, w = 333, 517
    photo = _photo(h, w)
    mask = _box(h, w, 101, 203, 150, 377)
    if soft:  # a feathered brush: values between 0 and 1, zero outside
        yy, xx = np.mgrid[0:h, 0:w]
        mask = mask * np.clip(((xx - 150) / 60.0), 0.05, 1.0).astype(np.float32)
    session = EditSession(tiny_pipe, photo, mask, model_name="tiny")
    result = session.edit("a red cup", EditOptions(**FAST), source_prompt="a white cup")
    out = np.asarray(result.image)
    assert result.image.mode == "RGB" and result.image.size == (w, h)
    outside = mask == 0
    np.testing.assert_array_equal(out[outside], photo[outside])
    assert (out[~outside] != photo[~outside]).any()  # and the region really changed
    report = result.report
    assert (report["width"], report["height"]) == (w, h)
    assert (report["working_width"] % 16, report["working_height"] % 16) == (0, 0)
    assert 0 < report["foreground_tokens"] < report["image_tokens"]


def test_empty_mask_returns_the_input_unchanged_without_running_the_model(tiny_pipe):
    photo = _photo(40, 56)
    counter = CallCounter(tiny_pipe.transformer)
    try:
        session = EditSession(tiny_pipe, photo, np.zeros((40, 56), np.float32), model_name="tiny")
        result = session.edit("a red cup", EditOptions(**FAST), source_prompt="a white cup")
    finally:
        counter.close()
    np.testing.assert_array_equal(np.asarray(result.image), photo)
    assert counter.calls == 0
    assert result.report["foreground_tokens"] == 0 and result.report["kv_cache_bytes"] == 0


def test_full_mask_regenerates_everything(tiny_pipe):
    photo = _photo(48, 64)
    session = EditSession(tiny_pipe, photo, np.ones((48, 64), np.float32), model_name="tiny")
    result = session.edit("a red cup", EditOptions(**FAST, re_init=True), source_prompt="a white cup")
    assert result.report["foreground_tokens"] == result.report["image_tokens"]
    assert result.report["background_tokens"] == 0 and result.report["kv_cache_bytes"] == 0
    # The image border is not a mask edge, so no feather band blends the input back in.
    np.testing.assert_array_equal(np.asarray(result.image), np.asarray(result.decoded))
    assert (np.asarray(result.image) != photo).mean() > 0.9


def test_same_seed_gives_identical_output_and_another_seed_differs(tiny_pipe):
    photo, mask = _photo(64, 48), _box(64, 48, 16, 48, 8, 40)
    opts = EditOptions(**FAST, re_init=True, seed=7)
    first = EditSession(tiny_pipe, photo, mask, model_name="tiny").edit("a cat", opts, source_prompt="a dog")
    second = EditSession(tiny_pipe, photo, mask, model_name="tiny").edit("a cat", opts, source_prompt="a dog")
    other = EditSession(tiny_pipe, photo, mask, model_name="tiny").edit(
        "a cat", EditOptions(**FAST, re_init=True, seed=8), source_prompt="a dog"
    )
    np.testing.assert_array_equal(np.asarray(first.image), np.asarray(second.image))
    assert not np.array_equal(np.asarray(first.image), np.asarray(other.image))


def test_second_edit_reuses_the_inversion_and_leaves_the_cache_unchanged(tiny_pipe):
    photo, mask = _photo(48, 64), _box(48, 64, 8, 40, 16, 48)
    session = EditSession(tiny_pipe, photo, mask, model_name="tiny")
    opts = EditOptions(steps=5, skip_steps=1)
    first = session.edit("a red cup", opts, source_prompt="a white cup")
    assert not first.report["reused_inversion"]
    assert first.report["transformer_calls"] == 2 * opts.denoise_steps
    before = _store_snapshot(session)

    counter = CallCounter(tiny_pipe.transformer)
    try:
        second = session.edit("a blue cup", opts)  # same source prompt as before
    finally:
        counter.close()
    assert second.report["reused_inversion"]
    assert second.report["inversion_seconds"] == 0.0
    assert counter.calls == opts.denoise_steps  # denoising only: no inversion call
    _assert_same(before, _store_snapshot(session))
    # Editing again with the first prompt reproduces the first result exactly.
    again = session.edit("a red cup", opts)
    np.testing.assert_array_equal(np.asarray(again.image), np.asarray(first.image))


def test_changing_skip_steps_reuses_recorded_steps(tiny_pipe):
    photo, mask = _photo(48, 48), _box(48, 48, 8, 40, 8, 24)
    session = EditSession(tiny_pipe, photo, mask, model_name="tiny")
    session.invert("a white cup", EditOptions(steps=5, skip_steps=3))
    before = _store_snapshot(session)
    counter = CallCounter(tiny_pipe.transformer)
    try:
        deeper = session.edit("a red cup", EditOptions(steps=5, skip_steps=1))
    finally:
        counter.close()
    # Two more inversion steps (indices 2 and 1), then four denoising steps.
    assert counter.calls == 2 + 4
    after = _store_snapshot(session)
    for key, value in before.items():  # recorded steps are kept, not recomputed
        _assert_same({key: value}, {key: after[key]})
    fresh = EditSession(tiny_pipe, photo, mask, model_name="tiny").edit(
        "a red cup", EditOptions(steps=5, skip_steps=1), source_prompt="a white cup"
    )
    np.testing.assert_array_equal(np.asarray(deeper.image), np.asarray(fresh.image))


def test_new_source_prompt_or_steps_make_a_new_inversion(tiny_pipe):
    photo, mask = _photo(32, 48), _box(32, 48, 0, 16, 0, 16)
    session = EditSession(tiny_pipe, photo, mask, model_name="tiny")
    session.edit("a red cup", EditOptions(**FAST), source_prompt="a white cup")
    assert not session.edit("a red cup", EditOptions(**FAST), source_prompt="a green cup").report["reused_inversion"]
    assert not session.edit("a red cup", EditOptions(steps=3, skip_steps=1)).report["reused_inversion"]
    assert session.edit("a blue cup", EditOptions(steps=3, skip_steps=1, guidance=2.0)).report["reused_inversion"]


def test_kv_cache_bytes_is_background_tokens_times_layers_times_kv_times_hidden_times_steps(tiny_pipe):
    photo, mask = _photo(48, 80), _box(48, 80, 10, 30, 20, 50)
    opts = EditOptions(steps=6, skip_steps=2)
    report = EditSession(tiny_pipe, photo, mask, model_name="tiny").edit("x", opts, source_prompt="y").report
    config = tiny_pipe.transformer.config
    hidden = config.num_attention_heads * config.attention_head_dim
    layers = config.num_layers + config.num_single_layers
    bytes_per_value = torch.finfo(tiny_pipe.transformer.dtype).bits // 8
    expected = report["background_tokens"] * layers * 2 * hidden * bytes_per_value * opts.denoise_steps
    assert report["kv_cache_bytes"] == expected
    assert report["cached_steps"] == opts.denoise_steps


def test_inversion_free_mode_keeps_one_step_and_keeps_the_background(tiny_pipe):
    photo, mask = _photo(48, 64), _box(48, 64, 8, 40, 16, 48)
    opts = EditOptions(**FAST, kv_cache="none", attn_mask=True)
    counter = CallCounter(tiny_pipe.transformer)
    try:
        result = EditSession(tiny_pipe, photo, mask, model_name="tiny").edit("a red cup", opts, source_prompt="a white cup")
    finally:
        counter.close()
    report = result.report
    assert report["mode"] == "inversion-free" and counter.calls == 2 * opts.denoise_steps
    config = tiny_pipe.transformer.config
    one_step = report["background_tokens"] * report["layers"] * 2 * config.num_attention_heads * config.attention_head_dim * 4
    assert report["kv_cache_bytes"] == one_step
    np.testing.assert_array_equal(np.asarray(result.image)[mask == 0], photo[mask == 0])


@pytest.mark.parametrize("flags", [dict(attn_mask=True), dict(re_init=True, attn_scale=0.0)], ids=["attn_mask", "re_init"])
def test_options_change_the_edit_but_never_the_background(tiny_pipe, flags):
    photo, mask = _photo(48, 64), _box(48, 64, 8, 40, 16, 48)
    plain = EditSession(tiny_pipe, photo, mask, model_name="tiny").edit("a red cup", EditOptions(**FAST), source_prompt="a cup")
    varied = EditSession(tiny_pipe, photo, mask, model_name="tiny").edit(
        "a red cup", EditOptions(**FAST, **flags), source_prompt="a cup"
    )
    assert not np.array_equal(np.asarray(plain.image), np.asarray(varied.image))
    np.testing.assert_array_equal(np.asarray(varied.image)[mask == 0], photo[mask == 0])


def test_edit_restores_the_pipeline_processors_and_scheduler(tiny_pipe):
    processors = dict(tiny_pipe.transformer.attn_processors)
    scheduler_state = dict(vars(tiny_pipe.scheduler))  # the pipeline's scheduler is never stepped or reset
    photo, mask = _photo(32, 32), _box(32, 32, 0, 16, 0, 16)
    EditSession(tiny_pipe, photo, mask, model_name="tiny").edit("a", EditOptions(**FAST), source_prompt="b")
    assert tiny_pipe.transformer.attn_processors == processors
    after = vars(tiny_pipe.scheduler)
    assert after.keys() == scheduler_state.keys()
    assert all(after[k] is v for k, v in scheduler_state.items())


def test_progress_reports_each_step_by_stage(tiny_pipe):
    calls = []
    photo, mask = _photo(32, 32), _box(32, 32, 0, 16, 0, 16)
    EditSession(tiny_pipe, photo, mask, model_name="tiny").edit(
        "a", EditOptions(steps=4, skip_steps=1), progress=lambda *a: calls.append(a), source_prompt="b"
    )
    assert calls == [("invert", 1, 3), ("invert", 2, 3), ("invert", 3, 3), ("edit", 1, 3), ("edit", 2, 3), ("edit", 3, 3)]


def test_report_has_the_agreed_fields_and_labels_random_weights(tiny_pipe):
    photo, mask = _photo(32, 48), _box(32, 48, 0, 16, 0, 16)
    report = EditSession(tiny_pipe, Image.fromarray(photo), mask, model_name="tiny").edit(
        "a", EditOptions(**FAST), source_prompt="b"
    ).report
    for field in ("family", "width", "height", "image_tokens", "foreground_tokens", "steps", "kv_cache_mode",
                  "kv_cache_bytes", "inversion_seconds", "denoise_seconds", "peak_memory_bytes", "reused_inversion"):
        assert field in report
    assert not {"model", "licence", "license"} & report.keys()  # the job states the model, once
    assert report["peak_memory_bytes"] > 0 and "RSS" in report["peak_memory_source"]


def test_text_length_follows_the_model(tiny_pipe):
    assert text_length(tiny_pipe, "flux-dev") == 512
    assert text_length(tiny_pipe, "flux-schnell") == 256
    assert text_length(tiny_pipe, "tiny") == 32
    assert text_length(tiny_pipe, "some-fine-tune") == tiny_pipe.tokenizer_2.model_max_length


def test_bad_inputs_are_one_line_input_errors(tiny_pipe):
    photo = _photo(32, 32)
    with pytest.raises(InputError):
        EditOptions(steps=4, skip_steps=4)
    with pytest.raises(InputError):
        EditOptions(guidance=float("nan"))
    with pytest.raises(InputError):
        EditSession(tiny_pipe, photo, np.full((32, 32), np.nan, np.float32), model_name="tiny")
    session = EditSession(tiny_pipe, photo, _box(32, 32, 0, 8, 0, 8), model_name="tiny")
    with pytest.raises(InputError, match="source prompt"):
        session.edit("a red cup", EditOptions(**FAST))


def test_schedule_is_the_one_fluxpipeline_uses_for_the_image_size(tiny_pipe):
    from diffusers import FlowMatchEulerDiscreteScheduler, FluxPipeline

    from editor.kv_edit.families.flux1 import Flux1Adapter

    # A pipeline sharing the tiny components but with its own scheduler, so tiny_pipe stays untouched.
    components = dict(tiny_pipe.components, scheduler=FlowMatchEulerDiscreteScheduler.from_config(tiny_pipe.scheduler.config))
    pipe = FluxPipeline(**components)
    pipe.set_progress_bar_config(disable=True)
    pipe("a cup", height=128, width=96, num_inference_steps=5, output_type="latent", max_sequence_length=32)
    ours = Flux1Adapter(tiny_pipe).sigmas(5, (128 // 16) * (96 // 16), "cpu")
    np.testing.assert_allclose(ours, pipe.scheduler.sigmas.numpy(), rtol=1e-6)
    assert ours[0] == pytest.approx(1.0) and ours[-1] == 0.0
    # Shifted by image size: a bigger image keeps more noise at the same step.
    assert Flux1Adapter(tiny_pipe).sigmas(5, 4096, "cpu")[2] > ours[2]


def test_loading_a_lora_invalidates_the_inversion(tiny_pipe):
    import copy

    from diffusers import FluxPipeline
    from peft import LoraConfig

    # Its own copy of the transformer, so the shared tiny pipeline never gets adapters.
    pipe = FluxPipeline(**dict(tiny_pipe.components, transformer=copy.deepcopy(tiny_pipe.transformer)))
    photo, mask = _photo(32, 48), _box(32, 48, 0, 16, 0, 16)
    session = EditSession(pipe, photo, mask, model_name="tiny")
    session.edit("a red cup", EditOptions(**FAST), source_prompt="a white cup")
    pipe.transformer.add_adapter(LoraConfig(r=2, target_modules=["to_q"], init_lora_weights=False), adapter_name="kv-test")
    assert not session.edit("a red cup", EditOptions(**FAST)).report["reused_inversion"]
    pipe.transformer.set_adapters("kv-test", 0.5)
    assert not session.edit("a red cup", EditOptions(**FAST)).report["reused_inversion"]
    assert session.edit("a blue cup", EditOptions(**FAST)).report["reused_inversion"]
    pipe.transformer.delete_adapters("kv-test")
    assert not session.edit("a red cup", EditOptions(**FAST)).report["reused_inversion"]


def test_a_prompt_longer_than_the_model_reads_is_noted_in_the_report(tiny_pipe):
    from editor.kv_edit import EditOptions, EditSession

    image = np.full((48, 64, 3), 120, dtype=np.uint8)
    mask = np.zeros((48, 64), dtype=np.float32)
    mask[8:40, 16:48] = 1.0
    session = EditSession(tiny_pipe, image, mask, model_name="tiny")
    long_target = "a cup of green tea on a wooden table " * 20
    result = session.edit(long_target, EditOptions(steps=2, skip_steps=0), source_prompt="a cup of coffee")
    report = result.report
    assert report["target_prompt_tokens"] > 32 >= report["source_prompt_tokens"]
    assert any("target prompt is" in note and "first 32" in note for note in report["notes"])
    assert not any("source prompt is" in note for note in report["notes"])
