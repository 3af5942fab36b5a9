"""The tiny FLUX.2 [klein] pipeline: Flux2Transformer2DModel (double- and single-stream blocks),
AutoencoderKLFlux2 (with its batch-norm latent statistics), a Qwen3 causal LM as text encoder and
a Qwen2 tokenizer with a chat template; a few MB with random weights (see `models.tiny`).

Like klein it reads three hidden layers of the text encoder (9, 18, 27), so the tiny encoder has
28 thin layers; it is the non-distilled kind (true CFG above guidance 1), like klein Base."""

from __future__ import annotations

import torch

from models.tiny.parts import VAE_LAYOUT, qwen3_config
from models.tiny.text import build_qwen_tokenizer

TEXT_LENGTH = 32
TEXT_HIDDEN = 16
KLEIN_TEXT_LAYERS = (9, 18, 27)  # hidden states the klein pipelines stack


def build_components(seed: int = 0) -> dict:
    from diffusers import AutoencoderKLFlux2, FlowMatchEulerDiscreteScheduler, Flux2Transformer2DModel
    from transformers import Qwen3ForCausalLM

    tokenizer = build_qwen_tokenizer(TEXT_LENGTH)
    torch.manual_seed(seed)
    transformer = Flux2Transformer2DModel(
        patch_size=1,
        in_channels=16,  # 4 latent channels patchified 2×2
        num_layers=2,
        num_single_layers=2,
        attention_head_dim=16,
        num_attention_heads=2,
        joint_attention_dim=len(KLEIN_TEXT_LAYERS) * TEXT_HIDDEN,
        timestep_guidance_channels=32,
        axes_dims_rope=(4, 4, 4, 4),
        guidance_embeds=False,  # klein: no guidance input
    )
    torch.manual_seed(seed + 1)
    text_encoder = Qwen3ForCausalLM(qwen3_config(tokenizer, TEXT_HIDDEN, max(KLEIN_TEXT_LAYERS) + 1, TEXT_LENGTH))
    torch.manual_seed(seed + 2)
    vae = AutoencoderKLFlux2(**VAE_LAYOUT)  # 8× compression; the pipeline's 2×2 patchify makes it 16×
    with torch.no_grad():  # latent statistics as a trained VAE has them, so normalising matters
        vae.bn.running_mean.copy_(torch.randn_like(vae.bn.running_mean) * 0.2)
        vae.bn.running_var.copy_(torch.rand_like(vae.bn.running_var) + 0.5)
    scheduler = FlowMatchEulerDiscreteScheduler(
        base_image_seq_len=256,
        base_shift=0.5,
        max_image_seq_len=4096,
        max_shift=1.15,
        shift=3.0,
        use_dynamic_shifting=True,
        time_shift_type="exponential",
    )
    for module in (transformer, text_encoder, vae):
        module.eval()
    return {"scheduler": scheduler, "vae": vae, "text_encoder": text_encoder, "tokenizer": tokenizer,
            "transformer": transformer}
