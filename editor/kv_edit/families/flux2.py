"""FLUX.2 [klein] (4B, 4B Base and fine-tunes) on diffusers' Flux2Transformer2DModel.

- Latents: 32 channels (4 in the tiny model), patchified 2×2 into 128 features, then normalised by
  the VAE's batch-norm statistics (running mean and variance) as Flux2KleinPipeline does.
- Position ids (time 0, row, column, layer 0) per token; text ids (0, 0, 0, position).
- Text: three hidden layers of a Qwen3 encoder (512 tokens, padded).
- Guidance: none for the step-distilled models; true CFG above 1 (empty negative prompt) for Base.
- Schedule: `compute_empirical_mu`, which depends on the image tokens and on the step count.
- Attention: `Flux2AttnProcessor` (double-stream blocks, the same computation as FLUX.1's) and
  `Flux2ParallelSelfAttnProcessor` (single-stream blocks: QKV and MLP fused); text rows first.
"""

from __future__ import annotations

import torch
from diffusers.models.embeddings import apply_rotary_emb
from diffusers.pipelines.flux2.pipeline_flux2_klein import compute_empirical_mu
from torch import Tensor

from editor.kv_edit.attention import KVLayer, KVProcessor
from editor.kv_edit.diffusers_private import (
    flux2_image_ids,
    flux2_pack_latents,
    flux2_patchify_latents,
    flux2_qkv_projections,
    flux2_unpatchify_latents,
)
from editor.kv_edit.families.base import Canvas, FamilyAdapter, Prompt
from editor.kv_edit.families.mmdit import MMDiTKVProcessor, double_then_single, mmdit_velocity
from models.vocabulary import CFG, NO_GUIDANCE, GuidanceKind


class Flux2KVProcessor(MMDiTKVProcessor):
    """Flux2AttnProcessor (double-stream blocks) with the KV-Edit attention in the middle."""

    projections = staticmethod(flux2_qkv_projections)


class Flux2SingleKVProcessor(KVProcessor):
    """Flux2ParallelSelfAttnProcessor (single-stream blocks), step for step: one projection makes
    q, k, v and the MLP input; the attention output and the MLP output share one projection out."""

    def __call__(self, attn, hidden_states, attention_mask=None, image_rotary_emb=None):
        projected = attn.to_qkv_mlp_proj(hidden_states)
        qkv_width = 3 * attn.inner_dim
        mlp_width = attn.mlp_hidden_dim * attn.mlp_mult_factor
        local_qkv = projected.shape[-1] * qkv_width // (qkv_width + mlp_width)
        qkv, mlp = torch.split(projected, [local_qkv, projected.shape[-1] - local_qkv], dim=-1)
        query, key, value = (t.unflatten(-1, (-1, attn.head_dim)) for t in qkv.chunk(3, dim=-1))
        query, key = attn.norm_q(query), attn.norm_k(key)
        if image_rotary_emb is not None:
            query = apply_rotary_emb(query, image_rotary_emb, sequence_dim=1)
            key = apply_rotary_emb(key, image_rotary_emb, sequence_dim=1)
        out = self.attend(query, key, value, attention_mask).flatten(2, 3).to(query.dtype)
        return attn.to_out(torch.cat([out, attn.mlp_act_fn(mlp)], dim=-1))


class Flux2Adapter(FamilyAdapter):
    family = "flux2"
    transformer_class = "Flux2Transformer2DModel"

    def pack(self, latent: Tensor) -> Tensor:
        return flux2_pack_latents(flux2_patchify_latents(latent))

    def unpack(self, packed: Tensor, canvas: Canvas) -> Tensor:
        return flux2_unpatchify_latents(self._patchified(packed, canvas))

    @staticmethod
    def _patchified(packed: Tensor, canvas: Canvas) -> Tensor:
        rows, columns = canvas.grid
        return packed.permute(0, 2, 1).reshape(packed.shape[0], packed.shape[2], rows, columns)

    def _statistics(self, device) -> tuple[Tensor, Tensor]:
        """The VAE's batch-norm mean and standard deviation per patchified channel, float32."""
        vae = self.pipe.vae
        mean = vae.bn.running_mean.to(device=device, dtype=torch.float32)
        std = torch.sqrt(vae.bn.running_var.to(device=device, dtype=torch.float32) + vae.config.batch_norm_eps)
        return mean, std

    def normalise(self, latent: Tensor) -> Tensor:
        mean, std = self._statistics(latent.device)
        return (self.pack(latent) - mean) / std

    def denormalise(self, packed: Tensor, canvas: Canvas) -> Tensor:
        mean, std = self._statistics(packed.device)
        return self.unpack(packed * std + mean, canvas)

    def image_ids(self, canvas: Canvas, device) -> Tensor:
        rows, columns = canvas.grid
        grid = torch.empty(1, 1, rows, columns)  # only its shape is read
        return flux2_image_ids(grid)[0].to(device)

    def default_text_length(self) -> int:
        return int(getattr(self.pipe, "tokenizer_max_length", 512))

    def make_prompt(self, text: str, encoded: tuple, dtype: torch.dtype) -> Prompt:
        embeds, text_ids = encoded
        return Prompt(text, embeds.to(dtype=dtype), None, text_ids)

    def shift(self, image_tokens: int, steps: int) -> float:
        return compute_empirical_mu(image_seq_len=image_tokens, num_steps=steps)

    def default_guidance_kind(self) -> GuidanceKind:
        return NO_GUIDANCE if getattr(self.pipe.config, "is_distilled", False) else CFG

    def predict(self, latents: Tensor, ids: Tensor, prompt: Prompt, sigma: float, guidance: float) -> Tensor:
        return mmdit_velocity(self, latents, ids, prompt, sigma, guidance)

    @classmethod
    def kv_layers(cls, transformer) -> dict[str, KVLayer]:
        return double_then_single(transformer, Flux2KVProcessor, Flux2SingleKVProcessor)
