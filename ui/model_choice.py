"""Which diffusion models each tab offers, and what to tell the user about one."""

from __future__ import annotations

from editor.studio import catalog
from ui.i18n import tr

TINY = catalog.TINY


def model_choices(task: str | None = None, lang: str = "en") -> list[tuple[str, str]]:
    """(label, name) pairs for a dropdown; missing models stay listed so their panel can say so."""
    choices = []
    for c in catalog.model_choices(task):
        label = c.label if c.available else f"{c.label} — {tr(lang, 'model.not_here')}"
        choices.append((label, c.name))
    return choices


def default_model(task: str | None = None, preferred: str | None = None) -> str:
    return catalog.default_model(task, preferred)


def model_note(name: str, lang: str = "en") -> str:
    """Markdown under a model picker: missing -> say so (the operator sees how to fetch it on the
    Status tab); tiny -> what it is; otherwise its title and licence."""
    from models.registry import get_spec

    c = catalog.model_choice(get_spec(name))
    if not c.available:
        return tr(lang, "model.missing_note", name=c.name)
    if c.random_weights:
        return f"**{c.label}** — {tr(lang, 'model.random_weights')}"
    licence = c.license if c.commercial_use else f"⚠️ {tr(lang, 'model.non_commercial')} — {c.license}"
    return f"**{c.title}** ({c.name}) · {licence}"
