"""Every family's tiny backend: built from a seed, saved with save_pretrained, loaded back by the
same loader as real weights, a few MB, real tokenizers made in code."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from models.loading import load_pipeline, load_pipeline_from_folder
from models.registry import get_spec
from models.tiny import BUILDERS, build_qwen_tokenizer, ensure_tiny, save_tiny, tiny_components

NEW_FAMILIES = ("tiny-flux2", "tiny-zimage")


def _generate(pipe, name: str):
    return pipe(prompt="a cup of coffee on a wooden table", num_inference_steps=2, height=64, width=48,
                guidance_scale=get_spec(name).default_guidance, max_sequence_length=32, output_type="np",
                generator=torch.Generator().manual_seed(0)).images[0]


def test_every_tiny_model_is_registered_as_random_weights_of_its_family():
    for name in BUILDERS:
        spec = get_spec(name)
        assert spec.random_weights and spec.repo_id is None and "random weights" in spec.label
        assert type(tiny_components(name)["transformer"]).__name__.startswith(
            {"flux": "FluxTransformer", "flux2": "Flux2Transformer", "z-image": "ZImageTransformer"}[spec.family])


@pytest.mark.parametrize("name", NEW_FAMILIES)
def test_same_seed_builds_identical_weights_and_tokenizers(name):
    a, b, other = tiny_components(name, seed=3), tiny_components(name, seed=3), tiny_components(name, seed=4)
    for part in ("transformer", "vae", "text_encoder"):
        sa, sb = a[part].state_dict(), b[part].state_dict()
        assert all(torch.equal(sa[k], sb[k]) for k in sa), part
    assert a["tokenizer"].get_vocab() == b["tokenizer"].get_vocab()
    weights = other["transformer"].state_dict()
    assert any(not torch.equal(weights[k], a["transformer"].state_dict()[k]) for k in weights)


@pytest.mark.parametrize("name", NEW_FAMILIES)
def test_save_and_load_round_trip_through_the_real_loader(name, tiny_pipes, tmp_path):
    folder = save_tiny(name, tmp_path / name)
    size = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
    assert 100_000 < size < 10_000_000
    loaded = load_pipeline_from_folder(folder, get_spec(name).pipeline_class)
    original = tiny_pipes[name]
    for part in ("transformer", "vae", "text_encoder"):
        a, b = getattr(original, part).state_dict(), getattr(loaded, part).state_dict()
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), part
    text = "a latte in a bright cafe 카페"
    assert loaded.tokenizer(text).input_ids == original.tokenizer(text).input_ids
    assert loaded.tokenizer.chat_template == original.tokenizer.chat_template
    np.testing.assert_allclose(_generate(loaded, name), _generate(original, name), atol=1e-4)


@pytest.mark.parametrize("name", NEW_FAMILIES)
def test_load_by_name_builds_the_folder_once_and_reads_it_from_disk(name):
    folder = ensure_tiny(name)
    stamp = (folder / "model_index.json").stat().st_mtime_ns
    pipe = load_pipeline(name)
    assert type(pipe).__name__ == get_spec(name).pipeline_class
    assert ensure_tiny(name) == folder and (folder / "model_index.json").stat().st_mtime_ns == stamp
    assert _generate(pipe, name).shape == (64, 48, 3)


def test_the_qwen_tokenizer_speaks_the_chat_layout_and_every_byte():
    tokenizer = build_qwen_tokenizer(32)
    chat = tokenizer.apply_chat_template([{"role": "user", "content": "커피 한 잔"}], tokenize=False,
                                         add_generation_prompt=True, enable_thinking=False)
    assert chat == "<|im_start|>user\n커피 한 잔<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n"
    ids = tokenizer(chat).input_ids
    assert ids[0] == tokenizer.convert_tokens_to_ids("<|im_start|>")
    assert tokenizer.decode(tokenizer("zebra, ☕ 12%").input_ids) == "zebra, ☕ 12%"  # byte-level: nothing unknown
    assert build_qwen_tokenizer(32).get_vocab() == tokenizer.get_vocab()
