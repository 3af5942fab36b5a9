"""KV-Edit family adapters on each family's tiny backend (fp32, CPU): what the engine relies on.

For every family and block type, a foreground-only pass that attends to the recorded background
keys/values gives the foreground rows of the full pass; the adapter's packing, normalisation,
schedule and prompts are the family pipeline's own.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from editor.kv_edit.attention import recording, replaying
from editor.kv_edit.engine import Conditioning, KVEditEngine
from editor.kv_edit.families import UnsupportedFamilyError, adapter_for, family_of_transformer
from editor.kv_edit.kv_cache import DeviceKVStore
from editor.kv_edit.masks import token_mask
from models.tiny import tiny_components

# (model, transformer config changes that leave one kind of block): every attention block type.
BLOCK_TYPES = {
    "flux double-stream": ("tiny", dict(num_layers=1, num_single_layers=0)),
    "flux single-stream": ("tiny", dict(num_layers=0, num_single_layers=1)),
    "flux2 double-stream": ("tiny-flux2", dict(num_layers=1, num_single_layers=0)),
    "flux2 single-stream": ("tiny-flux2", dict(num_layers=0, num_single_layers=1)),
    "z-image noise refiner": ("tiny-zimage", dict(n_refiner_layers=1, n_layers=0)),
    "z-image main layer": ("tiny-zimage", dict(n_refiner_layers=0, n_layers=1)),
    "flux all blocks": ("tiny", {}),
    "flux2 all blocks": ("tiny-flux2", {}),
    "z-image all blocks": ("tiny-zimage", {}),
}


def _pipe_with_blocks(name: str, changes: dict):
    """The tiny pipeline of `name` with a transformer of the same config except `changes`, seeded."""
    import diffusers

    from models.registry import get_spec

    components = tiny_components(name)
    transformer = components["transformer"]
    if changes:
        torch.manual_seed(5)
        transformer = type(transformer).from_config({**transformer.config, **changes}).eval()
        for pad in ("x_pad_token", "cap_pad_token"):  # Z-Image leaves these uninitialised
            if hasattr(transformer, pad):
                torch.nn.init.normal_(getattr(transformer, pad))
    return getattr(diffusers, get_spec(name).pipeline_class)(**dict(components, transformer=transformer))


def _engine(pipe, name: str, width: int = 80, height: int = 48):
    family = adapter_for(pipe, name)
    canvas = family.canvas(width, height)
    pixels = np.zeros((height, width), np.float32)
    pixels[10:30, 20:50] = 1.0  # some tokens in the middle; 80×48 gives 15 tokens (Z-Image pads to 32 rows)
    return KVEditEngine(pipe, canvas, token_mask(pixels, canvas.latent_h, canvas.latent_w), "cpu", family=family)


def _full_then_foreground(pipe, name: str, with_cache: bool = True):
    engine = _engine(pipe, name)
    family = engine.family
    text = Conditioning(family.encode_prompt("a white cup on a table", "cpu", torch.float32))
    latents = torch.randn(1, engine.canvas.tokens, engine.canvas.channels * 4, generator=torch.Generator().manual_seed(1))
    store = DeviceKVStore("cpu", torch.float32)
    ctx = engine._context(store)
    ctx.step = 3
    with recording(engine.layers, ctx):
        full = engine.velocity(latents, engine.image_ids, text, 0.6, 3.5, ctx, (store, None))
    foreground = latents[:, engine.fg_index]
    if not with_cache:
        return full[:, engine.fg_index], engine.velocity(foreground, engine.fg_ids, text, 0.6, 3.5), engine, store
    with replaying(engine.layers, ctx):
        partial = engine.velocity(foreground, engine.fg_ids, text, 0.6, 3.5, ctx, (store, store))
    return full[:, engine.fg_index], partial, engine, store


@pytest.mark.parametrize("block", list(BLOCK_TYPES))
def test_foreground_pass_with_cached_background_kv_reproduces_the_full_pass(block):
    name, changes = BLOCK_TYPES[block]
    pipe = _pipe_with_blocks(name, changes)
    expected, partial, engine, store = _full_then_foreground(pipe, name)
    assert partial.shape == expected.shape == (1, len(engine.fg_index), engine.canvas.channels * 4)
    torch.testing.assert_close(partial, expected, rtol=1e-5, atol=1e-5)
    # Every recorded layer holds exactly the background rows (Z-Image: and its padding rows).
    assert len(store.steps()) == 1 and engine.n_layers >= 1
    for layer in range(engine.n_layers):
        key, value = store.get(3, layer)
        assert key.shape[2] == value.shape[2] == len(engine.bg_index)


@pytest.mark.parametrize("name", ["tiny", "tiny-flux2", "tiny-zimage"])
def test_foreground_pass_without_the_background_kv_differs(name, tiny_pipes):
    """The check above can fail: dropping the background changes the foreground's output."""
    expected, alone, _, _ = _full_then_foreground(tiny_pipes[name], name, with_cache=False)
    assert (alone - expected).abs().max() > 1e-3


