"""Loading a diffusion pipeline from a folder: the one path for real weights and for `tiny`."""

from __future__ import annotations

from pathlib import Path

import torch

from models.errors import IntactError
from models.locate import Location, ModelNotAvailableError, locate
from models.registry import get_spec
from models.tiny import ensure_tiny


class ModelLoadError(IntactError):
    """The folder exists but could not be read as the model (corrupt or incomplete). The folder
    (a server path) is kept in `operator_hint`, not in the message."""

    key = "model_corrupt"

    def __init__(self, message: str, folder: Path | None = None, detail: str = ""):
        super().__init__(message, field="model")
        self.folder, self.detail = folder, detail

    @property
    def operator_hint(self) -> str:
        if not self.folder:
            return ""
        return f"Model folder: {self.folder} ({self.detail}). Delete it and fetch the model again."


def resolve(name: str) -> Location:
    location = locate(name)
    if location.source == "built-in-code":
        ensure_tiny(name)
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
        # The library's words name server paths: they go to the operator's hint, not the message.
        raise ModelLoadError(
            f"The model's files could not be loaded as {class_name}; they may be incomplete or corrupt. "
            "Fetch the model again.", folder, first
        ) from exc


def load_pipeline(name: str, dtype: torch.dtype | None = None):
    """Load a registered diffusion model by name (raises ModelNotAvailableError if missing)."""
    spec = get_spec(name)
    if spec.kind != "diffusion":
        raise ValueError(f"'{name}' is a {spec.kind} model, not an image generator.")
    location = resolve(name)
    return load_pipeline_from_folder(location.path, spec.pipeline_class, dtype)
