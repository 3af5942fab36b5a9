"""The tiny FLUX.1 pipeline: FluxTransformer2DModel, AutoencoderKL, CLIP and T5 encoders with
their tokenizers, a few MB with random weights, built from a seed (see `models.tiny`)."""

from __future__ import annotations

from pathlib import Path

import torch

from models.tiny.parts import VAE_LAYOUT
from models.tiny.text import build_tokenizers


def build_components(seed: int = 0) -> dict:
    """Every FluxPipeline component, tiny and seeded. Same seed → identical weights."""
    from diffusers import AutoencoderKL, FlowMatchEulerDiscreteScheduler, FluxTransformer2DModel
    from transformers import CLIPTextConfig, CLIPTextModel, T5Config, T5EncoderModel

    clip_tok, t5_tok = build_tokenizers()

    torch.manual_seed(seed)
    transformer = FluxTransformer2DModel(
        patch_size=1,
        in_channels=16,  # 4 latent channels packed 2×2
        num_layers=2,
        num_single_layers=2,
        attention_head_dim=16,
        num_attention_heads=2,
        joint_attention_dim=32,
        pooled_projection_dim=32,
        guidance_embeds=True,  # like FLUX.1-dev: guidance is an input, not CFG
        axes_dims_rope=(4, 6, 6),
    )
    torch.manual_seed(seed + 1)
    text_encoder = CLIPTextModel(
        CLIPTextConfig(
            bos_token_id=clip_tok.bos_token_id,
            eos_token_id=clip_tok.eos_token_id,
            pad_token_id=clip_tok.pad_token_id,
            hidden_size=32,
            intermediate_size=37,
            projection_dim=32,
            num_attention_heads=4,
            num_hidden_layers=2,
            layer_norm_eps=1e-5,
            max_position_embeddings=77,
            vocab_size=len(clip_tok),
            hidden_act="gelu",
        )
    )
    torch.manual_seed(seed + 2)
    text_encoder_2 = T5EncoderModel(
        T5Config(
            vocab_size=len(t5_tok),
            d_model=32,
            d_kv=8,
            d_ff=37,
            num_layers=2,
            num_heads=4,
            relative_attention_num_buckets=8,
            pad_token_id=t5_tok.pad_token_id,
            eos_token_id=t5_tok.eos_token_id,
            decoder_start_token_id=t5_tok.pad_token_id,
        )
    )
    torch.manual_seed(seed + 3)
    vae = AutoencoderKL(
        **VAE_LAYOUT,
        use_quant_conv=False,
        use_post_quant_conv=False,
        shift_factor=0.0609,
        scaling_factor=1.5035,
    )
    scheduler = FlowMatchEulerDiscreteScheduler(
        base_image_seq_len=256,
        base_shift=0.5,
        max_image_seq_len=4096,
        max_shift=1.15,
        use_dynamic_shifting=True,
    )
    for module in (transformer, text_encoder, text_encoder_2, vae):
        module.eval()
    return {
        "scheduler": scheduler,
        "vae": vae,
        "text_encoder": text_encoder,
        "tokenizer": clip_tok,
        "text_encoder_2": text_encoder_2,
        "tokenizer_2": t5_tok,
        "transformer": transformer,
        "image_encoder": None,
        "feature_extractor": None,
    }


def build_tiny_flux_pipeline(seed: int = 0):
    from diffusers import FluxPipeline

    return FluxPipeline(**build_components(seed))


def save_tiny_flux(folder: str | Path, seed: int = 0) -> Path:
    """Build the tiny pipeline and write it as an ordinary diffusers folder."""
    folder = Path(folder)
    build_tiny_flux_pipeline(seed).save_pretrained(folder)
    return folder
