"""Tokenizers for the tiny models, trained deterministically in code on a fixed corpus.

Each is the real tokenizer class of its family (CLIP and T5 for FLUX.1, Qwen2 byte-level BPE with a
chat template for the Qwen3 text encoders of FLUX.2 [klein] and Z-Image), with a vocabulary of a
few hundred pieces learned here, so nothing is downloaded and every machine builds the same one.
"""

from __future__ import annotations

import math
from collections import Counter

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


def _corpus_words(pre_tokenizer, normalizer) -> Counter:
    words: Counter = Counter()
    for line in _CORPUS:
        for word, _ in pre_tokenizer.pre_tokenize_str(normalizer.normalize_str(line)):
            words[word] += 1
    return words


def learn_bpe(pre_tokenizer, normalizer, specials: tuple[str, ...], end_of_word: str = "",
              num_merges: int = 400) -> tuple[dict[str, int], list[tuple[str, str]]]:
    """Byte-level BPE over the corpus as `pre_tokenizer` splits it: the special tokens first, then
    the byte alphabet (and its word-final forms when `end_of_word` is set, CLIP's `</w>`), then the
    merges in order.

    Learned here with explicit tie-breaking because the `tokenizers` trainers are not
    deterministic across processes, and the tiny models must be identical on every machine.
    """
    from tokenizers import pre_tokenizers

    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    vocab = {token: i for i, token in enumerate(specials)}
    for symbol in alphabet + ([ch + end_of_word for ch in alphabet] if end_of_word else []):
        vocab.setdefault(symbol, len(vocab))
    words = {tuple(w[:-1]) + (w[-1] + end_of_word,): n for w, n in _corpus_words(pre_tokenizer, normalizer).items()}
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


def _clip_vocab() -> tuple[dict[str, int], list[tuple[str, str]]]:
    """CLIP's conventions: lower-case, letters / single digits / punctuation runs, `</w>` word ends."""
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
    return learn_bpe(pre_tokenizer, normalizer, ("<|startoftext|>", "<|endoftext|>"), end_of_word="</w>")


def _unigram_vocab() -> list[tuple[str, float]]:
    """A sentencepiece-style unigram vocabulary: every character and every corpus word, scored
    by log frequency (sorted, so it is the same everywhere)."""
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


def build_tokenizers(text_length: int = 32):
    """(CLIP, T5) tokenizers of the tiny FLUX.1 model; T5 reads `text_length` tokens."""
    from transformers import CLIPTokenizer, T5TokenizerFast

    vocab, merges = _clip_vocab()
    clip = CLIPTokenizer(vocab=vocab, merges=merges, model_max_length=77)
    t5 = T5TokenizerFast(vocab=_unigram_vocab(), extra_ids=0, model_max_length=text_length)
    return clip, t5


QWEN_SPECIALS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>", "<think>", "</think>")

# Qwen3's chat layout: one block per message, then the assistant's turn; with thinking switched
# off an empty think block follows (FLUX.2 [klein] encodes that way, Z-Image with thinking on).
QWEN_CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}"
    "{% if enable_thinking is defined and enable_thinking is false %}{{ '<think>\\n\\n</think>\\n\\n' }}{% endif %}"
    "{% endif %}"
)


def build_qwen_tokenizer(text_length: int = 32):
    """A Qwen2 byte-level BPE tokenizer (the class Qwen3 encoders use) with a chat template."""
    from transformers import Qwen2TokenizerFast

    probe = Qwen2TokenizerFast()  # empty vocabulary: only its normalizer and pre-tokenizer are read
    backend = probe.backend_tokenizer
    vocab, merges = learn_bpe(backend.pre_tokenizer, backend.normalizer, QWEN_SPECIALS)
    tokenizer = Qwen2TokenizerFast(vocab=vocab, merges=merges, model_max_length=text_length,
                                   additional_special_tokens=list(QWEN_SPECIALS[1:]))
    tokenizer.chat_template = QWEN_CHAT_TEMPLATE
    return tokenizer
