"""The tiny FLUX model is built from a seed and loads back through the real loader."""

import numpy as np
import pytest
import torch

from models.loading import ModelLoadError, load_pipeline, load_pipeline_from_folder
from models.tiny import build_tiny_flux_components, build_tokenizers, save_tiny_flux


def _generate(pipe, prompt="a cup of coffee on a wooden table"):
    return pipe(
        prompt,
        num_inference_steps=2,
        height=64,
        width=64,
        max_sequence_length=32,
        output_type="np",
        generator=torch.Generator().manual_seed(0),
    ).images[0]


def test_same_seed_builds_identical_weights_and_tokenizers():
    a, b = build_tiny_flux_components(seed=3), build_tiny_flux_components(seed=3)
    for name in ("transformer", "vae", "text_encoder", "text_encoder_2"):
        sa, sb = a[name].state_dict(), b[name].state_dict()
        assert all(torch.equal(sa[k], sb[k]) for k in sa), name
    assert a["tokenizer"].get_vocab() == b["tokenizer"].get_vocab()
    assert a["tokenizer_2"].get_vocab() == b["tokenizer_2"].get_vocab()


def test_tiny_model_is_a_few_megabytes(tmp_path):
    folder = save_tiny_flux(tmp_path / "tiny")
    size = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
    assert 100_000 < size < 10_000_000


def test_tokenizers_follow_clip_and_t5_conventions():
    clip, t5 = build_tokenizers()
    ids = clip("A cup of coffee").input_ids
    assert ids[0] == clip.bos_token_id and ids[-1] == clip.eos_token_id
    assert clip("A CUP").input_ids == clip("a cup").input_ids  # CLIP lower-cases
    # Byte-level BPE: no character is unknown (CLIP uses the end token as its unknown token).
    assert clip.unk_token_id not in clip("zebra, 커피!").input_ids[1:-1]
    assert t5("커피 한 잔").input_ids[-1] == t5.eos_token_id


def test_vae_compresses_eight_times_like_flux(tiny_pipe):
    assert tiny_pipe.vae_scale_factor == 8


def test_save_and_load_round_trip_through_the_real_loader(tiny_pipe, tmp_path):
    folder = save_tiny_flux(tmp_path / "tiny", seed=0)
    loaded = load_pipeline_from_folder(folder, "FluxPipeline")
    for name in ("transformer", "vae", "text_encoder", "text_encoder_2"):
        original, restored = getattr(tiny_pipe, name).state_dict(), getattr(loaded, name).state_dict()
        assert original.keys() == restored.keys()
        assert all(torch.equal(original[k], restored[k]) for k in original), name
    text = "a latte in a bright cafe 카페"
    assert loaded.tokenizer(text).input_ids == tiny_pipe.tokenizer(text).input_ids
    assert loaded.tokenizer_2(text).input_ids == tiny_pipe.tokenizer_2(text).input_ids
    # Same weights, same computation; only float summation order may differ after reload.
    np.testing.assert_allclose(_generate(loaded), _generate(tiny_pipe), atol=1e-4)


def test_load_pipeline_by_name_builds_tiny_once_and_reads_it_from_disk():
    pipe = load_pipeline("tiny")
    assert type(pipe).__name__ == "FluxPipeline"
    assert pipe.transformer.config.num_layers == 2
    assert _generate(pipe).shape == (64, 64, 3)


def test_a_corrupt_model_folder_gives_a_clear_error(tmp_path):
    folder = save_tiny_flux(tmp_path / "tiny")
    (folder / "transformer" / "diffusion_pytorch_model.safetensors").write_bytes(b"not safetensors")
    with pytest.raises(ModelLoadError, match="incomplete or corrupt"):
        load_pipeline_from_folder(folder, "FluxPipeline")
