"""FLUX.1 ([dev], [schnell] and fine-tunes) on diffusers' FluxTransformer2DModel.

- Latents: 16 channels, `(z - shift) * scale`, packed 2×2 into 64 features per token.
- Position ids (0, row, column) per token; text ids are zeros.
- Text: T5 sequence (512 tokens for [dev], 256 for [schnell]) plus a pooled CLIP vector.
- Guidance: a model input for guidance-distilled checkpoints ([dev]), none for [schnell].
- Schedule: shifted by image size (`calculate_shift`), as FluxPipeline.
- Attention: every block's `FluxAttnProcessor`; text rows come first in the joint sequence.
"""

from __future__ import annotations

import re

import torch
from diffusers.models.embeddings import apply_rotary_emb
from diffusers.models.transformers.transformer_flux import _get_qkv_projections
from diffusers.pipelines.flux.pipeline_flux import FluxPipeline, calculate_shift
from torch import Tensor

from editor.kv_edit.attention import KVProcessor, attention_modules
from editor.kv_edit.families.base import BlockInputs, Canvas, FamilyAdapter, Prompt
from models.vocabulary import EMBEDDED, NO_GUIDANCE, GuidanceKind

# The T5 encoder FLUX uses was trained with at most 512 tokens; FluxPipeline refuses more.
T5_LIMIT = 512


class Flux1KVProcessor(KVProcessor):
    """FluxAttnProcessor, step for step, with the KV-Edit attention in the middle. Double-stream
    blocks give (image, text) streams and get both back; single-stream blocks give the joint sequence.
    (FLUX.2's double-stream processor is the same computation on its own projections.)"""

    projections = staticmethod(_get_qkv_projections)

    def __call__(self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None, image_rotary_emb=None):
        query, key, value = joint_qkv(attn, hidden_states, encoder_hidden_states, image_rotary_emb, self.projections)
        out = self.attend(query, key, value, attention_mask)
        return attention_output(attn, out, query.dtype, encoder_hidden_states)


def joint_qkv(attn, hidden_states: Tensor, encoder_hidden_states: Tensor | None, image_rotary_emb,
              projections=_get_qkv_projections):
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


def double_then_single(transformer, double: type, single: type) -> dict[str, tuple[int, type]]:
    """Layer numbers of an MM-DiT with double-stream blocks followed by single-stream blocks
    (FLUX.1 and FLUX.2): 'single_transformer_blocks.3.attn' -> n_double + 3."""
    n_double = len(transformer.transformer_blocks)
    layers = {}
    for name, match in attention_modules(transformer, _BLOCK_ATTENTION).items():
        index = int(match.group(2))
        if match.group(1) == "transformer_blocks":
            layers[name] = (index, double)
        else:
            layers[name] = (n_double + index, single)
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


def resolution_shift(config, image_tokens: int) -> float:
    """FluxPipeline's `mu`: linear in the image tokens between the scheduler's base and max shift
    (Z-Image's pipelines use the same)."""
    return calculate_shift(
        image_tokens,
        config.get("base_image_seq_len", 256),
        config.get("max_image_seq_len", 4096),
        config.get("base_shift", 0.5),
        config.get("max_shift", 1.15),
    )


def image_ids(canvas: Canvas, device) -> Tensor:
    # float32 on purpose: RoPE reads them as floats, and bf16 loses integers above 256.
    rows, columns = canvas.grid
    return FluxPipeline._prepare_latent_image_ids(1, rows, columns, device, torch.float32)


class Flux1Adapter(FamilyAdapter):
    family = "flux"
    transformer_class = "FluxTransformer2DModel"

    def pack(self, latent: Tensor) -> Tensor:
        _, channels, height, width = latent.shape
        return FluxPipeline._pack_latents(latent, 1, channels, height, width)

    def unpack(self, packed: Tensor, canvas: Canvas) -> Tensor:
        return FluxPipeline._unpack_latents(packed, canvas.height, canvas.width, self.pipe.vae_scale_factor)

    def image_ids(self, canvas: Canvas, device) -> Tensor:
        return image_ids(canvas, device)

    def default_text_length(self) -> int:
        tokenizer_limit = getattr(getattr(self.pipe, "tokenizer_2", None), "model_max_length", T5_LIMIT)
        return int(min(tokenizer_limit, T5_LIMIT))

    def make_prompt(self, text: str, encoded: tuple, dtype: torch.dtype) -> Prompt:
        embeds, pooled, text_ids = encoded
        return Prompt(text, embeds.to(dtype=dtype), pooled.to(dtype=dtype), text_ids)

    def shift(self, image_tokens: int, steps: int) -> float:
        return resolution_shift(self.pipe.scheduler.config, image_tokens)

    def default_guidance_kind(self) -> GuidanceKind:
        return EMBEDDED if self.pipe.transformer.config.guidance_embeds else NO_GUIDANCE

    def predict(self, latents: Tensor, ids: Tensor, prompt: Prompt, sigma: float, guidance: float) -> Tensor:
        return mmdit_velocity(self, latents, ids, prompt, sigma, guidance, pooled_projections=prompt.pooled)

    def block_inputs(self, prompt: Prompt) -> BlockInputs:
        # Every block, double or single stream, takes the image rows and the text rows as separate
        # keywords and one rotary table for text + image (diffusers 0.42), and holds one KV layer.
        transformer = self.pipe.transformer
        return BlockInputs(
            blocks=(*transformer.transformer_blocks, *transformer.single_transformer_blocks),
            image_kwarg="hidden_states",
            rotary_kwarg="image_rotary_emb",
            rotary=lambda ids: transformer.pos_embed(torch.cat((prompt.text_ids, ids), dim=0)),
        )

    @classmethod
    def kv_layers(cls, transformer) -> dict[str, tuple[int, type]]:
        return double_then_single(transformer, Flux1KVProcessor, Flux1KVProcessor)
