"""Loading a diffusion pipeline from a folder: the one path for real weights and for `tiny`."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import torch

from models.locate import Location, ModelNotAvailableError, locate, models_dir
from models.registry import get_spec


class ModelLoadError(RuntimeError):
    """The folder exists but could not be read as the model (corrupt or incomplete)."""


def ensure_tiny(seed: int = 0) -> Path:
    """Write the tiny FLUX folder once (atomically), so it is loaded like any downloaded model."""
    target = models_dir() / "tiny"
    if (target / "model_index.json").is_file():
        return target
    from models.tiny import save_tiny_flux

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


def resolve(name: str) -> Location:
    location = locate(name)
    if location.source == "built-in-code":
        ensure_tiny()
        location = locate(name)
    if not location.available:
        raise ModelNotAvailableError(location)
    return location


def pipeline_class(class_name: str):
    import diffusers

    return getattr(diffusers, class_name)


def default_dtype(device: torch.device | str) -> torch.dtype:
    device = torch.device(device)
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.float32


def load_pipeline_from_folder(folder: str | Path, class_name: str = "FluxPipeline", dtype: torch.dtype | None = None):
    """Read a diffusers folder. Used for downloaded FLUX/Z-Image and for the saved tiny model alike."""
    folder = Path(folder)
    cls = pipeline_class(class_name)
    try:
        return cls.from_pretrained(folder, dtype=dtype or torch.float32, local_files_only=True)
    except (OSError, ValueError, KeyError, TypeError, RuntimeError) as exc:  # TypeError: a config.json with wrong value types
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelLoadError(
            f"The model folder {folder} could not be loaded as {class_name} ({first}). "
            f"It may be incomplete or corrupt: delete it and fetch it again."
        ) from exc


def load_pipeline(name: str, dtype: torch.dtype | None = None):
    """Load a registered diffusion model by name (raises ModelNotAvailableError if missing)."""
    spec = get_spec(name)
    if spec.kind != "diffusion":
        raise ValueError(f"'{name}' is a {spec.kind} model, not an image generator.")
    location = resolve(name)
    return load_pipeline_from_folder(location.path, spec.pipeline_class, dtype)
