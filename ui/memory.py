"""The memory plan as the UI shows it: one line in a status message."""

from __future__ import annotations

from ui.i18n import tr


def plan_line(lang: str, memory_plan: dict | None) -> str:
    """A report's `memory_plan` entry as one status line (empty when the job ran without one)."""
    if not memory_plan:
        return ""
    line = tr(lang, "plan.line", why=memory_plan.get("explanation") or memory_plan.get("name", ""))
    if memory_plan.get("fallback_used"):
        line += " " + tr(lang, "plan.fallback_used")
    return line
