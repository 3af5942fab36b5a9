"""The memory plan as the UI forces and shows it.

Planning for this machine, applying offload and VAE tiling, and the out-of-memory fallback live in
the workflow layer (`editor.edit_workflow`, `editor.generate`, `editor.planned_run`). What stays
here is UI-only: the `--memory-mode` flag turned into the `plan=` a job runs with, and the plan's
one line in a status message.
"""

from __future__ import annotations

import dataclasses

from ui.app_state import Services
from ui.i18n import tr


def forced(services: Services, plan):
    """`plan` with the configured `--memory-mode` offload; unchanged when the mode is "auto".

    The planner's own plan with that offload is used when one is in its fallback chain (its
    estimates and explanation stay true); otherwise the offload is overridden and the line says so.
    """
    mode = services.config.memory_mode
    if mode == "auto":
        return plan
    chain = plan
    while chain is not None:
        if chain.offload == mode:
            return chain
        chain = chain.fallback
    return dataclasses.replace(plan, offload=mode, explanation=f"{plan.explanation} (offload forced to '{mode}')")


def job_plan(services: Services, model: str, size: tuple[int, int], steps: int, *, task: str,
             mask_fraction: float = 1.0):
    """The plan for one job on the manager's machine (resident weights counted as free), with the
    memory mode applied; a missing model fails first, saying how to fetch it."""
    from editor.planned_run import plan_job

    plan = plan_job(services.manager, model, size[0], size[1], max(1, int(steps)), task=task,
                    mask_fraction=mask_fraction)
    return forced(services, plan)


def status_plan(services: Services, model: str):
    """The plan shown on the Status tab: a 1024×1024 edit (or generation for non-FLUX models).
    Planned without the manager, so opening the tab loads and starts nothing."""
    from models.memory.planner import plan_for_this_machine
    from models.registry import get_spec

    spec = get_spec(model)
    task = "kv-edit" if spec.family == "flux" else "generate"
    steps = 28 if model == "flux-dev" else spec.default_steps
    return forced(services, plan_for_this_machine(model, 1024, 1024, steps, 0.25, task=task))


def plan_line(lang: str, memory_plan: dict | None) -> str:
    """A report's `memory_plan` entry as one status line (empty when the job ran without one)."""
    if not memory_plan:
        return ""
    line = tr(lang, "plan.line", why=memory_plan.get("explanation") or memory_plan.get("name", ""))
    if memory_plan.get("fallback_used"):
        line += " " + tr(lang, "plan.fallback_used")
    return line
