"""Shop presets: prompt templates and suggested settings, read from JSON files.

Each `assets/presets/<name>.json` is one preset (format in `assets/presets/README.md`). Adding a
preset is adding a file; nothing here lists them. Extra folders can be given with the env var
`INTACT_PRESETS_DIR` (os.pathsep-separated); a file there replaces a shipped one of the same name.
Every problem is reported as `InputError` naming the file (by its name, never its folder) and the
line. A preset file that cannot be read is skipped with a warning (`scan_presets` reports it): the
other presets, the app and the CLI carry on.
"""

from __future__ import annotations

import logging
import os
import re
import string
from dataclasses import dataclass, field
from pathlib import Path

from editor.errors import InputError
from editor.limits import MAX_PROMPT_CHARS
from models.data_files import DataProblem, JsonFileError, named_entry, parse_json, read_json_text, skipped
from models.registry import MODELS, ModelSpec

log = logging.getLogger(__name__)

ASSETS_DIR = Path(__file__).resolve().parents[1] / "assets" / "presets"
CATEGORIES = ("cafe", "restaurant", "retail", "service")
MIN_SIDE, MAX_SIDE, SIDE_MULTIPLE = 32, 2048, 16  # FLUX packs 2×2 latents of an 8× VAE → 16 px steps
MAX_STEPS = 100
MAX_GUIDANCE = 20.0
_TOP_KEYS = {"name", "category", "label", "prompt", "negative_prompt", "size", "steps", "guidance",
             "model_overrides", "description"}
_REQUIRED = ("name", "category", "label", "prompt", "size", "steps", "guidance")
_OVERRIDE_KEYS = {"size", "steps", "guidance"}


@dataclass(frozen=True)
class Settings:
    """What a preset suggests for one model."""

    width: int
    height: int
    steps: int
    guidance: float


@dataclass(frozen=True)
class Preset:
    name: str
    category: str
    label: dict  # language code → display name, e.g. {"en": "Cafe", "ko": "카페"}
    prompt: str  # template with exactly one {prompt}
    negative_prompt: str
    width: int
    height: int
    steps: int
    guidance: float
    model_overrides: dict = field(default_factory=dict)  # model name → {"size"|"steps"|"guidance": ...}
    description: str = ""
    source: Path | None = None

    def render(self, prompt: str) -> str:
        """The template with the user's (already English or pass-through) prompt inserted."""
        text = self.prompt.replace("{prompt}", prompt.strip())
        # An empty user prompt leaves ", , " behind; tidy it so the model sees clean text.
        return re.sub(r"(\s*,\s*)+", ", ", text).strip(" ,")

    def settings_for(self, model: ModelSpec | str) -> Settings:
        name = model if isinstance(model, str) else model.name
        override = self.model_overrides.get(name, {})
        width, height = override.get("size", (self.width, self.height))
        return Settings(
            width=int(width),
            height=int(height),
            steps=int(override.get("steps", self.steps)),
            guidance=float(override.get("guidance", self.guidance)),
        )

    def display_name(self, language: str = "en") -> str:
        return self.label.get(language) or self.label.get("en") or self.name


def _line_of(text: str, key: str, after_line: int = 1) -> int:
    """1-based line of the first `"key":` at or after `after_line` (for error messages)."""
    pattern = re.compile(r'"' + re.escape(key) + r'"\s*:')
    for number, line in enumerate(text.splitlines(), start=1):
        if number >= after_line and pattern.search(line):
            return number
    return after_line


class _Checker:
    def __init__(self, path: Path, text: str):
        self.path, self.text = path, text

    def fail(self, message: str, key: str | None = None, after_line: int = 1):
        line = _line_of(self.text, key, after_line) if key else after_line
        # The file's name only: this message may reach a browser, the folder is the server's.
        raise InputError(f"Preset file {self.path.name}, line {line}: {message}", key="preset_file",
                         field="preset", name=self.path.name, line=line, detail=message)

    def size(self, value, key: str, after: int = 1) -> tuple[int, int]:
        if (
            not isinstance(value, list)
            or len(value) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) for v in value)
        ):
            self.fail(f"'{key}' must be [width, height] in pixels, got {value!r}.", key, after)
        for side in value:
            if not MIN_SIDE <= side <= MAX_SIDE or side % SIDE_MULTIPLE:
                self.fail(
                    f"'{key}' sides must be multiples of {SIDE_MULTIPLE} between {MIN_SIDE} and {MAX_SIDE}, "
                    f"got {value!r}.", key, after,
                )
        return value[0], value[1]

    def steps(self, value, after: int = 1) -> int:
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_STEPS:
            self.fail(f"'steps' must be a whole number from 1 to {MAX_STEPS}, got {value!r}.", "steps", after)
        return value

    def guidance(self, value, after: int = 1) -> float:
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 <= value <= MAX_GUIDANCE:
            self.fail(f"'guidance' must be a number from 0 to {MAX_GUIDANCE}, got {value!r}.", "guidance", after)
        return float(value)

    def template(self, value) -> str:
        if not isinstance(value, str) or not value.strip():
            self.fail("'prompt' must be a non-empty text template.", "prompt")
        if len(value) > MAX_PROMPT_CHARS:
            self.fail(f"'prompt' has {len(value)} characters; at most {MAX_PROMPT_CHARS}.", "prompt")
        try:
            fields = [f for _, f, _, _ in string.Formatter().parse(value) if f is not None]
        except ValueError as exc:
            self.fail(f"'prompt' has unbalanced braces ({exc}); write literal braces as {{{{ }}}}.", "prompt")
        if fields != ["prompt"]:
            self.fail(f"'prompt' must contain {{prompt}} exactly once and no other {{...}} fields, found {fields}.",
                      "prompt")
        return value


