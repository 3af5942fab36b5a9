"""LoRA styles: small weight patches on the shared transformer, switched without reloading the base.

A style is `<name>.json` (metadata) plus `<name>.safetensors` (weights):

    {"display_name": "Film look", "trigger_words": ["film photo"], "default_weight": 0.8,
     "base_model": "flux-dev", "file": "film.safetensors", "source": "where to get it"}

`base_model` is a model name (`flux-dev`) or a family (`flux`: any real FLUX.1 model). Folders:
`assets/styles/` (metadata shipped with Intact; the weights are installed by the user) and the user
styles folder (env `INTACT_STYLES_DIR`, default `<models dir>/styles`), which may hold both.

Weights are read ONLY as safetensors (never unpickled): a file that is not valid safetensors, holds
no LoRA tensors, or holds NaN or infinite values (which would turn every picture black), is refused
with an InputError before diffusers sees it. A style file that cannot be read is skipped with a
warning (`scan_styles` reports it); the other styles stay usable.
"""

from __future__ import annotations

import logging
import os
import re
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from models.data_files import DataProblem, JsonFileError, named_entry, read_json_file, skipped
from models.errors import InputError
from models.locate import models_dir
from models.registry import MODELS, ModelSpec, get_spec

# A style's words reach every prompt it is used with and its name every style list.
_MAX_DISPLAY_NAME, _MAX_TRIGGER_CHARS = 100, 1000

log = logging.getLogger(__name__)

SHIPPED_DIR = Path(__file__).resolve().parents[1] / "assets" / "styles"
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_FAMILIES = {spec.family for spec in MODELS.values() if spec.kind == "diffusion"}


def user_styles_dir() -> Path:
    return Path(os.environ.get("INTACT_STYLES_DIR") or models_dir() / "styles")


@dataclass(frozen=True)
class Style:
    name: str
    display_name: str
    trigger_words: tuple[str, ...]
    default_weight: float
    base_model: str  # model name or family
    weights: Path | None  # the .safetensors file, None when not installed
    metadata_path: Path
    source: str = ""
    description: str = ""

    @property
    def available(self) -> bool:
        return self.weights is not None

    def fits(self, spec: ModelSpec) -> bool:
        # A family-wide style fits every real model of the family, never the random-weights tiny one.
        return self.base_model == spec.name or (self.base_model == spec.family and not spec.random_weights)

    def with_trigger(self, prompt: str) -> str:
        """Prompt with the trigger words in front, unless the user already wrote them."""
        missing = [w for w in self.trigger_words if w.lower() not in prompt.lower()]
        return ", ".join([*missing, prompt]) if missing and prompt else ", ".join(missing) or prompt


def _parse_metadata(path: Path, weight_folders: list[Path]) -> Style:
    name = path.stem
    where = f"Style file {path.name}"  # the name only: this message may reach a browser
    if not _NAME.match(name):
        raise InputError(f"{where}: style names use a-z, 0-9, '-' and '_' (got '{name}').")
    try:
        data = read_json_file(path)
    except JsonFileError as exc:
        raise InputError(f"{where}: {exc}") from None
    if not isinstance(data, dict):
        raise InputError(f"{where}: must hold one JSON object.")
    missing = [k for k in ("display_name", "trigger_words", "default_weight", "base_model") if k not in data]
    if missing:
        raise InputError(f"{where}: missing {', '.join(missing)}.")
    triggers = data["trigger_words"]
    if isinstance(triggers, str):
        triggers = [triggers]
    if not isinstance(triggers, list) or not all(isinstance(t, str) for t in triggers):
        raise InputError(f"{where}: trigger_words must be a list of texts.")
    if not isinstance(data["display_name"], str) or not 0 < len(data["display_name"]) <= _MAX_DISPLAY_NAME:
        raise InputError(f"{where}: display_name must be text of 1 to {_MAX_DISPLAY_NAME} characters.")
    if sum(len(t) for t in triggers) > _MAX_TRIGGER_CHARS:
        raise InputError(f"{where}: trigger_words hold more than {_MAX_TRIGGER_CHARS} characters.")
    weight = data["default_weight"]
    if not isinstance(weight, (int, float)) or isinstance(weight, bool) or not -2.0 <= weight <= 2.0:
        raise InputError(f"{where}: default_weight must be a number from -2 to 2, got {weight!r}.")
    base = data["base_model"]
    if base not in MODELS and base not in _FAMILIES:
        raise InputError(f"{where}: base_model '{base}' is neither a known model nor a family "
                         f"({', '.join(sorted(_FAMILIES))}).")
    file_name = data.get("file", f"{name}.safetensors")
    if not isinstance(file_name, str) or Path(file_name).name != file_name or not file_name.endswith(".safetensors"):
        raise InputError(f"{where}: 'file' must be a plain .safetensors file name, got {file_name!r}.")
    weights = next((folder / file_name for folder in [path.parent, *weight_folders]
                    if (folder / file_name).is_file()), None)
    return Style(
        name=name,
        display_name=str(data["display_name"]),
        trigger_words=tuple(t.strip() for t in triggers if t.strip()),
        default_weight=float(weight),
        base_model=base,
        weights=weights,
        metadata_path=path,
        source=str(data.get("source", "")),
        description=str(data.get("description", "")),
    )


