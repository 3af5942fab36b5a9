"""Attention processors that record and replay the background's keys and values, for any family.

What is shared lives here; what differs per model family lives in `editor.kv_edit.families`:

- A family's processor (e.g. `families.flux1.Flux1KVProcessor`) computes query, key and value
  exactly as the diffusers processor it replaces (same projections, QK norms and RoPE, so LoRA
  layers keep working), hands the post-RoPE joint sequence to `KVProcessor.attend`, and finishes
  with the block's own output projections.
- `KVProcessor.attend` does the KV-Edit part, by role:
  - record (inversion, and the source pass of the inversion-free mode): stores the background
    rows' keys/values for (step, layer) and can keep background and foreground from attending to
    each other (`attn_mask`);
  - replay (editing): the transformer only sees text + foreground tokens; the recorded background
    keys/values for the same (step, layer) are appended to the keys, optionally with an additive
    bias (`attn_scale`).

Layers are numbered in the order the transformer runs them (FLUX: double-stream blocks, then
single-stream blocks; Z-Image: noise refiner, then main layers). A family finds them once
(`FamilyAdapter.kv_layers`, a `KVLayers` map that holds the modules); `kv_processors` installs one
processor per layer of that map and always restores the old ones, without scanning the model
again. The attention backend and parallel config of the replaced processor are kept.

This module imports nothing from the families (they import it): the layer map comes in.
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable, Iterator, Mapping, Protocol

import torch
from diffusers.models.attention_dispatch import dispatch_attention_fn
from torch import Tensor

from editor.kv_edit.diffusers_private import attention_settings
from editor.kv_edit.kv_stores import KVStore

RECORD = "record"
REPLAY = "replay"


@dataclass(frozen=True)
class KVLayer:
    """One attention module whose processor KV-Edit replaces: the module itself, its layer number
    in run order, and the KVProcessor subclass with the replaced processor's call signature."""

    module: torch.nn.Module
    index: int
    processor: type["KVProcessor"]


KVLayers = Mapping[str, KVLayer]  # module name -> layer, as a family finds them once per transformer


class RecordObserver(Protocol):
    """Watches a recording pass (editor.kv_edit.elastic.KeyframeObserver): decides, layer by layer,
    whether the background keys/values just computed are stored."""

    def keep(self, ctx: "KVContext", layer: int, query: Tensor, key: Tensor, value: Tensor) -> bool: ...


class ReplayObserver(Protocol):
    """Watches a replaying pass (editor.kv_edit.elastic.RefreshObserver): sees each layer's queries
    and the cached keys/values they read; changes nothing."""

    def replayed(self, ctx: "KVContext", layer: int, query: Tensor, key: Tensor, value: Tensor) -> None: ...


@dataclass
class KVContext:
    """What the processors of one run share. Owned by the engine for one loop; `step`, `next_step`
    and `store` (per guidance branch) advance with it.

    The image block of a full pass has `image_rows` rows: the image tokens, then any padding rows a
    family adds (Z-Image pads to a multiple of 32); padding rows are background. Text comes before
    the image block (FLUX) or after it (`image_first`, Z-Image); a layer without text (Z-Image's
    noise refiner) sees the image block alone.
    """

    store: KVStore | None  # where this pass records / reads; None: record nothing (plain attention)
    background_index: Tensor  # rows of the image block that are background (LongTensor, on the device)
    image_rows: int
    n_layers: int
    image_first: bool = False
    step: int = 0
    next_step: int | None = None  # the step after `step`, for prefetching across the step boundary
    foreground: Tensor | None = None  # recording with attn_mask: bool per image row (the separation)
    key_bias: Tensor | None = None  # replay: additive bias whose last n_background entries go to the cached keys
    # Elastic refresh (editor.kv_edit.elastic): while recording, whether a layer's keys/values are kept;
    # while replaying, a look at what each layer read.
    record_observer: RecordObserver | None = None
    replay_observer: ReplayObserver | None = None
    _masks: dict = field(default_factory=dict, init=False, repr=False)
    _biases: dict = field(default_factory=dict, init=False, repr=False)

    def following(self, layer: int) -> tuple[int, int] | None:
        if layer + 1 < self.n_layers:
            return self.step, layer + 1
        return (self.next_step, 0) if self.next_step is not None else None

    def image_offset(self, length: int) -> int:
        """Where the image block starts in a full joint sequence of `length` rows."""
        return 0 if self.image_first else length - self.image_rows

    def background_rows(self, length: int) -> Tensor:
        return self.background_index + self.image_offset(length)

    def separation(self, length: int) -> Tensor | None:
        """The attn_mask for a full pass of `length` rows (None without one); made once per length."""
        if self.foreground is None:
            return None
        if length not in self._masks:
            self._masks[length] = separation_mask(length - self.image_rows, self.foreground, self.image_first)
        return self._masks[length]

    def replay_bias(self, live: int) -> Tensor | None:
        """The additive bias for `live` live keys followed by the cached background keys."""
        if self.key_bias is None:
            return None
        if live not in self._biases:
            n_bg = len(self.background_index)
            bias = self.key_bias.new_zeros(*self.key_bias.shape[:-1], live + n_bg)
            bias[..., live:] = self.key_bias[..., self.key_bias.shape[-1] - n_bg:]
            self._biases[live] = bias
        return self._biases[live]