def parse_preset(path: Path, text: str) -> Preset:
    check = _Checker(path, text)
    try:
        data = parse_json(text)
    except JsonFileError as exc:
        check.fail(exc.detail, after_line=exc.line)
    if not isinstance(data, dict):
        check.fail("the file must hold one JSON object.")
    for key in data:
        if key not in _TOP_KEYS:
            check.fail(f"unknown field '{key}'. Known fields: {', '.join(sorted(_TOP_KEYS))}.", key)
    for key in _REQUIRED:
        if key not in data:
            check.fail(f"missing field '{key}'.")
    if data["name"] != path.stem:
        check.fail(f"'name' must match the file name '{path.stem}', got {data['name']!r}.", "name")
    if data["category"] not in CATEGORIES:
        check.fail(f"'category' must be one of {', '.join(CATEGORIES)}, got {data['category']!r}.", "category")
    label = data["label"]
    if not isinstance(label, dict) or not isinstance(label.get("en"), str) or not all(
        isinstance(v, str) for v in label.values()
    ):
        check.fail("'label' must map language codes to names and include \"en\".", "label")
    negative = data.get("negative_prompt", "")
    if not isinstance(negative, str):
        check.fail("'negative_prompt' must be text.", "negative_prompt")
    if len(negative) > MAX_PROMPT_CHARS:
        check.fail(f"'negative_prompt' has {len(negative)} characters; at most {MAX_PROMPT_CHARS}.", "negative_prompt")
    description = data.get("description", "")
    if not isinstance(description, str):
        check.fail("'description' must be text.", "description")
    width, height = check.size(data["size"], "size")
    overrides = data.get("model_overrides", {})
    if not isinstance(overrides, dict):
        check.fail("'model_overrides' must map model names to settings.", "model_overrides")
    start = _line_of(text, "model_overrides")
    for model_name, override in overrides.items():
        where = _line_of(text, model_name, start)
        if model_name not in MODELS or MODELS[model_name].kind != "diffusion":
            check.fail(f"'model_overrides' names unknown model '{model_name}'.", after_line=where)
        if not isinstance(override, dict):
            check.fail(f"the override for '{model_name}' must be an object.", after_line=where)
        for key, value in override.items():
            if key not in _OVERRIDE_KEYS:
                check.fail(f"unknown override '{key}' for '{model_name}' (use size, steps, guidance).", key, where)
            {"size": lambda v: check.size(v, "size", where), "steps": lambda v: check.steps(v, where),
             "guidance": lambda v: check.guidance(v, where)}[key](value)
    return Preset(
        name=data["name"],
        category=data["category"],
        label=dict(label),
        prompt=check.template(data["prompt"]),
        negative_prompt=negative,
        width=width,
        height=height,
        steps=check.steps(data["steps"]),
        guidance=check.guidance(data["guidance"]),
        model_overrides={k: dict(v) for k, v in overrides.items()},
        description=description,
        source=path,
    )


def preset_folders() -> list[Path]:
    extra = [Path(p) for p in os.environ.get("INTACT_PRESETS_DIR", "").split(os.pathsep) if p.strip()]
    return [ASSETS_DIR, *extra]


def scan_presets(folders: list[Path] | None = None) -> tuple[dict[str, Preset], list[DataProblem]]:
    """Every readable preset, by name, sorted (later folders override earlier ones), and the preset
    files that were skipped because they cannot be read."""
    presets: dict[str, Preset] = {}
    problems: list[DataProblem] = []
    for folder in folders if folders is not None else preset_folders():
        folder = Path(folder)
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.json")):
            try:
                presets[path.stem] = parse_preset(path, read_json_text(path))
            except JsonFileError as exc:
                problems.append(skipped("preset", path, f"line 1: {exc}", log))
            except InputError as exc:
                problems.append(skipped("preset", path, str(exc).removeprefix(f"Preset file {path.name}, "), log))
    return dict(sorted(presets.items())), problems


def load_presets(folders: list[Path] | None = None) -> dict[str, Preset]:
    """All readable presets, by name, sorted (unreadable files are skipped, see `scan_presets`)."""
    return scan_presets(folders)[0]


def get_preset(name: str, presets: dict[str, Preset] | None = None) -> Preset:
    problems: list[DataProblem] = []
    if presets is None:
        presets, problems = scan_presets()
    return named_entry("preset", name, presets, problems)