def scan_styles(folders: list[Path] | None = None) -> tuple[dict[str, Style], list[DataProblem]]:
    """Every readable style, by name (a user style replaces a shipped one of the same name), and the
    style files that were skipped because they cannot be read."""
    folders = [SHIPPED_DIR, user_styles_dir()] if folders is None else [Path(f) for f in folders]
    styles: dict[str, Style] = {}
    problems: list[DataProblem] = []
    for folder in folders:
        if folder.is_dir():
            for path in sorted(folder.glob("*.json")):
                try:
                    styles[path.stem] = _parse_metadata(path, folders)
                except (InputError, OSError) as exc:
                    problems.append(skipped("style", path, _problem_text(exc, path), log))
    return dict(sorted(styles.items())), problems


def _problem_text(exc: Exception, path: Path) -> str:
    if isinstance(exc, OSError):
        return f"cannot be read ({exc.strerror or type(exc).__name__})."
    return str(exc).removeprefix(f"Style file {path.name}: ")


def load_styles(folders: list[Path] | None = None) -> dict[str, Style]:
    """Every readable style, by name (unreadable style files are skipped, see `scan_styles`)."""
    return scan_styles(folders)[0]


def get_style(name: str, styles: dict[str, Style] | None = None) -> Style:
    problems: list[DataProblem] = []
    if styles is None:
        styles, problems = scan_styles()
    return named_entry("style", name, styles, problems)


def read_lora_file(path: Path) -> dict:
    """Check that `path` is a safetensors LoRA, reading only its header. Returns the header's
    string metadata. Never falls back to pickle."""
    from safetensors import SafetensorError, safe_open

    if path.suffix != ".safetensors":
        raise InputError(f"LoRA files must be .safetensors (got '{path.name}'); other formats can run code.",
                         key="lora_not_safetensors", field="style", name=path.name)
    try:
        with safe_open(str(path), framework="pt") as handle:
            keys = list(handle.keys())
            metadata = handle.metadata() or {}
    except OSError as exc:  # its text would name the folder
        raise InputError(f"'{path.name}' cannot be read ({exc.strerror or type(exc).__name__}).",
                         key="lora_unreadable", field="style", name=path.name, operator_hint=f"({path})") from None
    except (SafetensorError, ValueError, RuntimeError) as exc:
        raise InputError(f"'{path.name}' is not a readable safetensors file ({_first_line(exc)}).",
                         key="lora_unreadable", field="style", name=path.name) from None
    if not any("lora" in k or k.endswith(".alpha") for k in keys):
        raise InputError(f"'{path.name}' holds no LoRA weights (no 'lora' tensors among {len(keys)} keys).",
                         key="lora_empty", field="style", name=path.name)
    return metadata


def check_lora_values(path: Path) -> None:
    """Refuse a LoRA file holding NaN or infinite values: applied, they turn every picture black.
    Reads one tensor at a time (memory: the largest tensor), before the weights reach the model."""
    import torch
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as handle:
        for key in handle.keys():
            tensor = handle.get_tensor(key)
            if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
                bad = int((~torch.isfinite(tensor)).sum())
                raise InputError(f"'{path.name}' holds invalid numbers (NaN or infinity: {bad} values in {key}); "
                                 "it would make black pictures, so it was not applied.",
                                 key="lora_invalid_values", field="style", name=path.name, count=bad)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else type(exc).__name__


