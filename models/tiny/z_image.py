"""The tiny Z-Image pipeline: ZImageTransformer2DModel (noise refiner, context refiner, main
layers), the FLUX.1-style AutoencoderKL Z-Image uses, a Qwen3 model as text encoder and a Qwen2
tokenizer with a chat template; a few MB with random weights (see `models.tiny`)."""

from __future__ import annotations

import torch

from models.tiny.parts import VAE_LAYOUT, qwen3_config
from models.tiny.text import build_qwen_tokenizer

TEXT_LENGTH = 32
TEXT_HIDDEN = 16


def build_components(seed: int = 0) -> dict:
    from diffusers import AutoencoderKL, FlowMatchEulerDiscreteScheduler, ZImageTransformer2DModel
    from transformers import Qwen3Model

    tokenizer = build_qwen_tokenizer(TEXT_LENGTH)
    torch.manual_seed(seed)
    transformer = ZImageTransformer2DModel(
        all_patch_size=(2,),
        all_f_patch_size=(1,),
        in_channels=4,
        dim=32,
        n_layers=2,
        n_refiner_layers=1,
        n_heads=2,
        n_kv_heads=2,
        qk_norm=True,
        cap_feat_dim=TEXT_HIDDEN,
        axes_dims=(8, 4, 4),
        axes_lens=(128, 64, 64),  # caption + image frame positions, rows and columns of tokens
    )
    with torch.no_grad():  # the padding embeddings are left uninitialised by the constructor
        transformer.x_pad_token.normal_(0.0, 1.0)
        transformer.cap_pad_token.normal_(0.0, 1.0)
    torch.manual_seed(seed + 1)
    text_encoder = Qwen3Model(qwen3_config(tokenizer, TEXT_HIDDEN, 2, TEXT_LENGTH))
    torch.manual_seed(seed + 2)
    vae = AutoencoderKL(
        **VAE_LAYOUT,
        use_quant_conv=False,
        use_post_quant_conv=False,
        shift_factor=0.1159,
        scaling_factor=0.3611,
    )
    # Z-Image-Turbo's scheduler: a fixed shift of 3, no resolution-dependent shifting.
    scheduler = FlowMatchEulerDiscreteScheduler(shift=3.0, use_dynamic_shifting=False)
    for module in (transformer, text_encoder, vae):
        module.eval()
    return {"scheduler": scheduler, "vae": vae, "text_encoder": text_encoder, "tokenizer": tokenizer,
            "transformer": transformer}
