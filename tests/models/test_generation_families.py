"""Generation (text-to-image, image-to-image, inpaint) on every family's tiny backend through its
diffusers pipelines and the Studio, sharing the modules of the KV-Edit pipeline; LoRA styles stay
in their family."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from editor.errors import InputError
from editor.generate import GenerateRequest
from editor.studio import Studio, StudioConfig
from editor.studio.memory import MemoryPolicy
from models.manager import PIPELINE_CLASSES, ModelManager
from models.memory.planner import GB, MemoryBudget
from models.registry import get_spec
from models.vocabulary import KV_EDIT, TASKS

SHARED = ("transformer", "vae", "text_encoder", "text_encoder_2", "tokenizer", "tokenizer_2", "scheduler")


def _request(name: str, **kw) -> GenerateRequest:
    return GenerateRequest(**{"prompt": "a cup of coffee", "model": name, "seed": 7, "steps": 2,
                              "width": 32, "height": 48, **kw})


def _studio(name: str, pipe, folder) -> Studio:
    """A Studio on `pipe` (one family's tiny model), saving under `folder`, planning for a fixed CPU
    budget so plans do not depend on this machine."""
    studio = Studio(StudioConfig(output_dir=folder / "outputs"), manager=ModelManager.from_pipeline(name, pipe))
    studio.memory = MemoryPolicy(budget=MemoryBudget(0, 16 * GB, "test: no GPU, 16 GB RAM"))
    return studio


def _picture() -> Image.Image:
    rng = np.random.default_rng(0)
    return Image.fromarray(rng.integers(0, 256, (48, 32, 3), dtype=np.uint8))


def test_every_task_runs_on_the_familys_pipelines_and_shares_the_edit_pipelines_modules(family_pipe, tmp_path):
    name, pipe = family_pipe
    studio = _studio(name, pipe, tmp_path)
    manager = studio.manager
    mask = np.zeros((48, 32), np.float32)
    mask[8:40, 8:24] = 1.0
    requests = {"text2img": _request(name), "img2img": _request(name, image=_picture()),
                "inpaint": _request(name, image=_picture(), mask=mask, strength=1.0)}
    for task, request in requests.items():
        assert request.task == task
        result = studio.generate(request)
        image = result.images[0]
        assert image.size == (32, 48) and np.asarray(image).std() > 0
        assert result.report["task"] == task
        assert result.report["pipeline"] == PIPELINE_CLASSES[get_spec(name).family][task]  # klein: img2img = inpaint
        assert result.report["commercial_use"] and result.report["model"] == name
    edit = manager.pipeline(name, KV_EDIT)
    assert edit is pipe
    for task in TASKS:
        task_pipe = manager.pipeline(name, task)
        for component in SHARED:
            assert getattr(task_pipe, component, None) is getattr(edit, component, None), (task, component)


def test_same_seed_same_picture_and_cfg_reads_the_negative_prompt(tiny_pipes, tmp_path):
    for name, guidance in (("tiny-flux2", 4.0), ("tiny-zimage", 2.0)):
        studio = _studio(name, tiny_pipes[name], tmp_path)
        first = np.asarray(studio.generate(_request(name, guidance=guidance)).images[0])
        again = np.asarray(studio.generate(_request(name, guidance=guidance)).images[0])
        negative = studio.generate(_request(name, guidance=guidance, negative_prompt="blurry, dark"))
        np.testing.assert_array_equal(first, again)
        assert negative.report["negative_prompt_sent"] == "blurry, dark"
        assert not np.array_equal(first, np.asarray(negative.images[0]))


def test_prompt_embeddings_are_cached_so_the_text_encoder_runs_once(tiny_pipes, tmp_path):
    name = "tiny-zimage"
    studio = _studio(name, tiny_pipes[name], tmp_path)
    calls = []
    handle = tiny_pipes[name].text_encoder.register_forward_pre_hook(lambda *a: calls.append(1))
    try:
        studio.generate(_request(name))
        studio.generate(_request(name, seed=8))
    finally:
        handle.remove()
    assert len(calls) == 1


def test_an_inpaint_mask_needs_a_picture():
    with pytest.raises(InputError, match="needs the picture"):
        _request("tiny-flux2", mask=np.ones((48, 32), np.float32))


def _lora_for(pipe, folder, name: str, base_model: str, seed: int = 1) -> None:
    """<name>.safetensors (the family's diffusers LoRA format) and <name>.json for `pipe`'s family."""
    from peft import LoraConfig
    from peft.utils import get_peft_model_state_dict

    model = type(pipe.transformer).from_config(pipe.transformer.config)
    model.add_adapter(LoraConfig(r=4, lora_alpha=4, target_modules=["to_q", "to_k", "to_v"]))
    generator = torch.Generator().manual_seed(seed)
    for param_name, param in model.named_parameters():
        if "lora_" in param_name:  # peft starts B at zero (a no-op LoRA); make it do something
            param.data = torch.randn(param.shape, generator=generator) * 0.3
    type(pipe).save_lora_weights(folder, transformer_lora_layers=get_peft_model_state_dict(model),
                                 weight_name=f"{name}.safetensors")
    metadata = {"display_name": name.title(), "trigger_words": [f"{name} style"], "default_weight": 1.0,
                "base_model": base_model}
    (folder / f"{name}.json").write_text(json.dumps(metadata), encoding="utf-8")


@pytest.mark.parametrize("name", ["tiny-flux2", "tiny-zimage"])
def test_a_style_applies_in_its_family_and_is_refused_in_another(name, monkeypatch, tmp_path):
    from models.tiny import build_tiny_pipeline

    pipe = build_tiny_pipeline(name)  # private: adapters must not reach the shared fixtures
    _lora_for(pipe, tmp_path, "glow", base_model=name)
    _lora_for(build_tiny_pipeline("tiny"), tmp_path, "film", base_model="tiny")
    monkeypatch.setenv("INTACT_STYLES_DIR", str(tmp_path))
    studio = _studio(name, pipe, tmp_path)
    base = np.asarray(studio.generate(_request(name)).images[0])
    styled = studio.generate(_request(name, style="glow"))
    assert styled.report["prompt_sent"].startswith("glow style")
    assert not np.array_equal(np.asarray(styled.images[0]), base)
    with pytest.raises(InputError, match="made for tiny, not " + name):
        studio.generate(_request(name, style="film"))
    assert np.array_equal(np.asarray(studio.generate(_request(name)).images[0]), base)  # no style: the base again
