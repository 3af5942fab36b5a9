"""What the Studio can offer a front end: models (with licence and whether they are here), LoRA
styles, presets, ad backdrops, formats and cut-out methods. Read fresh on each call, loads nothing."""

from __future__ import annotations

from dataclasses import dataclass

from models.families import supports
from models.locate import locate
from models.manager import PIPELINE_CLASSES
from models.registry import ModelSpec, diffusion_models, get_spec, preferred_model
from models.vocabulary import KV_EDIT

# The model every tab starts with when no real model is here: random weights, built in code, with
# the architecture of the real default (FLUX.2 [klein]: reads Korean as written). "tiny" (FLUX.1,
# reads English) stays selectable.
NO_WEIGHTS_MODEL = "tiny-flux2"


@dataclass(frozen=True)
class ModelChoice:
    name: str
    title: str
    label: str  # the name, marked "random weights" or "non-commercial licence" where it applies
    license: str
    commercial_use: bool
    available: bool  # its files are on this machine (the tiny model always is)
    random_weights: bool
    reads_korean: bool
    tasks: tuple[str, ...]
    note: str


def tasks_of(spec: ModelSpec) -> tuple[str, ...]:
    return tuple(PIPELINE_CLASSES.get(spec.family, {}))


def can_do(spec: ModelSpec, task: str) -> bool:
    return supports(spec, task)


def model_choice(spec: ModelSpec) -> ModelChoice:
    return ModelChoice(spec.name, spec.title, spec.label, spec.license, spec.commercial_use,
                       locate(spec.name).available, spec.random_weights, spec.reads_korean, tasks_of(spec), spec.note)


def model_choices(task: str | None = None) -> list[ModelChoice]:
    """Every diffusion model that can do `task`; missing ones stay listed so a front end can say
    how to get them."""
    return [model_choice(spec) for spec in diffusion_models() if task is None or can_do(spec, task)]


def default_model(task: str | None = None, preferred: str | None = None) -> str:
    """`preferred` when it can do `task`; else the real model here that `auto` prefers for the task
    (`models.registry.preferred_model`: models shops may use commercially first); else the tiny
    model that mirrors the real default (random weights)."""
    choices = model_choices(task)
    if preferred in [c.name for c in choices]:
        return preferred
    here = [c.name for c in choices if c.available and not c.random_weights]
    return preferred_model(here, KV_EDIT if task == KV_EDIT else "generate") or NO_WEIGHTS_MODEL


def resolve_model_name(name: str | None, task: str) -> str:
    """A request's model: AUTO/None picks the default for the task."""
    if name in (None, "", "auto"):
        return default_model(task)
    get_spec(name)  # unknown names fail here
    return name