class LoraStyles:
    """The styles on one loaded base pipeline. Owned by the ModelManager; use under its lock.

    Normal mode keeps up to `max_loaded` styles as named peft adapters, so switching back to a
    recent style is `set_adapters` (no disk read). Hotswap mode keeps one adapter slot and swaps
    its weights in place (`load_lora_weights(hotswap=True)`): no new modules are created, which is
    what a `torch.compile`d transformer needs to avoid recompiling.
    """

    SLOT = "style"  # adapter name used in hotswap mode

    def __init__(self, pipe, model_name: str, hotswap: bool = False, max_rank: int = 128, max_loaded: int = 3):
        self.pipe = pipe
        self.spec = get_spec(model_name)
        self.hotswap = hotswap
        self.max_rank = max_rank
        self.max_loaded = max_loaded
        self._loaded: OrderedDict[str, Style] = OrderedDict()  # adapter name → style, oldest first
        self._slot_style: str | None = None  # hotswap mode: which style the slot holds
        self.active: tuple[str, float] | None = None  # (style name, weight)

    @property
    def loaded(self) -> list[str]:
        return [self._slot_style] if self.hotswap and self._slot_style else list(self._loaded)

    def check(self, style: Style) -> None:
        if not style.fits(self.spec):
            raise InputError(
                f"Style '{style.display_name}' was made for {style.base_model}, not {self.spec.name}: "
                f"choose a {style.base_model} model or another style."
            )
        if not style.available:
            # Where to put the file is the operator's business (a server folder): the hint, not the message.
            source = f" Get it from {style.source}." if style.source else ""
            raise InputError(f"Style '{style.display_name}' is not installed on this machine.",
                             key="style_not_installed", field="style", name=style.display_name,
                             operator_hint=f"Put its weights file in {user_styles_dir()}.{source}")

    def apply(self, style: Style, weight: float | None = None) -> None:
        """Make `style` the one active style at `weight` (its default when None)."""
        self.check(style)
        weight = style.default_weight if weight is None else float(weight)
        if not -2.0 <= weight <= 2.0:
            raise InputError(f"Style weight must be from -2 to 2, got {weight}.")
        read_lora_file(style.weights)
        adapter = self._hotswap_in(style) if self.hotswap else self._load(style)
        self.pipe.enable_lora()  # undo an earlier deactivate()
        self.pipe.set_adapters([adapter], adapter_weights=[weight])
        self.active = (style.name, weight)

    def _load_weights(self, style: Style, adapter: str, hotswap: bool = False) -> None:
        check_lora_values(style.weights)  # before any of it reaches the shared transformer
        try:
            # weight_name + use_safetensors=True make diffusers read safetensors only (no pickle fallback).
            self.pipe.load_lora_weights(
                str(style.weights.parent), weight_name=style.weights.name, use_safetensors=True,
                local_files_only=True, adapter_name=adapter, hotswap=hotswap,
            )
        except (ValueError, RuntimeError, KeyError, TypeError) as exc:
            self._forget(adapter)
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise InputError(
                f"Style '{style.display_name}' does not fit {self.spec.name} ({first[:200]})."
            ) from exc

    def _load(self, style: Style) -> str:
        if style.name in self._loaded:
            self._loaded.move_to_end(style.name)
            return style.name
        while len(self._loaded) >= self.max_loaded:
            oldest = next(iter(self._loaded))
            self.pipe.delete_adapters(oldest)
            del self._loaded[oldest]
        self._load_weights(style, style.name)
        self._loaded[style.name] = style
        return style.name

    def _hotswap_in(self, style: Style) -> str:
        if self._slot_style == style.name:
            return self.SLOT
        if self._slot_style is None:
            # Must come before the first load: pads every later adapter to one rank.
            self.pipe.enable_lora_hotswap(target_rank=self.max_rank, check_compiled="ignore")
            self._load_weights(style, self.SLOT)
        else:
            try:
                self._load_weights(style, self.SLOT, hotswap=True)
            except InputError:
                # Different target layers cannot be swapped in place: start the slot afresh.
                log.info("hotswap of %s failed; reloading the slot", style.name)
                self.unload()
                self.pipe.enable_lora_hotswap(target_rank=self.max_rank, check_compiled="ignore")
                self._load_weights(style, self.SLOT)
        self._slot_style = style.name
        return self.SLOT

    def _forget(self, adapter: str) -> None:
        """Remove a half-loaded adapter after a failure, so the base stays clean."""
        try:
            present = {a for names in self.pipe.get_list_adapters().values() for a in names}
        except Exception:
            present = set()
        if adapter in present:
            self.pipe.delete_adapters(adapter)
        self._loaded.pop(adapter, None)
        if adapter == self.SLOT:
            self._slot_style = None

    def deactivate(self) -> None:
        """Run the base model while keeping loaded styles in memory for a quick switch back."""
        if self.active is not None:
            self.pipe.disable_lora()
            self.active = None

    def unload(self) -> None:
        """Remove every style: the transformer is exactly the base model again."""
        if self._loaded or self._slot_style or self.active:
            self.pipe.unload_lora_weights()
        self._loaded.clear()
        self._slot_style = None
        self.active = None
        # A later hotswap-mode load must prepare the slot again.
        transformer = getattr(self.pipe, "transformer", None)
        if transformer is not None and hasattr(transformer, "_prepare_lora_hotswap_kwargs"):
            transformer._prepare_lora_hotswap_kwargs = None
