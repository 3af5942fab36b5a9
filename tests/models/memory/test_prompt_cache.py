"""Prompt embeddings cached per (model, prompt, max length); text encoders used only on a miss."""

from __future__ import annotations

import pytest
import torch

from models.memory.prompt_cache import PromptEmbeddingCache, encode_flux_prompt, text_encoders_on


def test_least_recently_used_prompt_is_evicted_first():
    cache = PromptEmbeddingCache(capacity=2)
    cache.put(("m", "a", 32), 1)
    cache.put(("m", "b", 32), 2)
    assert cache.get(("m", "a", 32)) == 1  # "a" is now the most recent
    cache.put(("m", "c", 32), 3)
    assert ("m", "b", 32) not in cache and ("m", "a", 32) in cache and len(cache) == 2


def test_get_or_encode_encodes_each_key_once():
    cache = PromptEmbeddingCache()
    calls = []
    for _ in range(3):
        assert cache.get_or_encode("flux-dev", "a cat", 512, lambda: calls.append(1) or "emb") == "emb"
    cache.get_or_encode("flux-schnell", "a cat", 256, lambda: calls.append(1) or "emb2")
    assert len(calls) == 2 and cache.hits == 2 and cache.misses == 2
    cache.clear()
    assert len(cache) == 0
    with pytest.raises(ValueError):
        PromptEmbeddingCache(capacity=0)


class _Calls:
    def __init__(self, *modules):
        self.count = 0
        self._handles = [m.register_forward_pre_hook(self._hit) for m in modules]

    def _hit(self, module, args):
        self.count += 1

    def close(self):
        for h in self._handles:
            h.remove()


def test_second_request_for_a_prompt_does_not_run_the_text_encoders(tiny_pipe):
    cache = PromptEmbeddingCache()
    calls = _Calls(tiny_pipe.text_encoder, tiny_pipe.text_encoder_2)
    try:
        first = encode_flux_prompt(tiny_pipe, "a white cup", 32, "cpu", cache=cache, model_name="tiny")
        after_first = calls.count
        second = encode_flux_prompt(tiny_pipe, "a white cup", 32, "cpu", cache=cache, model_name="tiny")
        assert after_first == 2 and calls.count == 2  # CLIP + T5 once, then never again
        encode_flux_prompt(tiny_pipe, "a white cup", 16, "cpu", cache=cache, model_name="tiny")
        assert calls.count == 4  # another T5 length is another entry
    finally:
        calls.close()
    with torch.no_grad():
        direct = tiny_pipe.encode_prompt(prompt="a white cup", prompt_2=None, device="cpu", max_sequence_length=32)
    for a, b, c in zip(first, second, direct):
        assert torch.equal(a, b) and torch.equal(a, c)


def test_cached_prompts_need_the_model_name(tiny_pipe):
    with pytest.raises(ValueError, match="model name"):
        encode_flux_prompt(tiny_pipe, "a cup", 32, "cpu", cache=PromptEmbeddingCache())


def test_text_encoders_go_back_where_they_were(tiny_pipe):
    before = [p.device for p in tiny_pipe.text_encoder_2.parameters()][:1]
    with text_encoders_on(tiny_pipe, "cpu"):
        pass
    assert [p.device for p in tiny_pipe.text_encoder_2.parameters()][:1] == before
