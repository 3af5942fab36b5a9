"""Attention processors that record and replay the background's keys and values.

They follow diffusers' `FluxAttnProcessor` step for step (same projections, QK norms, RoPE and
`dispatch_attention_fn`, so LoRA layers and the chosen attention backend keep working) and add
one thing each:

- `RecordingAttnProcessor` (inversion, and the source pass of the inversion-free mode): stores the
  post-RoPE keys/values of the background tokens for (step, layer), and can keep background and
  foreground from attending to each other (`attn_mask`).
- `CachedKVAttnProcessor` (editing): the transformer only sees text + foreground tokens; the
  recorded background keys/values for the same (step, layer) are appended to the keys, optionally
  with an additive bias (`attn_scale`).

Layers are numbered as the transformer runs them: double-stream blocks 0..n-1, then single-stream
blocks n..n+m-1. `kv_processors` installs one processor per layer and always restores the old ones.
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable, Iterator

import torch
from diffusers.models.attention_dispatch import dispatch_attention_fn
from diffusers.models.embeddings import apply_rotary_emb
from diffusers.models.transformers.transformer_flux import _get_qkv_projections
from torch import Tensor

from editor.kv_edit.kv_cache import KVStore


@dataclass
class KVContext:
    """What the processors of one run share. Owned by the engine for one loop; `step` and
    `next_step` advance with it."""

    store: KVStore
    text_len: int  # text tokens come first in FLUX's joint sequence
    background_index: Tensor  # image-token indices of the background (LongTensor, on the device)
    n_layers: int
    step: int = 0
    next_step: int | None = None  # the step after `step`, for prefetching across the step boundary
    attention_mask: Tensor | None = None  # recording only: bool [1, 1, L, L], True = may attend
    key_bias: Tensor | None = None  # replay only: additive [1, 1, 1, text + fg + bg]
    background_rows: Tensor = field(init=False)  # rows of the background in the joint sequence

    def __post_init__(self) -> None:
        self.background_rows = self.background_index + self.text_len

    def following(self, layer: int) -> tuple[int, int] | None:
        if layer + 1 < self.n_layers:
            return self.step, layer + 1
        return (self.next_step, 0) if self.next_step is not None else None


def _joint_qkv(attn, hidden_states: Tensor, encoder_hidden_states: Tensor | None, image_rotary_emb):
    """Query, key, value for the joint sequence [B, L, heads, head_dim], after QK norm and RoPE,
    exactly as FluxAttnProcessor computes them."""
    query, key, value, encoder_query, encoder_key, encoder_value = _get_qkv_projections(
        attn, hidden_states, encoder_hidden_states
    )
    query = attn.norm_q(query.unflatten(-1, (-1, attn.head_dim)))
    key = attn.norm_k(key.unflatten(-1, (-1, attn.head_dim)))
    value = value.unflatten(-1, (-1, attn.head_dim))
    if attn.added_kv_proj_dim is not None:
        encoder_query = attn.norm_added_q(encoder_query.unflatten(-1, (-1, attn.head_dim)))
        encoder_key = attn.norm_added_k(encoder_key.unflatten(-1, (-1, attn.head_dim)))
        encoder_value = encoder_value.unflatten(-1, (-1, attn.head_dim))
        query = torch.cat([encoder_query, query], dim=1)
        key = torch.cat([encoder_key, key], dim=1)
        value = torch.cat([encoder_value, value], dim=1)
    if image_rotary_emb is not None:
        query = apply_rotary_emb(query, image_rotary_emb, sequence_dim=1)
        key = apply_rotary_emb(key, image_rotary_emb, sequence_dim=1)
    return query, key, value


def _attention_output(attn, out: Tensor, query_dtype, encoder_hidden_states: Tensor | None):
    """Output projections, as FluxAttnProcessor: double blocks return (image, text), single blocks
    return the joint sequence."""
    out = out.flatten(2, 3).to(query_dtype)
    if encoder_hidden_states is None:
        return out
    text_out, image_out = out.split_with_sizes(
        [encoder_hidden_states.shape[1], out.shape[1] - encoder_hidden_states.shape[1]], dim=1
    )
    image_out = attn.to_out[1](attn.to_out[0](image_out.contiguous()))
    text_out = attn.to_add_out(text_out.contiguous())
    return image_out, text_out


class _KVProcessor:
    """Shared parts. Keeps the replaced processor's attention backend and parallel config."""

    _attention_backend = None
    _parallel_config = None

    def __init__(self, layer: int, ctx: KVContext, replaced=None):
        self.layer = layer
        self.ctx = ctx
        if replaced is not None:
            self._attention_backend = getattr(replaced, "_attention_backend", None)
            self._parallel_config = getattr(replaced, "_parallel_config", None)

    def _attend(self, query, key, value, mask):
        return dispatch_attention_fn(
            query, key, value, attn_mask=mask, backend=self._attention_backend, parallel_config=self._parallel_config
        )


