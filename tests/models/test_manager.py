"""ModelManager: one family resident, every task sharing the same weights, real unloading."""

from __future__ import annotations

import gc
import threading
import time
import weakref
from types import SimpleNamespace

import diffusers
import pytest
import torch

from editor.errors import IntactError
from models.loading import load_pipeline
from models.locate import ModelNotAvailableError
from models.manager import PIPELINE_CLASSES, TASKS, ModelManager

SHARED = ("transformer", "vae", "text_encoder", "text_encoder_2", "tokenizer", "tokenizer_2", "scheduler")


def test_every_task_pipeline_shares_the_same_component_objects(tiny_pipe):
    manager = ModelManager.from_pipeline("tiny", tiny_pipe)
    base = manager.base("tiny")
    assert base is tiny_pipe
    pipes = {task: manager.pipeline("tiny", task) for task in TASKS}
    assert type(pipes["img2img"]).__name__ == "FluxImg2ImgPipeline"
    assert type(pipes["inpaint"]).__name__ == "FluxInpaintPipeline"
    assert pipes["text2img"] is base and pipes["kv-edit"] is base
    for task, pipe in pipes.items():
        for name in SHARED:
            assert getattr(pipe, name) is getattr(base, name), (task, name)
    assert manager.pipeline("tiny", "img2img") is pipes["img2img"]  # made once, then reused


def test_task_pipelines_keep_the_base_dtype():
    manager = ModelManager(device="cpu", dtype=torch.bfloat16)
    base = manager.base("tiny")
    img2img = manager.pipeline("tiny", "img2img")
    assert img2img.transformer is base.transformer
    assert base.transformer.dtype == torch.bfloat16 and base.vae.dtype == torch.bfloat16
    manager.unload()


def test_every_family_task_names_a_real_diffusers_class():
    for family, tasks in PIPELINE_CLASSES.items():
        for task, class_name in tasks.items():
            cls = getattr(diffusers, class_name)
            assert hasattr(cls, "from_pipe"), (family, task)
    assert PIPELINE_CLASSES["z-image"]["img2img"] == "ZImageImg2ImgPipeline"


def test_every_family_runs_every_task_and_bad_requests_are_refused_before_anything_loads():
    assert all(set(tasks) == set(TASKS) for tasks in PIPELINE_CLASSES.values())
    loads = []
    manager = ModelManager(device="cpu", loader=lambda name, dtype: loads.append(name))
    with pytest.raises(IntactError, match="Unknown task"):
        manager.pipeline("tiny", "upscale")
    with pytest.raises(IntactError, match="not an image generation model"):
        manager.pipeline("opus-mt-ko-en", "text2img")
    assert loads == []


def test_load_through_models_loading_once_and_unload_frees_the_weights():
    manager = ModelManager(device="cpu")
    pipe = manager.base("tiny")
    assert manager.loaded_name == "tiny" and manager.base("tiny") is pipe
    refs = [weakref.ref(pipe.transformer), weakref.ref(pipe.vae), weakref.ref(manager.pipeline("tiny", "img2img"))]
    del pipe
    manager.unload()
    gc.collect()
    assert manager.loaded_name is None
    assert [r() for r in refs] == [None, None, None]


def test_switching_family_drops_the_resident_one_before_loading_the_next():
    loaded = []

    def loader(name, dtype):  # the tiny folder stands in for a second model
        loaded.append(name)
        return load_pipeline("tiny", dtype)

    manager = ModelManager(device="cpu", loader=loader)
    first = weakref.ref(manager.base("tiny").transformer)
    gc.collect()
    manager.base("flux-schnell")
    assert loaded == ["tiny", "flux-schnell"] and manager.loaded_name == "flux-schnell"
    assert first() is None
    manager.unload()


def test_a_missing_model_is_reported_and_the_resident_one_stays(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    manager = ModelManager(device="cpu")
    pipe = manager.base("tiny")
    with pytest.raises(ModelNotAvailableError, match="flux-dev"):
        manager.base("flux-dev")
    assert manager.loaded_name == "tiny" and manager.base("tiny") is pipe
    manager.unload()


def test_concurrent_users_load_the_family_once_and_get_the_same_pipelines():
    calls = []

    def slow_loader(name, dtype):
        calls.append(name)
        time.sleep(0.2)  # widen the race window
        return load_pipeline(name, dtype)

    manager = ModelManager(device="cpu", loader=slow_loader)
    results: list = []

    def user():
        results.append((manager.base("tiny"), manager.pipeline("tiny", "img2img")))

    threads = [threading.Thread(target=user) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert calls == ["tiny"]
    assert len({id(b) for b, _ in results}) == 1 and len({id(p) for _, p in results}) == 1
    manager.unload()


def test_memory_plan_turns_on_vae_tiling_and_notes_that_offload_needs_an_accelerator():
    manager = ModelManager(device="cpu")
    pipe = manager.base("tiny")
    notes = manager.apply_memory_plan(SimpleNamespace(offload="model", vae_tiling=True, kv_cache="cpu"))
    assert pipe.vae.use_tiling and pipe.vae.use_slicing
    assert any("offload 'model' skipped" in n for n in notes)
    manager.apply_memory_plan(SimpleNamespace(offload="none", vae_tiling=False))
    assert not pipe.vae.use_tiling
    with pytest.raises(IntactError, match="Unknown offload mode"):
        manager.apply_memory_plan(SimpleNamespace(offload="disk"))
    manager.unload()


def test_styles_need_a_loaded_model():
    with pytest.raises(IntactError, match="Load a model"):
        ModelManager(device="cpu").styles


def test_manager_refuses_non_diffusion_models():
    with pytest.raises(IntactError, match="not an image generation model"):
        ModelManager(device="cpu").base("opus-mt-ko-en")
