"""The memory plan as the UI uses it: which plan a job runs with, and applying it to the manager.

The planner (`models.memory.planner`) picks the fastest plan that fits the free memory; the
`--memory-mode` flag can force an offload mode instead, and the KV cache dropdown can force a KV
store. "auto" everywhere means "what the planner says".
"""

from __future__ import annotations

import dataclasses

from ui.app_state import Services


def plan_for(services: Services, model: str, size: tuple[int, int], steps: int, *, skip_steps: int = 0,
             mask_fraction: float = 1.0, task: str = "kv-edit"):
    """The MemoryPlan for one job on this machine, with the configured memory mode applied."""
    from models.memory.planner import plan_for_this_machine

    plan = plan_for_this_machine(model, size[0], size[1], max(1, int(steps)), float(mask_fraction),
                                 skip_steps=min(int(skip_steps), max(0, int(steps) - 1)), task=task)
    mode = services.config.memory_mode
    if mode == "auto":
        return plan
    chain = plan
    while chain is not None:  # the planner's own plan with that offload, when one fits
        if chain.offload == mode:
            return chain
        chain = chain.fallback
    return dataclasses.replace(plan, offload=mode, explanation=f"{plan.explanation} (offload forced to '{mode}')")


def apply_plan(services: Services, plan) -> None:
    """Set offload and VAE tiling on the manager when they differ from what it runs with now."""
    key = (plan.offload, plan.vae_tiling)
    with services.manager.lock:
        if services.applied_memory != key:
            services.manager.apply_memory_plan(plan)
            services.applied_memory = key


def prepare_model(services: Services, model: str, plan):
    """The resident pipeline for `model`, placed as `plan` says.

    A different resident model is unloaded *before* the plan is applied, so its weights are never
    moved around under the new plan (which could need more memory than there is).
    """
    manager = services.manager
    with manager.lock:
        if manager.loaded_name != model:
            services.release_sessions(keep_model=model)  # sessions hold the old pipeline
            manager.unload()
        apply_plan(services, plan)
        return manager.base(model)


def kv_cache_for(choice: str, plan) -> str:
    """The user's KV cache choice, or the plan's when the choice is "auto"."""
    if choice != "auto":
        return choice
    return (plan.kv_cache if plan is not None else None) or "device"


def status_plan(services: Services, model: str):
    """The plan shown on the Status tab: a 1024×1024 edit (or generation for non-FLUX models)."""
    from models.registry import get_spec

    spec = get_spec(model)
    task = "kv-edit" if spec.family == "flux" else "generate"
    steps = 28 if model == "flux-dev" else spec.default_steps
    return plan_for(services, model, (1024, 1024), steps, skip_steps=0, mask_fraction=0.25, task=task)
