"""Which diffusion model each tab offers, and what to tell the user about one that is missing."""

from __future__ import annotations

from models.locate import ModelNotAvailableError, locate
from models.registry import ModelSpec, diffusion_models, get_spec

TINY = "tiny"


def is_available(name: str) -> bool:
    return locate(name).available


def model_choices(family: str | None = None) -> list[tuple[str, str]]:
    """(label, name) pairs for a dropdown; missing models stay listed so their panel can say how to fetch them."""
    choices = []
    for spec in diffusion_models():
        if family is not None and spec.family != family:
            continue
        label = spec.label if is_available(spec.name) else f"{spec.label} — not downloaded"
        choices.append((label, spec.name))
    return choices


def default_model(family: str | None = None, preferred: str | None = None) -> str:
    """The preferred model if it fits, else the first real model on disk, else `tiny`."""
    specs = [s for s in diffusion_models() if family is None or s.family == family]
    names = [s.name for s in specs]
    if preferred in names:
        return preferred
    for spec in specs:
        if not spec.random_weights and is_available(spec.name):
            return spec.name
    return TINY


def missing_model_message(name: str) -> str | None:
    """None when the model can be used; otherwise the locator's message (which model, where we
    looked, the command that fetches it)."""
    location = locate(name)
    if location.available:
        return None
    return str(ModelNotAvailableError(location))


def require_available(name: str) -> None:
    """Raise the locator's ModelNotAvailableError (model, where we looked, fetch command) before any work."""
    location = locate(name)
    if not location.available:
        raise ModelNotAvailableError(location)


def model_note(name: str, lang: str = "en") -> str:
    """Markdown under a model picker: missing → which model and the fetch command; tiny → what it is."""
    from ui.i18n import tr

    spec: ModelSpec = get_spec(name)
    missing = missing_model_message(name)
    if missing:
        return f"{tr(lang, 'model.missing_note')} {missing}"
    if spec.random_weights:
        return f"**{spec.label}** — {tr(lang, 'model.random_weights')}"
    return f"**{spec.title}** ({spec.name}) · {spec.license}"
