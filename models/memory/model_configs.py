"""Architecture configs of the models we plan memory for, as data.

We cannot download `config.json` files, so the published configs are written here. They are
used only to build the models on the meta device (no weights) and count what they would need.
The numbers are those of the released checkpoints:

- FLUX.1 [dev] / [schnell]: 12B MM-DiT, 19 double-stream + 38 single-stream blocks, 24 heads x 128,
  T5-XXL encoder (4.7B) + CLIP-L text model, 16-channel VAE. schnell differs only in having no
  guidance embedding.
- Z-Image-Turbo: 6B single-stream DiT (30 layers + 2 noise and 2 context refiner layers, dim 3840,
  30 heads), Qwen3-4B as text encoder, the same 16-channel VAE as FLUX.1.
- FLUX.2 [klein] 4B and 4B Base (one architecture; Base is the non-distilled teacher): MM-DiT with
  5 double-stream + 20 single-stream blocks, 24 heads x 128, text input 7680 (three Qwen3-4B hidden
  layers of 2560), 128 input channels (32 latent channels patchified 2x2), no guidance embedding;
  Qwen3-4B causal LM as text encoder; the FLUX.2 VAE (32 channels, batch-norm latent statistics).
"""

from __future__ import annotations

from types import MappingProxyType

FLUX_TRANSFORMER = MappingProxyType(
    {
        "patch_size": 1,
        "in_channels": 64,  # 16 latent channels packed 2x2
        "num_layers": 19,
        "num_single_layers": 38,
        "attention_head_dim": 128,
        "num_attention_heads": 24,
        "joint_attention_dim": 4096,
        "pooled_projection_dim": 768,
        "guidance_embeds": True,
        "axes_dims_rope": (16, 56, 56),
    }
)

FLUX_VAE = MappingProxyType(
    {
        "in_channels": 3,
        "out_channels": 3,
        "down_block_types": ("DownEncoderBlock2D",) * 4,
        "up_block_types": ("UpDecoderBlock2D",) * 4,
        "block_out_channels": (128, 256, 512, 512),
        "layers_per_block": 2,
        "act_fn": "silu",
        "latent_channels": 16,
        "norm_num_groups": 32,
        "sample_size": 1024,
        "scaling_factor": 0.3611,
        "shift_factor": 0.1159,
        "use_quant_conv": False,
        "use_post_quant_conv": False,
    }
)

CLIP_L_TEXT = MappingProxyType(
    {
        "vocab_size": 49408,
        "hidden_size": 768,
        "intermediate_size": 3072,
        "projection_dim": 768,
        "num_hidden_layers": 12,
        "num_attention_heads": 12,
        "max_position_embeddings": 77,
        "hidden_act": "quick_gelu",
    }
)

T5_XXL_ENCODER = MappingProxyType(
    {
        "vocab_size": 32128,
        "d_model": 4096,
        "d_kv": 64,
        "d_ff": 10240,
        "num_layers": 24,
        "num_heads": 64,
        "feed_forward_proj": "gated-gelu",
        "relative_attention_num_buckets": 32,
        "relative_attention_max_distance": 128,
        "tie_word_embeddings": False,
    }
)

Z_IMAGE_TRANSFORMER = MappingProxyType(
    {
        "all_patch_size": (2,),
        "all_f_patch_size": (1,),
        "in_channels": 16,
        "dim": 3840,
        "n_layers": 30,
        "n_refiner_layers": 2,
        "n_heads": 30,
        "n_kv_heads": 30,
        "norm_eps": 1e-5,
        "qk_norm": True,
        "cap_feat_dim": 2560,
        "rope_theta": 256.0,
        "t_scale": 1000.0,
        "axes_dims": (32, 48, 48),
        "axes_lens": (1024, 512, 512),
    }
)

QWEN3_4B = MappingProxyType(
    {
        "vocab_size": 151936,
        "hidden_size": 2560,
        "intermediate_size": 9728,
        "num_hidden_layers": 36,
        "num_attention_heads": 32,
        "num_key_value_heads": 8,
        "head_dim": 128,
        "max_position_embeddings": 40960,
        "rms_norm_eps": 1e-6,
        "rope_theta": 1000000,
        "tie_word_embeddings": True,
    }
)

FLUX2_KLEIN_4B_TRANSFORMER = MappingProxyType(
    {
        "patch_size": 1,
        "in_channels": 128,
        "num_layers": 5,
        "num_single_layers": 20,
        "attention_head_dim": 128,
        "num_attention_heads": 24,
        "joint_attention_dim": 7680,
        "timestep_guidance_channels": 256,
        "mlp_ratio": 3.0,
        "axes_dims_rope": (32, 32, 32, 32),
        "rope_theta": 2000,
        "eps": 1e-6,
        "guidance_embeds": False,
    }
)

FLUX2_VAE = MappingProxyType(
    {
        "in_channels": 3,
        "out_channels": 3,
        "down_block_types": ("DownEncoderBlock2D",) * 4,
        "up_block_types": ("UpDecoderBlock2D",) * 4,
        "block_out_channels": (128, 256, 512, 512),
        "layers_per_block": 2,
        "act_fn": "silu",
        "latent_channels": 32,
        "norm_num_groups": 32,
        "sample_size": 1024,
        "use_quant_conv": True,
        "use_post_quant_conv": True,
        "mid_block_add_attention": True,
        "batch_norm_eps": 1e-4,
        "batch_norm_momentum": 0.1,
        "patch_size": (2, 2),
    }
)

FLUX2_KLEIN_4B = MappingProxyType(
    {
        "transformer": ("diffusers", "Flux2Transformer2DModel", None, FLUX2_KLEIN_4B_TRANSFORMER),
        "text_encoder": ("transformers", "Qwen3ForCausalLM", "Qwen3Config", QWEN3_4B),
        "vae": ("diffusers", "AutoencoderKLFlux2", None, FLUX2_VAE),
    }
)

# component name -> (library, model class, config class (transformers only), config); the names are those of the pipeline folders.
ARCHITECTURES = MappingProxyType(
    {
        "flux-dev": MappingProxyType(
            {
                "transformer": ("diffusers", "FluxTransformer2DModel", None, FLUX_TRANSFORMER),
                "text_encoder": ("transformers", "CLIPTextModel", "CLIPTextConfig", CLIP_L_TEXT),
                "text_encoder_2": ("transformers", "T5EncoderModel", "T5Config", T5_XXL_ENCODER),
                "vae": ("diffusers", "AutoencoderKL", None, FLUX_VAE),
            }
        ),
        "flux-schnell": MappingProxyType(
            {
                "transformer": ("diffusers", "FluxTransformer2DModel", None, {**FLUX_TRANSFORMER, "guidance_embeds": False}),
                "text_encoder": ("transformers", "CLIPTextModel", "CLIPTextConfig", CLIP_L_TEXT),
                "text_encoder_2": ("transformers", "T5EncoderModel", "T5Config", T5_XXL_ENCODER),
                "vae": ("diffusers", "AutoencoderKL", None, FLUX_VAE),
            }
        ),
        "z-image-turbo": MappingProxyType(
            {
                "transformer": ("diffusers", "ZImageTransformer2DModel", None, Z_IMAGE_TRANSFORMER),
                "text_encoder": ("transformers", "Qwen3Model", "Qwen3Config", QWEN3_4B),
                "vae": ("diffusers", "AutoencoderKL", None, FLUX_VAE),
            }
        ),
        "flux2-klein-4b": FLUX2_KLEIN_4B,
        "flux2-klein-base-4b": FLUX2_KLEIN_4B,
    }
)
