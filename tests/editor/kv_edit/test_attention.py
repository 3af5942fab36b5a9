"""KV-Edit attention: a foreground-only pass with the recorded background K/V is the full pass."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from diffusers import FluxTransformer2DModel

import editor.kv_edit.attention as kv_attention
from editor.kv_edit.attention import (
    KVContext,
    background_key_bias,
    recording,
    replaying,
    separation_mask,
)
from editor.kv_edit.engine import Canvas
from editor.kv_edit.families import kv_layers_of
from editor.kv_edit.families.flux1 import image_ids
from editor.kv_edit.kv_cache import DeviceKVStore
from editor.kv_edit.masks import token_mask

LATENT = 8  # 8×8 latent pixels -> 4×4 = 16 tokens
TEXT = 7


def _transformer(double: int, single: int, seed: int = 0) -> FluxTransformer2DModel:
    torch.manual_seed(seed)
    model = FluxTransformer2DModel(
        patch_size=1,
        in_channels=16,
        num_layers=double,
        num_single_layers=single,
        attention_head_dim=16,
        num_attention_heads=2,
        joint_attention_dim=32,
        pooled_projection_dim=32,
        guidance_embeds=True,
        axes_dims_rope=(4, 6, 6),
    )
    return model.eval()


def _inputs(seed: int = 1):
    g = torch.Generator().manual_seed(seed)
    canvas = Canvas(width=LATENT * 8, height=LATENT * 8, latent_h=LATENT, latent_w=LATENT, channels=4)
    return {
        "latents": torch.randn(1, canvas.tokens, 16, generator=g),
        "text": torch.randn(1, TEXT, 32, generator=g),
        "pooled": torch.randn(1, 32, generator=g),
        "img_ids": image_ids(canvas, "cpu"),
        "txt_ids": torch.zeros(TEXT, 3),
    }


def _mask():
    pixels = np.zeros((LATENT * 8, LATENT * 8), np.float32)
    pixels[10:30, 20:50] = 1.0  # a few tokens in the middle
    return token_mask(pixels, LATENT, LATENT)


def _run(model, inp, latents, img_ids):
    with torch.no_grad():
        return model(
            hidden_states=latents,
            encoder_hidden_states=inp["text"],
            pooled_projections=inp["pooled"],
            timestep=torch.tensor([0.7]),
            img_ids=img_ids,
            txt_ids=inp["txt_ids"],
            guidance=torch.tensor([3.5]),
            return_dict=False,
        )[0]


def _full_then_foreground(model, attn_scale: float = 0.0):
    inp, mask = _inputs(), _mask()
    fg, bg = mask.foreground_index(), mask.background_index()
    store = DeviceKVStore("cpu", torch.float32)
    record = KVContext(store=store, background_index=bg, image_rows=mask.image_tokens, n_layers=len(kv_layers_of(model)), step=3)
    with recording(kv_layers_of(model), record):
        full = _run(model, inp, inp["latents"], inp["img_ids"])
    replay = KVContext(store=store, background_index=bg, image_rows=mask.image_tokens, n_layers=len(kv_layers_of(model)), step=3)
    replay.key_bias = background_key_bias(TEXT, len(fg), len(bg), attn_scale, torch.float32, "cpu")
    with replaying(kv_layers_of(model), replay):
        partial = _run(model, inp, inp["latents"][:, fg], inp["img_ids"][fg])
    return full, partial, fg, store


@pytest.mark.parametrize(
    "double, single",
    [(1, 0), (0, 1), (2, 2)],
    ids=["double-stream block", "single-stream block", "both"],
)
def test_foreground_pass_with_cached_background_kv_reproduces_full_pass(double, single):
    model = _transformer(double, single)
    full, partial, fg, _ = _full_then_foreground(model, attn_scale=0.0)
    assert partial.shape == (1, len(fg), 16)
    torch.testing.assert_close(partial, full[:, fg], rtol=1e-5, atol=1e-5)


def test_foreground_pass_without_background_kv_differs():
    """The check above can fail: dropping the background changes the foreground's output."""
    model = _transformer(1, 1)
    inp, mask = _inputs(), _mask()
    fg = mask.foreground_index()
    full = _run(model, inp, inp["latents"], inp["img_ids"])
    alone = _run(model, inp, inp["latents"][:, fg], inp["img_ids"][fg])
    assert (alone - full[:, fg]).abs().max() > 1e-3


def test_recorded_keys_are_background_only_and_post_rope():
    model = _transformer(1, 1)
    _, _, fg, store = _full_then_foreground(model)
    n_bg = _mask().background_tokens
    assert store.steps() == [3]
    for layer in range(2):
        key, value = store.get(3, layer)
        assert key.shape == value.shape == (1, 2, n_bg, 16)  # [batch, heads, background, head_dim]
    # Post-RoPE: the same content at another position gives other keys.
    inp, mask = _inputs(), _mask()
    shifted = DeviceKVStore("cpu", torch.float32)
    ctx = KVContext(store=shifted, background_index=mask.background_index(), image_rows=mask.image_tokens, n_layers=2, step=3)
    ids = inp["img_ids"].clone()
    ids[:, 1:] += 5
    with recording(kv_layers_of(model), ctx):
        _run(model, inp, inp["latents"], ids)
    assert not torch.allclose(shifted.get(3, 0)[0], store.get(3, 0)[0])
    torch.testing.assert_close(shifted.get(3, 0)[1], store.get(3, 0)[1])  # values carry no RoPE


