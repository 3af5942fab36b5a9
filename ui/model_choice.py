"""Which diffusion models each tab offers, and what to tell the user about one."""

from __future__ import annotations

from editor.studio import catalog
from ui.i18n import I18N, tr


def _tag(c: catalog.ModelChoice) -> str | None:
    """The one catalogue key that qualifies a model's name in a picker (None: the name alone)."""
    if c.random_weights:
        return "model.tag.random"
    if not c.commercial_use:
        return "model.tag.noncommercial" if c.available else "model.tag.noncommercial_missing"
    return None if c.available else "model.tag.missing"


def model_choices(task: str | None = None, lang: str | None = None) -> list[tuple[str, str]]:
    """(label, name) pairs for a dropdown: the name and what qualifies it, in `lang`, or (None)
    in the browser's own language. Missing models stay listed so their panel can say so."""
    choices = []
    for c in catalog.model_choices(task):
        tag = _tag(c)
        if tag is None:
            choices.append((c.name, c.name))
        else:
            choices.append((c.name + " — " + (I18N(tag) if lang is None else tr(lang, tag)), c.name))
    return choices


def default_model(task: str | None = None, preferred: str | None = None) -> str:
    return catalog.default_model(task, preferred)


def random_weights(name: str) -> bool:
    """A model built in code with random weights (for testing): its pictures are noise."""
    from models.registry import get_spec

    return get_spec(name).random_weights


def model_note(name: str, lang: str = "en") -> str:
    """Markdown under a model picker: missing -> say so (the operator sees how to fetch it on the
    Status tab); tiny -> what it is; otherwise its title and licence."""
    from models.registry import get_spec

    c = catalog.model_choice(get_spec(name))
    if not c.available:
        return tr(lang, "model.missing_note", name=c.name)
    if c.random_weights:
        return f"**{c.name}** — {tr(lang, 'model.random_weights')}"
    if not c.commercial_use:
        return f"**{c.title}** · ⚠️ {tr(lang, 'model.non_commercial')}"
    return f"**{c.title}** · {c.license}"
