"""FLUX.1 ([dev], [schnell] and fine-tunes) on diffusers' FluxTransformer2DModel.

- Latents: 16 channels, `(z - shift) * scale`, packed 2×2 into 64 features per token.
- Position ids (0, row, column) per token; text ids are zeros.
- Text: T5 sequence (512 tokens for [dev], 256 for [schnell]) plus a pooled CLIP vector.
- Guidance: a model input for guidance-distilled checkpoints ([dev]), none for [schnell].
- Schedule: shifted by image size (`calculate_shift`), as FluxPipeline.
- Attention: every block's `FluxAttnProcessor`; text rows come first in the joint sequence.
"""

from __future__ import annotations

import torch
from torch import Tensor

from editor.kv_edit.attention import KVLayer
from editor.kv_edit.diffusers_private import (
    flux_image_ids,
    flux_pack_latents,
    flux_qkv_projections,
    flux_unpack_latents,
)
from editor.kv_edit.families.base import BlockInputs, Canvas, FamilyAdapter, Prompt, resolution_shift
from editor.kv_edit.families.mmdit import MMDiTKVProcessor, double_then_single, mmdit_velocity
from models.vocabulary import EMBEDDED, NO_GUIDANCE, GuidanceKind

# The T5 encoder FLUX uses was trained with at most 512 tokens; FluxPipeline refuses more.
T5_LIMIT = 512


class Flux1KVProcessor(MMDiTKVProcessor):
    """FluxAttnProcessor (double- and single-stream blocks) with the KV-Edit attention in the middle."""

    projections = staticmethod(flux_qkv_projections)


def image_ids(canvas: Canvas, device) -> Tensor:
    # float32 on purpose: RoPE reads them as floats, and bf16 loses integers above 256.
    rows, columns = canvas.grid
    return flux_image_ids(1, rows, columns, device, torch.float32)


class Flux1Adapter(FamilyAdapter):
    family = "flux"
    transformer_class = "FluxTransformer2DModel"

    def pack(self, latent: Tensor) -> Tensor:
        _, channels, height, width = latent.shape
        return flux_pack_latents(latent, 1, channels, height, width)

    def unpack(self, packed: Tensor, canvas: Canvas) -> Tensor:
        return flux_unpack_latents(packed, canvas.height, canvas.width, self.pipe.vae_scale_factor)

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
    def kv_layers(cls, transformer) -> dict[str, KVLayer]:
        return double_then_single(transformer, Flux1KVProcessor, Flux1KVProcessor)
