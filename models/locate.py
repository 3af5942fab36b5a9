"""Finding a model's files on this machine, and fetching them when allowed.

One order everywhere: an explicit folder (env var `INTACT_MODEL_<NAME>`), the Intact models
folder (`INTACT_MODELS_DIR`, default `~/.cache/intact/models/<name>`), the Hugging Face cache,
and, only by `python -m models download`, the hub. `HF_HUB_OFFLINE=1` forbids the hub.
rembg's cut-out models are the exception: rembg reads them from its own folders only
(`rembg_home()`), so that is the only place looked in for them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from models.errors import IntactError
from models.registry import ModelSpec, get_spec


@dataclass(frozen=True)
class Location:
    spec: ModelSpec
    path: Path | None  # None when the model is not on this machine
    source: str  # "env" | "models-dir" | "hf-cache" | "built-in-code" | "missing"
    looked_in: tuple[str, ...]

    @property
    def available(self) -> bool:
        return self.path is not None


class ModelNotAvailableError(IntactError):
    """A model's files are not on this machine.

    The message names the model only: where we looked (server paths) and the command that fetches
    it are operator details, kept in `operator_hint` for the CLI, the log and the Status tab's
    operator section, never sent to a remote browser.
    """

    key = "model_missing"

    def __init__(self, location: Location):
        self.location = location
        spec = location.spec
        super().__init__(f"Model '{spec.name}' ({spec.title}) is not on this machine.", field="model",
                         name=spec.name, title=spec.title)

    @property
    def operator_hint(self) -> str:
        where = "; ".join(self.location.looked_in)
        return f"Looked in: {where}. Fetch it with: {download_command(self.location.spec.name)}"


def download_command(name: str) -> str:
    return f"python -m models download {name}"


def env_var_for(name: str) -> str:
    return "INTACT_MODEL_" + name.upper().replace("-", "_")


def models_dir() -> Path:
    return Path(os.environ.get("INTACT_MODELS_DIR", Path.home() / ".cache" / "intact" / "models"))


def rembg_home() -> Path:
    """rembg's data folder, by rembg's own rules: U2NET_HOME, else REMBG_HOME, else
    $XDG_DATA_HOME/rembg or ~/.rembg. A model lives in `<home>/models/<name>/<name>.onnx`."""
    if os.environ.get("U2NET_HOME"):
        return Path(os.environ["U2NET_HOME"]).expanduser()
    xdg = os.environ.get("XDG_DATA_HOME")
    default = Path(xdg) / "rembg" if xdg else Path.home() / ".rembg"
    return Path(os.environ.get("REMBG_HOME", default)).expanduser()


def rembg_model_dir(name: str) -> Path:
    """The folder rembg's `new_session(name)` reads first (and where our downloads go)."""
    return rembg_home() / "models" / name


def _rembg_folders(name: str) -> list[Path]:
    """Where rembg keeps a model now, then the flat folder older rembg versions used: the only
    places rembg reads a model from without downloading it."""
    legacy = Path(os.environ.get("U2NET_HOME", Path(os.environ.get("XDG_DATA_HOME", Path.home())) / ".u2net"))
    return list(dict.fromkeys([rembg_model_dir(name), legacy.expanduser()]))


def hub_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


def _complete_folder(spec: ModelSpec, path: Path) -> bool:
    if spec.files:
        return all((path / f).is_file() for f in spec.files)
    if spec.kind == "diffusion":
        return (path / "model_index.json").is_file()
    return (path / "config.json").is_file()


def _hf_cache_snapshot(spec: ModelSpec) -> Path | None:
    if spec.repo_id is None:
        return None
    try:
        from huggingface_hub import snapshot_download

        path = Path(snapshot_download(spec.repo_id, local_files_only=True))
    except Exception:  # not cached (the hub library raises several types for that)
        return None
    return path if _complete_folder(spec, path) else None


def hf_cache_dir() -> str:
    from huggingface_hub import constants

    return str(constants.HF_HUB_CACHE)


def locate(name: str) -> Location:
    spec = get_spec(name)
    looked: list[str] = []
    candidates: list[tuple[str, Path]] = []
    if spec.family == "rembg":
        # rembg opens its models from its own folders only; a file elsewhere would make it download.
        candidates += [("rembg-home", folder) for folder in _rembg_folders(name)]
    else:
        if os.environ.get(env_var_for(name)):
            candidates.append(("env", Path(os.environ[env_var_for(name)]).expanduser()))
        candidates.append(("models-dir", models_dir() / name))
    for source, path in candidates:
        looked.append(f"{path} ({env_var_for(name)})" if source == "env" else str(path))
        if path.is_dir() and _complete_folder(spec, path):
            return Location(spec, path, source, tuple(looked))
    if spec.repo_id:
        looked.append(f"Hugging Face cache {hf_cache_dir()} ({spec.repo_id})")
        cached = _hf_cache_snapshot(spec)
        if cached is not None:
            return Location(spec, cached, "hf-cache", tuple(looked))
    if spec.random_weights:
        # Built from a seed on first use (`models.tiny.ensure_tiny`), so always available.
        return Location(spec, models_dir() / name, "built-in-code", tuple(looked))
    return Location(spec, None, "missing", tuple(looked))