def test_positive_attn_scale_raises_attention_mass_on_background_keys(monkeypatch):
    model = _transformer(1, 0)
    seen = []
    real = kv_attention.dispatch_attention_fn

    def spy(query, key, value, attn_mask=None, **kwargs):
        seen.append((query, key, attn_mask))
        return real(query, key, value, attn_mask=attn_mask, **kwargs)

    monkeypatch.setattr(kv_attention, "dispatch_attention_fn", spy)
    n_bg = _mask().background_tokens

    def background_mass(query, key, bias):
        q, k = query.transpose(1, 2), key.transpose(1, 2)  # [B, H, L, D]
        scores = q @ k.transpose(-1, -2) / q.shape[-1] ** 0.5
        if bias is not None:
            scores = scores + bias
        return scores.softmax(-1)[..., -n_bg:].sum(-1).mean().item()

    masses = {}
    for scale in (0.0, 1.0):
        seen.clear()
        _full_then_foreground(model, attn_scale=scale)
        query, key, bias = seen[-1]  # the replay pass (single layer)
        assert (bias is None) == (scale == 0.0)
        masses[scale] = background_mass(query, key, bias)
    assert masses[1.0] > masses[0.0]


def test_processors_are_restored_even_when_the_pass_fails():
    model = _transformer(1, 1)
    before = {name: type(p) for name, p in model.attn_processors.items()}
    before_ids = {name: id(p) for name, p in model.attn_processors.items()}
    ctx = KVContext(store=DeviceKVStore("cpu", torch.float32), background_index=_mask().background_index(), image_rows=16, n_layers=2)
    inp = _inputs()
    with pytest.raises(KeyError):  # nothing was recorded, so replay cannot find step 0
        with replaying(kv_layers_of(model), ctx):
            _run(model, inp, inp["latents"][:, :3], inp["img_ids"][:3])
    assert {name: type(p) for name, p in model.attn_processors.items()} == before
    assert {name: id(p) for name, p in model.attn_processors.items()} == before_ids


def test_separation_mask_keeps_foreground_blind_to_background_within_a_block():
    """With attn_mask, a block's foreground output does not depend on the background's content."""
    model = _transformer(1, 0)
    inp, mask = _inputs(), _mask()
    fg_bool = torch.from_numpy(mask.tokens)
    ctx = KVContext(store=DeviceKVStore("cpu", torch.float32), background_index=mask.background_index(), image_rows=16, n_layers=1)
    ctx.foreground = fg_bool
    block = model.transformer_blocks[0]
    temb = torch.randn(1, 32)
    text = torch.randn(1, TEXT, 32)
    image = torch.randn(1, mask.image_tokens, 32)
    other = image.clone()
    other[:, ~fg_bool] = torch.randn_like(other[:, ~fg_bool])
    rope = model.pos_embed(torch.cat([inp["txt_ids"], inp["img_ids"]]))
    with recording(kv_layers_of(model), ctx), torch.no_grad():
        _, out_a = block(image, text, temb, rope)
        _, out_b = block(other, text, temb, rope)
    torch.testing.assert_close(out_a[:, fg_bool], out_b[:, fg_bool])
    assert not torch.allclose(out_a[:, ~fg_bool], out_b[:, ~fg_bool])


def test_separation_mask_lets_text_see_everything():
    fg = torch.tensor([True, False, True])
    m = separation_mask(2, fg)[0, 0]
    assert m[:2].all() and m[:, :2].all()  # text rows and text columns
    assert m[2, 4] and not m[2, 3] and m[3, 3] and not m[3, 4]


def test_equivalence_holds_with_a_lora_adapter():
    from peft import LoraConfig

    model = _transformer(1, 1)
    plain, _, fg, _ = _full_then_foreground(model)
    model.add_adapter(LoraConfig(r=4, lora_alpha=4, target_modules=["to_q", "to_k", "to_v", "to_out.0"], init_lora_weights=False))
    full, partial, fg, _ = _full_then_foreground(model)
    assert (full - plain).abs().max() > 1e-4  # the adapter is really in the path
    torch.testing.assert_close(partial, full[:, fg], rtol=1e-5, atol=1e-5)


def test_installed_processors_keep_the_models_attention_backend():
    model = _transformer(1, 1)
    model.set_attention_backend("native")
    ctx = KVContext(store=DeviceKVStore("cpu", torch.float32), background_index=_mask().background_index(), image_rows=16, n_layers=2)
    with recording(kv_layers_of(model), ctx):
        backends = {p._attention_backend for p in model.attn_processors.values()}
        roles = {p.role for p in model.attn_processors.values()}
    assert roles == {"record"}
    from diffusers.models.attention_dispatch import AttentionBackendName

    assert backends == {AttentionBackendName.NATIVE}
