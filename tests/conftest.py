"""Shared test setup: offline, a private models folder, and the tiny FLUX pipeline."""

from __future__ import annotations

import os

import pytest

# Tests never reach a model hub; set before anything imports huggingface_hub.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="session", autouse=True)
def _private_dirs(tmp_path_factory):
    """Each test session gets its own models folder, log and output folder."""
    root = tmp_path_factory.mktemp("intact-home")
    saved = {k: os.environ.get(k) for k in ("INTACT_MODELS_DIR", "INTACT_LOG", "INTACT_OUTPUT_DIR", "U2NET_HOME")}
    os.environ["INTACT_MODELS_DIR"] = str(root / "models")
    os.environ["INTACT_LOG"] = str(root / "intact.log")
    os.environ["INTACT_OUTPUT_DIR"] = str(root / "outputs")
    os.environ["U2NET_HOME"] = str(root / "u2net")
    yield root
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture(scope="session")
def tiny_pipe():
    """The tiny FLUX pipeline (random weights), fp32 on CPU. Tests must not leave it modified."""
    import torch

    from models.tiny import build_tiny_flux_pipeline

    torch.manual_seed(0)
    return build_tiny_flux_pipeline(seed=0)


TINY_MODELS = ("tiny", "tiny-flux2", "tiny-zimage")  # one tiny backend per model family


@pytest.fixture(scope="session")
def tiny_pipes():
    """Every family's tiny pipeline (random weights), fp32 on CPU, built once per session from the
    seed; keyed by registry name. Tests must not leave them modified."""
    from models.tiny import build_tiny_pipeline

    return {name: build_tiny_pipeline(name, seed=0) for name in TINY_MODELS}


@pytest.fixture(params=TINY_MODELS)
def family_pipe(request, tiny_pipes):
    """(model name, pipeline) for each family's tiny model in turn."""
    return request.param, tiny_pipes[request.param]
