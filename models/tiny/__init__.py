"""Tiny models built deterministically in code, one per model family, with *random weights*.

Each has the real component classes of its family (transformer, VAE, text encoders and their
tokenizers) at a few MB, so that every code path that loads and runs a real model can be exercised
offline, on a CPU. `ensure_tiny(name)` builds one from its seed and writes it with
`save_pretrained` into the models folder once; from then on it is loaded like downloaded weights,
by the same loader. Nothing they draw means anything: they are labelled "random weights, for testing".

A new family's tiny backend is one module here with `build_components(seed) -> dict`, listed in
`BUILDERS` under its registry name.
"""

from __future__ import annotations

import importlib
import os
import shutil
import tempfile
from pathlib import Path
from types import MappingProxyType

from models.locate import models_dir
from models.tiny.flux1 import build_components as build_tiny_flux_components
from models.tiny.flux1 import build_tiny_flux_pipeline, save_tiny_flux
from models.tiny.text import build_qwen_tokenizer, build_tokenizers

# Registry name -> the module whose `build_components(seed)` makes that model's components.
BUILDERS = MappingProxyType({
    "tiny": "models.tiny.flux1",
    "tiny-flux2": "models.tiny.flux2",
    "tiny-zimage": "models.tiny.z_image",
})


def tiny_components(name: str, seed: int = 0) -> dict:
    """Every pipeline component of the tiny model `name`, seeded. Same seed → identical weights."""
    try:
        module = BUILDERS[name]
    except KeyError:
        raise ValueError(f"no tiny model named '{name}'; known: {', '.join(BUILDERS)}") from None
    return importlib.import_module(module).build_components(seed)


def build_tiny_pipeline(name: str = "tiny", seed: int = 0):
    """The tiny model as its family's text-to-image pipeline (the registry names the class)."""
    import diffusers

    from models.registry import get_spec

    return getattr(diffusers, get_spec(name).pipeline_class)(**tiny_components(name, seed))


def save_tiny(name: str, folder: str | Path, seed: int = 0) -> Path:
    """Build the tiny model and write it as an ordinary diffusers folder."""
    folder = Path(folder)
    build_tiny_pipeline(name, seed).save_pretrained(folder)
    return folder


def ensure_tiny(name: str = "tiny", seed: int = 0) -> Path:
    """Write the tiny model's folder once (atomically), so it is loaded like any downloaded model."""
    target = models_dir() / name
    if (target / "model_index.json").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=target.parent))
    try:
        save_tiny(name, staging, seed=seed)
        try:
            os.replace(staging, target)
        except OSError:  # another process finished first; theirs is identical
            if not (target / "model_index.json").is_file():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


__all__ = [
    "BUILDERS",
    "build_qwen_tokenizer",
    "build_tiny_flux_components",
    "build_tiny_flux_pipeline",
    "build_tiny_pipeline",
    "build_tokenizers",
    "ensure_tiny",
    "save_tiny",
    "save_tiny_flux",
    "tiny_components",
]
