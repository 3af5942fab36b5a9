"""LoRA styles: real tiny LoRAs saved with save_lora_weights, switched and unloaded on one base."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest
import torch

from editor.errors import InputError
from models.lora import LoraStyles, Style, get_style, load_styles, read_lora_file
from models.manager import ModelManager


def make_lora(folder, name, transformer_config, seed, base_model="tiny", rank=4, targets=None, **meta):
    """Write <name>.safetensors (diffusers FLUX LoRA format) and <name>.json next to it."""
    from diffusers import FluxPipeline, FluxTransformer2DModel
    from peft import LoraConfig
    from peft.utils import get_peft_model_state_dict

    model = FluxTransformer2DModel.from_config(transformer_config)
    model.add_adapter(LoraConfig(r=rank, lora_alpha=rank, target_modules=targets or ["to_q", "to_k", "to_v", "to_out.0"]))
    generator = torch.Generator().manual_seed(seed)
    for param_name, param in model.named_parameters():
        if "lora_" in param_name:  # peft starts B at zero (a no-op LoRA); make it do something
            param.data = torch.randn(param.shape, generator=generator) * 0.3
    FluxPipeline.save_lora_weights(folder, transformer_lora_layers=get_peft_model_state_dict(model),
                                   weight_name=f"{name}.safetensors")
    metadata = {"display_name": name.title(), "trigger_words": [f"{name} style"], "default_weight": 1.0,
                "base_model": base_model, **meta}
    (folder / f"{name}.json").write_text(json.dumps(metadata), encoding="utf-8")
    return folder / f"{name}.safetensors"


@pytest.fixture(scope="module")
def pipe():
    """A private tiny pipeline: LoRA and hotswap state must not leak into the shared fixture."""
    from models.loading import load_pipeline

    pipe = load_pipeline("tiny")
    pipe.set_progress_bar_config(disable=True)
    return pipe


@pytest.fixture(scope="module")
def style_dir(tmp_path_factory, pipe):
    folder = tmp_path_factory.mktemp("styles")
    make_lora(folder, "film", pipe.transformer.config, seed=1)
    make_lora(folder, "neon", pipe.transformer.config, seed=2, rank=8)
    make_lora(folder, "qk", pipe.transformer.config, seed=3, targets=["to_q", "to_k"])
    return folder


@pytest.fixture
def styles(pipe, style_dir):
    lora = LoraStyles(pipe, "tiny")
    yield lora, load_styles([style_dir])
    lora.unload()


def render(pipe, prompt="a cup of coffee on a table"):
    out = pipe(prompt, height=32, width=32, num_inference_steps=2, guidance_scale=3.5, max_sequence_length=32,
               generator=torch.Generator().manual_seed(0), output_type="np")
    return out.images[0]


def test_switching_styles_changes_the_output_and_unloading_restores_the_base_exactly(pipe, styles):
    lora, found = styles
    base = render(pipe)
    lora.apply(found["film"])
    film = render(pipe)
    lora.apply(found["neon"], weight=0.7)
    neon = render(pipe)
    assert lora.active == ("neon", 0.7) and lora.loaded == ["film", "neon"]
    assert np.abs(film - base).max() > 1e-3 and np.abs(neon - film).max() > 1e-3
    lora.apply(found["film"])  # already loaded: switched by set_adapters, no reload
    assert np.array_equal(render(pipe), film)
    lora.unload()
    assert lora.active is None and lora.loaded == []
    assert np.array_equal(render(pipe), base)


def test_weight_zero_gives_the_base_output(pipe, styles):
    lora, found = styles
    base = render(pipe)
    lora.apply(found["film"], weight=0.0)
    np.testing.assert_allclose(render(pipe), base, atol=1e-6)


def test_style_on_the_shared_transformer_applies_to_every_task(pipe, styles):
    lora, found = styles
    manager = ModelManager.from_pipeline("tiny", pipe)
    img2img = manager.pipeline("tiny", "img2img")
    lora.apply(found["film"])
    assert "film" in img2img.transformer.peft_config  # the same module, so the same adapters


def test_hotswap_mode_swaps_weights_in_one_slot_and_matches_a_normal_load(pipe, style_dir):
    found = load_styles([style_dir])
    normal = LoraStyles(pipe, "tiny")
    expected = {}
    for name in ("film", "neon"):
        normal.apply(found[name])
        expected[name] = render(pipe)
        normal.unload()
    base = render(pipe)

    hot = LoraStyles(pipe, "tiny", hotswap=True, max_rank=8)
    try:
        hot.apply(found["film"])
        np.testing.assert_allclose(render(pipe), expected["film"], atol=1e-5)
        hot.apply(found["neon"])  # rank 8 into the slot prepared for rank 8: in place
        assert hot.loaded == ["neon"] and list(pipe.transformer.peft_config) == [LoraStyles.SLOT]
        np.testing.assert_allclose(render(pipe), expected["neon"], atol=1e-5)
        hot.apply(found["qk"])  # different target layers: the slot is rebuilt, still one adapter
        assert hot.loaded == ["qk"]
    finally:
        hot.unload()
    assert np.array_equal(render(pipe), base)


def test_a_style_for_another_base_model_is_refused_with_a_clear_message(pipe, tmp_path):
    make_lora(tmp_path, "dev-only", pipe.transformer.config, seed=4, base_model="flux-dev")
    make_lora(tmp_path, "any-flux", pipe.transformer.config, seed=5, base_model="flux")
    found = load_styles([tmp_path])
    lora = LoraStyles(pipe, "tiny")
    with pytest.raises(InputError, match="made for flux-dev, not tiny"):
        lora.apply(found["dev-only"])
    with pytest.raises(InputError, match="made for flux, not tiny"):
        lora.apply(found["any-flux"])
    assert lora.active is None and not getattr(pipe.transformer, "peft_config", {})


def test_a_lora_whose_shapes_do_not_fit_is_refused_and_leaves_no_adapter_behind(pipe, tmp_path):
    bigger = dict(pipe.transformer.config, attention_head_dim=32, axes_dims_rope=(8, 12, 12))
    make_lora(tmp_path, "big", bigger, seed=6)
    lora = LoraStyles(pipe, "tiny")
    base = render(pipe)
    with pytest.raises(InputError, match="does not fit tiny"):
        lora.apply(load_styles([tmp_path])["big"])
    assert not getattr(pipe.transformer, "peft_config", {})
    assert np.array_equal(render(pipe), base)


def test_a_pickle_disguised_as_safetensors_is_refused_without_being_unpickled(tmp_path):
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    (tmp_path / "evil.safetensors").write_bytes(pickle.dumps({"lora_A": Payload()}))
    with pytest.raises(InputError, match="not a readable safetensors file"):
        read_lora_file(tmp_path / "evil.safetensors")
    assert not marker.exists()
    (tmp_path / "model.bin").write_bytes(b"x")
    with pytest.raises(InputError, match="must be .safetensors"):
        read_lora_file(tmp_path / "model.bin")


def test_a_safetensors_file_without_lora_tensors_is_refused(tmp_path):
    from safetensors.torch import save_file

    save_file({"transformer.x.weight": torch.zeros(2, 2)}, str(tmp_path / "plain.safetensors"))
    with pytest.raises(InputError, match="holds no LoRA weights"):
        read_lora_file(tmp_path / "plain.safetensors")


@pytest.mark.parametrize(
    "metadata, message",
    [
        ({"display_name": "X", "trigger_words": [], "default_weight": 1.0}, "missing base_model"),
        ({"display_name": "X", "trigger_words": [], "default_weight": 9, "base_model": "tiny"}, "default_weight"),
        ({"display_name": "X", "trigger_words": [], "default_weight": 1, "base_model": "sdxl"}, "base_model 'sdxl'"),
        ({"display_name": "X", "trigger_words": 3, "default_weight": 1, "base_model": "tiny"}, "trigger_words"),
        ({"display_name": "X", "trigger_words": [], "default_weight": 1, "base_model": "tiny",
          "file": "../../etc/x.safetensors"}, "plain .safetensors file name"),
    ],
)
def test_bad_style_metadata_is_skipped_and_reported_naming_the_file(tmp_path, monkeypatch, metadata, message):
    from models.lora import scan_styles

    (tmp_path / "bad.json").write_text(json.dumps(metadata), encoding="utf-8")
    styles, [problem] = scan_styles([tmp_path])
    assert "bad" not in styles
    assert problem.kind == "style" and problem.file == "bad.json" and message in problem.message
    assert str(tmp_path) not in problem.message  # the folder is the server's business
    monkeypatch.setenv("INTACT_STYLES_DIR", str(tmp_path))  # as the app finds it
    assert "realism" in load_styles()  # the other styles stay usable
    with pytest.raises(InputError, match="Style 'bad' cannot be used: bad.json: ") as caught:
        get_style("bad")
    assert caught.value.key == "style_broken"


def test_shipped_styles_are_listed_and_explain_how_to_install_their_weights(pipe, monkeypatch, tmp_path):
    monkeypatch.setenv("INTACT_STYLES_DIR", str(tmp_path / "user-styles"))
    realism = get_style("realism")
    assert realism.base_model == "flux-dev" and not realism.available
    lora = LoraStyles(pipe, "flux-dev")  # pretend the tiny pipe is dev, to get past the base check
    with pytest.raises(InputError, match="is not installed on this machine") as caught:
        lora.apply(realism)
    assert "user-styles" not in str(caught.value)  # the message may reach a browser; the folder may not
    assert "user-styles" in caught.value.operator_hint and "XLabs-AI" in caught.value.operator_hint


def test_user_styles_folder_comes_from_the_env(pipe, monkeypatch, tmp_path):
    make_lora(tmp_path, "mine", pipe.transformer.config, seed=7)
    monkeypatch.setenv("INTACT_STYLES_DIR", str(tmp_path))
    styles = load_styles()
    assert styles["mine"].available and "realism" in styles


def test_trigger_words_are_added_once():
    style = Style("film", "Film", ("film photo", "grain"), 1.0, "tiny", None, None)
    assert style.with_trigger("a latte") == "film photo, grain, a latte"
    assert style.with_trigger("a Film Photo of a latte, grain") == "a Film Photo of a latte, grain"
