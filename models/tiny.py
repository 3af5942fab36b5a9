"""A tiny FLUX-architecture pipeline built deterministically in code.

It has the real component classes (FluxTransformer2DModel, AutoencoderKL, CLIP and T5
encoders with their tokenizers) at a few MB, with *random weights*. It exists so that
every code path that loads and runs real FLUX can be exercised offline, on a CPU.
Nothing it draws means anything: the UI labels it "random weights, for testing".
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections import Counter
from pathlib import Path

import torch

from models.locate import models_dir

TINY_LABEL = "tiny (random weights, for testing)"

# Small prompt corpus the tokenizers are trained on: ad-domain English plus some Hangul so
# Korean pass-through has real pieces. Training on fixed text makes the vocabularies deterministic.
_CORPUS = [
    "a photo of a cup of coffee on a wooden table",
    "a latte with foam art in a bright cafe, soft morning light",
    "a bowl of noodles in a restaurant, warm light, steam",
    "a red dress on a mannequin in a clothing store",
    "a cosmetics bottle on marble, studio lighting, clean background",
    "a beauty salon interior, mirrors, plants, pastel colours",
    "a fitness studio with dumbbells and a yoga mat",
    "a cat sitting on a sofa", "a dog running on the grass", "a bouquet of flowers in a vase",
    "delicious cake with strawberries and cream", "minimal product photo, white background",
    "커피 한 잔과 케이크", "따뜻한 분위기의 카페", "신메뉴 출시", "할인 이벤트", "맛있는 라면",
    "the quick brown fox jumps over the lazy dog", "background, foreground, sunset, night, city",
]

TINY_TEXT_LENGTH = 32  # T5 sequence length the tiny model is meant for (real FLUX: 512 dev / 256 schnell)


def _corpus_words(pre_tokenizer, normalizer) -> Counter:
    words: Counter = Counter()
    for line in _CORPUS:
        for word, _ in pre_tokenizer.pre_tokenize_str(normalizer.normalize_str(line)):
            words[word] += 1
    return words


def _learn_bpe(num_merges: int = 400) -> tuple[dict[str, int], list[tuple[str, str]]]:
    """Byte-level BPE with CLIP's conventions (lower-case, `</w>` word ends).

    Learned here with explicit tie-breaking because the `tokenizers` trainers are not
    deterministic across processes, and the tiny model must be identical on every machine.
    """
    from tokenizers import Regex, normalizers, pre_tokenizers

    normalizer = normalizers.Sequence(
        [normalizers.NFC(), normalizers.Replace(Regex(r"\s+"), " "), normalizers.Lowercase()]
    )
    pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(r"[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+"), behavior="removed", invert=True),
            pre_tokenizers.ByteLevel(add_prefix_space=False),
        ]
    )
    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for symbol in alphabet + [ch + "</w>" for ch in alphabet]:
        vocab[symbol] = len(vocab)
    words = {tuple(w[:-1]) + (w[-1] + "</w>",): n for w, n in _corpus_words(pre_tokenizer, normalizer).items()}
    merges: list[tuple[str, str]] = []
    for _ in range(num_merges):
        pairs: Counter = Counter()
        for symbols, n in words.items():
            for pair in zip(symbols, symbols[1:]):
                pairs[pair] += n
        if not pairs:
            break
        best = min(pairs, key=lambda pair: (-pairs[pair], pair))
        merges.append(best)
        vocab.setdefault(best[0] + best[1], len(vocab))
        merged = {}
        for symbols, n in words.items():
            out, i = [], 0
            while i < len(symbols):
                if i + 1 < len(symbols) and (symbols[i], symbols[i + 1]) == best:
                    out.append(symbols[i] + symbols[i + 1])
                    i += 2
                else:
                    out.append(symbols[i])
                    i += 1
            merged[tuple(out)] = merged.get(tuple(out), 0) + n
        words = merged
    return vocab, merges


def _unigram_vocab() -> list[tuple[str, float]]:
    """A sentencepiece-style unigram vocabulary: every character and every corpus word, scored
    by log frequency (sorted, so it is the same everywhere)."""
    import math

    from tokenizers import normalizers, pre_tokenizers

    words = _corpus_words(pre_tokenizers.Metaspace(), normalizers.NFKC())
    chars: Counter = Counter()
    for word, n in words.items():
        for ch in word:
            chars[ch] += n
    total = sum(words.values()) + sum(chars.values())
    pieces = [(w, math.log(n / total)) for w, n in sorted(words.items())]
    # Characters score lower than words so whole words win, but every character is reachable.
    pieces += [(c, math.log(n / total) - 10.0) for c, n in sorted(chars.items()) if c not in words]
    return [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)] + pieces


def build_tokenizers():
    from transformers import CLIPTokenizer, T5TokenizerFast

    vocab, merges = _learn_bpe()
    clip = CLIPTokenizer(vocab=vocab, merges=merges, model_max_length=77)
    t5 = T5TokenizerFast(vocab=_unigram_vocab(), extra_ids=0, model_max_length=TINY_TEXT_LENGTH)
    return clip, t5


def build_tiny_flux_components(seed: int = 0) -> dict:
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
    # Four resolution levels give the real 8× spatial compression of the FLUX VAE.
    vae = AutoencoderKL(
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        block_out_channels=(8, 8, 16, 16),
        layers_per_block=1,
        latent_channels=4,
        norm_num_groups=4,
        sample_size=64,
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

    return FluxPipeline(**build_tiny_flux_components(seed))


def save_tiny_flux(folder: str | Path, seed: int = 0) -> Path:
    """Build the tiny pipeline and write it as an ordinary diffusers folder."""
    folder = Path(folder)
    build_tiny_flux_pipeline(seed).save_pretrained(folder)
    return folder


def ensure_tiny(seed: int = 0) -> Path:
    """Write the tiny FLUX folder once (atomically), so it is loaded like any downloaded model."""
    target = models_dir() / "tiny"
    if (target / "model_index.json").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".tiny-", dir=target.parent))
    try:
        save_tiny_flux(staging, seed=seed)
        try:
            os.replace(staging, target)
        except OSError:  # another process finished first; theirs is identical
            if not (target / "model_index.json").is_file():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target
