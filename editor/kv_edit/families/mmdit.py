"""What FLUX.1 and FLUX.2 share as FLUX-style MM-DiTs: the joint attention's query/key/value and
output projections, the layer numbering (double-stream blocks, then single-stream blocks) and the
model call. Each family module brings its own projections (`MMDiTKVProcessor.projections`)."""

from __future__ import annotations

import re

import torch
from diffusers.models.embeddings import apply_rotary_emb
from torch import Tensor

from editor.kv_edit.attention import KVLayer, KVProcessor, attention_modules
from editor.kv_edit.families.base import FamilyAdapter, Prompt


class MMDiTKVProcessor(KVProcessor):
    """A FLUX-style joint-attention processor, step for step, with the KV-Edit attention in the
    middle. Double-stream blocks give (image, text) streams and get both back; single-stream blocks
    give the joint sequence. Subclasses set `projections` (the family's q/k/v projection helper)."""

    projections = None  # staticmethod(attn, hidden_states, encoder_hidden_states) -> q, k, v, text q, k, v

    def __call__(self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None, image_rotary_emb=None):
        query, key, value = joint_qkv(attn, hidden_states, encoder_hidden_states, image_rotary_emb, self.projections)
        out = self.attend(query, key, value, attention_mask)
        return attention_output(attn, out, query.dtype, encoder_hidden_states)


def joint_qkv(attn, hidden_states: Tensor, encoder_hidden_states: Tensor | None, image_rotary_emb, projections):
    """Query, key, value for the joint sequence [B, L, heads, head_dim], after QK norm and RoPE,
    exactly as FluxAttnProcessor computes them."""
    query, key, value, encoder_query, encoder_key, encoder_value = projections(
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


def attention_output(attn, out: Tensor, query_dtype, encoder_hidden_states: Tensor | None):
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


_BLOCK_ATTENTION = re.compile(r"^(transformer_blocks|single_transformer_blocks)\.(\d+)\.attn$")


def double_then_single(transformer, double: type[KVProcessor], single: type[KVProcessor]) -> dict[str, KVLayer]:
    """The KV layers of an MM-DiT with double-stream blocks followed by single-stream blocks
    (FLUX.1 and FLUX.2): 'single_transformer_blocks.3.attn' is layer n_double + 3."""
    n_double = len(transformer.transformer_blocks)
    layers = {}
    for name, (module, match) in attention_modules(transformer, _BLOCK_ATTENTION).items():
        index = int(match.group(2))
        if match.group(1) == "transformer_blocks":
            layers[name] = KVLayer(module, index, double)
        else:
            layers[name] = KVLayer(module, n_double + index, single)
    return layers


def mmdit_velocity(adapter: FamilyAdapter, latents: Tensor, ids: Tensor, prompt: Prompt, sigma: float, guidance: float,
                   **extra) -> Tensor:
    """One pass of a FLUX-style MM-DiT (FLUX.1, FLUX.2): packed latents and position ids in, the
    flow velocity out (float32). The timestep is sigma; `extra` adds family inputs (FLUX.1's pooled text)."""
    transformer = adapter.pipe.transformer
    device, dtype = latents.device, transformer.dtype
    with torch.no_grad():
        out = transformer(
            hidden_states=latents.to(dtype),
            encoder_hidden_states=prompt.embeds,
            timestep=torch.full((1,), sigma, device=device, dtype=dtype),
            img_ids=ids,
            txt_ids=prompt.text_ids,
            guidance=adapter.embedded_guidance(guidance, device),
            return_dict=False,
            **extra,
        )[0]
    return out.float()