def test_z_image_pads_a_full_pass_to_32_rows_and_keeps_padding_as_background(tiny_pipes):
    engine = _engine(tiny_pipes["tiny-zimage"], "tiny-zimage")
    assert engine.canvas.tokens == 15 and engine.image_rows == 32
    assert set(range(15, 32)) <= set(engine.bg_index.tolist())
    assert not set(engine.fg_index.tolist()) & set(engine.bg_index.tolist())


def test_z_image_token_forward_is_the_transformers_forward(tiny_pipes):
    """With no padding rows and a caption that fills its 32 rows, the adapter's token-row forward
    and ZImageTransformer2DModel.forward see the same positions: same output."""
    pipe = tiny_pipes["tiny-zimage"]
    family = adapter_for(pipe, "tiny-zimage")
    canvas = family.canvas(64, 128)  # 4 × 8 = 32 tokens: no padding rows
    prompt = family.encode_prompt("a bowl of noodles in a restaurant, warm light", "cpu", torch.float32)
    latent = torch.randn(1, canvas.channels, canvas.latent_h, canvas.latent_w, generator=torch.Generator().manual_seed(2))
    ours = family.predict(family.pack(latent), family.image_ids(canvas, "cpu"), prompt, 0.3, 0.0)
    with torch.no_grad():
        theirs = pipe.transformer([latent[:, :, None][0]], torch.tensor([0.7]), [prompt.embeds], return_dict=False)[0][0]
    torch.testing.assert_close(family.unpack(ours, canvas), -theirs[:, 0][None], rtol=1e-4, atol=1e-5)