class KVProcessor:
    """Base of every family's KV-Edit attention processor: the record / replay part of one layer."""

    _attention_backend = None
    _parallel_config = None

    def __init__(self, layer: int, ctx: KVContext, role: str, replaced=None):
        if role not in (RECORD, REPLAY):
            raise ValueError(f"unknown role '{role}'")
        self.layer = layer
        self.ctx = ctx
        self.role = role
        if replaced is not None:
            self._attention_backend, self._parallel_config = attention_settings(replaced)

    def attend(self, query: Tensor, key: Tensor, value: Tensor, attention_mask: Tensor | None = None) -> Tensor:
        """Attention over one joint sequence, [B, L, heads, head_dim] each, post-RoPE."""
        if self.role == RECORD:
            return self._record(query, key, value, attention_mask)
        return self._replay(query, key, value)

    def _dispatch(self, query, key, value, mask):
        return dispatch_attention_fn(
            query, key, value, attn_mask=mask, backend=self._attention_backend, parallel_config=self._parallel_config
        )

    def _record(self, query, key, value, attention_mask):
        ctx = self.ctx
        length = key.shape[1]
        if ctx.store is not None:
            rows = ctx.background_rows(length)
            # Gathering makes fresh tensors, so the store may keep them as they are.
            key_bg = key.transpose(1, 2)[:, :, rows].contiguous()
            value_bg = value.transpose(1, 2)[:, :, rows].contiguous()
            if ctx.record_observer is None or ctx.record_observer.keep(ctx, self.layer, query, key_bg, value_bg):
                ctx.store.put(ctx.step, self.layer, key_bg, value_bg)
        mask = ctx.separation(length)
        return self._dispatch(query, key, value, mask if mask is not None else attention_mask)

    def _replay(self, query, key, value):
        ctx = self.ctx
        following = ctx.following(self.layer)
        if following is not None:
            # Before computing this layer, so an offloading store overlaps the copy with compute.
            ctx.store.prefetch(*following)
        if len(ctx.background_index) == 0 and ctx.replay_observer is None:
            # No background (a full mask): the pass is plain attention; concatenating nothing
            # would still copy every key and value of the layer.
            return self._dispatch(query, key, value, None)
        live = key.shape[1]
        cached_key, cached_value = ctx.store.get(ctx.step, self.layer)
        if ctx.replay_observer is not None:
            ctx.replay_observer.replayed(ctx, self.layer, query, cached_key, cached_value)
        key = torch.cat([key, cached_key.transpose(1, 2).to(key.dtype)], dim=1)
        value = torch.cat([value, cached_value.transpose(1, 2).to(value.dtype)], dim=1)
        return self._dispatch(query, key, value, ctx.replay_bias(live))


@contextmanager
def kv_processors(layers: KVLayers, ctx: KVContext, role: str | Callable[[int], str]) -> Iterator[None]:
    """Install each layer's KV processor (other modules keep theirs); restore the old processors on
    exit, always. `role` may depend on the layer (an elastic refresh replays the shallow layers and
    records from a depth on)."""
    replaced = {name: layer.module.processor for name, layer in layers.items()}
    try:
        for name, layer in layers.items():
            layer_role = role(layer.index) if callable(role) else role
            layer.module.set_processor(layer.processor(layer.index, ctx, layer_role, replaced[name]))
        yield
    finally:
        for name, processor in replaced.items():
            layers[name].module.set_processor(processor)


def attention_modules(transformer, pattern: re.Pattern) -> dict[str, tuple[torch.nn.Module, re.Match]]:
    """The attention modules (those with a swappable processor) whose names match `pattern`."""
    found = {}
    for name, module in transformer.named_modules():
        if hasattr(module, "set_processor") and hasattr(module, "processor"):
            match = pattern.match(name)
            if match is not None:
                found[name] = (module, match)
    return found


def recording(layers: KVLayers, ctx: KVContext):
    return kv_processors(layers, ctx, RECORD)


def replaying(layers: KVLayers, ctx: KVContext):
    return kv_processors(layers, ctx, REPLAY)


def separation_mask(text_len: int, foreground: Tensor, image_first: bool = False) -> Tensor:
    """Bool [1, 1, L, L] for inversion with `attn_mask`: text attends to everything; foreground and
    background rows attend to text and to their own kind only. `foreground`: bool per image row;
    the text block comes before the image block, or after it with `image_first`."""
    fg = foreground.to(torch.bool)
    no_image = torch.zeros(text_len, dtype=torch.bool, device=fg.device)
    is_text = torch.ones(text_len, dtype=torch.bool, device=fg.device)
    image_false = torch.zeros_like(fg)
    parts = (lambda text, image: (image, text)) if image_first else (lambda text, image: (text, image))
    text = torch.cat(parts(is_text, image_false))
    is_fg = torch.cat(parts(no_image, fg))
    is_bg = ~text & ~is_fg
    same_kind = (is_fg[:, None] & is_fg[None, :]) | (is_bg[:, None] & is_bg[None, :])
    allowed = text[:, None] | text[None, :] | same_kind
    return allowed[None, None]


def background_key_bias(text_len: int, n_foreground: int, n_background: int, scale: float, dtype, device) -> Tensor | None:
    """Additive bias [1, 1, 1, keys] in the replay key order (live keys: text and foreground, then
    the cached background): `scale` on background keys, 0 elsewhere. None when it would change nothing."""
    if scale == 0 or n_background == 0:
        return None
    bias = torch.zeros(1, 1, 1, text_len + n_foreground + n_background, dtype=dtype, device=device)
    bias[..., text_len + n_foreground :] = scale
    return bias
