"""Parts the tiny backends share: the VAE layout and the Qwen3 text-encoder config."""

from __future__ import annotations

from types import MappingProxyType

# Four resolution levels give the real 8× spatial compression of every family's VAE, at a few
# thousand parameters; 4 latent channels.
VAE_LAYOUT = MappingProxyType({
    "in_channels": 3,
    "out_channels": 3,
    "down_block_types": ("DownEncoderBlock2D",) * 4,
    "up_block_types": ("UpDecoderBlock2D",) * 4,
    "block_out_channels": (8, 8, 16, 16),
    "layers_per_block": 1,
    "latent_channels": 4,
    "norm_num_groups": 4,
    "sample_size": 64,
})


def qwen3_config(tokenizer, hidden: int, layers: int, text_length: int):
    """A thin Qwen3 (the text encoder of FLUX.2 [klein] and Z-Image) for `tokenizer`."""
    from transformers import Qwen3Config

    return Qwen3Config(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        intermediate_size=24,
        num_hidden_layers=layers,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=8,
        max_position_embeddings=4 * text_length,
        tie_word_embeddings=True,
        pad_token_id=tokenizer.pad_token_id,
    )