def test_latents_are_normalised_and_packed_as_each_pipeline_does(tiny_pipes):
    from diffusers import Flux2KleinPipeline

    klein = tiny_pipes["tiny-flux2"]
    family = adapter_for(klein, "tiny-flux2")
    canvas = family.canvas(64, 48)
    rgb = np.random.default_rng(0).integers(0, 256, (48, 64, 3), dtype=np.uint8)
    ours = family.encode_image(rgb, canvas, "cpu")
    image = torch.from_numpy(rgb).permute(2, 0, 1)[None].float() / 127.5 - 1.0
    with torch.no_grad():
        theirs = Flux2KleinPipeline._pack_latents(klein._encode_vae_image(image, generator=None))
    torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-5)

    zimage = tiny_pipes["tiny-zimage"]
    family = adapter_for(zimage, "tiny-zimage")
    latent = torch.randn(1, canvas.channels, canvas.latent_h, canvas.latent_w)
    patches, _, _ = zimage.transformer._patchify_image(latent[0][:, None], 2, 1)  # the transformer's token order
    torch.testing.assert_close(family.pack(latent)[0], patches)
    torch.testing.assert_close(family.denormalise(family.normalise(latent), canvas), latent, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", ["tiny-flux2", "tiny-zimage"])
def test_schedule_is_the_one_the_family_pipeline_uses(name, tiny_pipes):
    from diffusers import FlowMatchEulerDiscreteScheduler

    pipe = tiny_pipes[name]
    # A pipeline sharing the tiny components but with its own scheduler, so the shared one stays untouched.
    own = type(pipe)(**dict(pipe.components, scheduler=FlowMatchEulerDiscreteScheduler.from_config(pipe.scheduler.config)))
    own.set_progress_bar_config(disable=True)
    own(prompt="a cup", height=128, width=96, num_inference_steps=5, output_type="latent", max_sequence_length=32,
        guidance_scale=0.0)
    ours = adapter_for(pipe, name).sigmas(5, (128 // 16) * (96 // 16), "cpu")
    np.testing.assert_allclose(ours, own.scheduler.sigmas.numpy(), rtol=1e-6, atol=1e-7)
    assert ours[0] == pytest.approx(1.0) and ours[-1] == 0.0


def test_prompts_are_encoded_as_each_pipeline_encodes_them(family_pipe):
    name, pipe = family_pipe
    family = adapter_for(pipe, name)
    prompt = family.encode_prompt("a latte in a bright cafe 카페", "cpu", torch.float32)
    assert prompt.length <= family.text_length() == 32
    encoded = family.models_family.encode(pipe, "a latte in a bright cafe 카페", 32, "cpu")
    torch.testing.assert_close(prompt.embeds, encoded[0])


def test_a_transformer_no_family_knows_is_refused_with_a_neutral_error():
    with pytest.raises(UnsupportedFamilyError, match="does not support this model") as caught:
        family_of_transformer(torch.nn.Linear(2, 2))
    assert caught.value.field == "model" and "Linear" in str(caught.value)


def test_packing_and_latent_normalisation_invert_each_other(family_pipe):
    name, pipe = family_pipe
    family = adapter_for(pipe, name)
    canvas = family.canvas(64, 48)
    latent = torch.randn(1, canvas.channels, canvas.latent_h, canvas.latent_w, generator=torch.Generator().manual_seed(0))
    packed = family.normalise(latent)
    assert packed.shape == (1, canvas.tokens, canvas.channels * 4)
    torch.testing.assert_close(family.denormalise(packed, canvas), latent, rtol=1e-5, atol=1e-5)
    mask = token_mask(np.pad(np.ones((8, 8), np.float32), ((0, 40), (0, 56))), canvas.latent_h, canvas.latent_w)
    pixel_mask = family.pixel_mask(mask, canvas, "cpu")
    assert pixel_mask.shape == packed.shape and pixel_mask.sum() == canvas.channels  # one latent pixel, every channel
    with pytest.raises(ValueError, match="multiple of 16"):
        family.canvas(60, 48)


def test_separation_mask_knows_whether_the_image_comes_first():
    from editor.kv_edit.attention import separation_mask

    fg = torch.tensor([True, False])
    text_first = separation_mask(1, fg)[0, 0]  # rows: text, fg, bg
    image_first = separation_mask(1, fg, image_first=True)[0, 0]  # rows: fg, bg, text
    assert text_first[1, 1] and not text_first[1, 2] and text_first[1, 0] and text_first[0].all()
    assert image_first[0, 0] and not image_first[0, 1] and image_first[0, 2] and image_first[2].all()
    assert torch.equal(image_first, text_first[[1, 2, 0]][:, [1, 2, 0]])


@pytest.mark.parametrize("name", ["tiny", "tiny-flux2", "tiny-zimage"])
def test_attn_mask_keeps_the_recorded_background_free_of_the_foreground(name, tiny_pipes):
    """With attn_mask the background's keys after the first block do not depend on the foreground's
    content (deeper ones may: text attends to everything and the background to the text)."""
    pipe = tiny_pipes[name]
    engine = _engine(pipe, name)
    text = Conditioning(engine.family.encode_prompt("a white cup", "cpu", torch.float32))
    base = torch.randn(1, engine.canvas.tokens, engine.canvas.channels * 4, generator=torch.Generator().manual_seed(1))
    other = base.clone()
    other[:, engine.fg_index] = torch.randn(1, len(engine.fg_index), base.shape[-1], generator=torch.Generator().manual_seed(9))
    recorded = {}
    for separate in (False, True):
        for label, latents in (("base", base), ("other", other)):
            store = DeviceKVStore("cpu", torch.float32)
            ctx = engine._separated(engine._context(store), separate)
            with recording(engine.layers, ctx):
                engine.velocity(latents, engine.image_ids, text, 0.6, 3.5, ctx, (store, None))
            recorded[separate, label] = store.get(0, 1)[0]
    torch.testing.assert_close(recorded[True, "base"], recorded[True, "other"], rtol=1e-5, atol=1e-5)
    assert not torch.allclose(recorded[False, "base"], recorded[False, "other"], atol=1e-4)