class RecordingAttnProcessor(_KVProcessor):
    """Full pass over all tokens; stores the background's keys and values for (ctx.step, layer)."""

    def __call__(self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None, image_rotary_emb=None):
        ctx = self.ctx
        query, key, value = _joint_qkv(attn, hidden_states, encoder_hidden_states, image_rotary_emb)
        rows = ctx.background_rows
        # Gathering makes fresh tensors, so the store may keep them as they are.
        ctx.store.put(
            ctx.step,
            self.layer,
            key.transpose(1, 2)[:, :, rows].contiguous(),
            value.transpose(1, 2)[:, :, rows].contiguous(),
        )
        mask = ctx.attention_mask if ctx.attention_mask is not None else attention_mask
        out = self._attend(query, key, value, mask)
        return _attention_output(attn, out, query.dtype, encoder_hidden_states)


class CachedKVAttnProcessor(_KVProcessor):
    """Pass over text + foreground tokens; the background's keys and values come from the store."""

    def __call__(self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None, image_rotary_emb=None):
        ctx = self.ctx
        following = ctx.following(self.layer)
        if following is not None:
            # Before computing this layer, so an offloading store overlaps the copy with compute.
            ctx.store.prefetch(*following)
        query, key, value = _joint_qkv(attn, hidden_states, encoder_hidden_states, image_rotary_emb)
        cached_key, cached_value = ctx.store.get(ctx.step, self.layer)
        key = torch.cat([key, cached_key.transpose(1, 2).to(key.dtype)], dim=1)
        value = torch.cat([value, cached_value.transpose(1, 2).to(value.dtype)], dim=1)
        out = self._attend(query, key, value, ctx.key_bias)
        return _attention_output(attn, out, query.dtype, encoder_hidden_states)


_LAYER_NAME = re.compile(r"^(transformer_blocks|single_transformer_blocks)\.(\d+)\.")


def layer_index(processor_name: str, n_double: int) -> int:
    """'single_transformer_blocks.3.attn.processor' -> n_double + 3."""
    match = _LAYER_NAME.match(processor_name)
    if match is None:
        raise ValueError(f"not a FLUX block attention processor: {processor_name}")
    index = int(match.group(2))
    return index if match.group(1) == "transformer_blocks" else n_double + index


def count_layers(transformer) -> int:
    return len(transformer.transformer_blocks) + len(transformer.single_transformer_blocks)


@contextmanager
def kv_processors(transformer, make: Callable[[int, object], object]) -> Iterator[None]:
    """Install `make(layer, replaced_processor)` on every attention layer; restore on exit, always."""
    original = transformer.attn_processors
    n_double = len(transformer.transformer_blocks)
    installed = {name: make(layer_index(name, n_double), proc) for name, proc in original.items()}
    transformer.set_attn_processor(installed)
    try:
        yield
    finally:
        # set_attn_processor consumes the dict it is given, so hand it a copy.
        transformer.set_attn_processor(dict(original))


def recording(transformer, ctx: KVContext):
    return kv_processors(transformer, lambda layer, old: RecordingAttnProcessor(layer, ctx, old))


def replaying(transformer, ctx: KVContext):
    return kv_processors(transformer, lambda layer, old: CachedKVAttnProcessor(layer, ctx, old))


def separation_mask(text_len: int, foreground: Tensor) -> Tensor:
    """Bool [1, 1, L, L] for inversion with `attn_mask`: text attends to everything; foreground and
    background tokens attend to text and to their own kind only. `foreground`: bool per image token."""
    fg = foreground.to(torch.bool)
    n_image = fg.numel()
    text = torch.zeros(text_len + n_image, dtype=torch.bool, device=fg.device)
    text[:text_len] = True
    is_fg = torch.cat([torch.zeros(text_len, dtype=torch.bool, device=fg.device), fg])
    is_bg = ~text & ~is_fg
    same_kind = (is_fg[:, None] & is_fg[None, :]) | (is_bg[:, None] & is_bg[None, :])
    allowed = text[:, None] | text[None, :] | same_kind
    return allowed[None, None]


def background_key_bias(text_len: int, n_foreground: int, n_background: int, scale: float, dtype, device) -> Tensor | None:
    """Additive bias [1, 1, 1, keys] in the replay key order (text, foreground, cached background):
    `scale` on background keys, 0 elsewhere. None when it would change nothing."""
    if scale == 0 or n_background == 0:
        return None
    bias = torch.zeros(1, 1, 1, text_len + n_foreground + n_background, dtype=dtype, device=device)
    bias[..., text_len + n_foreground :] = scale
    return bias
