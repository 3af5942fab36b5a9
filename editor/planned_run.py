"""Running a job under a memory plan: plan for this machine, apply, and on out-of-memory retry once.

Shared by the edit and generation workflows. The plan's offload and VAE tiling are applied to the
model manager (`ModelManager.apply_memory_plan`, which places the pipeline with
`models.memory.offload`); `run_with_oom_fallback` frees memory and retries once with the plan's
cheaper fallback, then raises `OutOfMemoryPlanError` with a clear message.
"""

from __future__ import annotations

from typing import Callable, TypeVar

from models.memory.oom import free_memory, run_with_oom_fallback
from models.memory.planner import MemoryBudget, MemoryPlan, detect_budget, plan_memory

T = TypeVar("T")

AUTO = "auto"


def budget_for(manager) -> MemoryBudget:
    """Free memory on this machine, counting the manager's resident weights as free: a plan made
    while a family is loaded would otherwise plan around weights that are reused or unloaded."""
    budget = detect_budget(manager.device)
    on_accelerator, on_cpu = manager.resident_bytes()
    gpu = budget.gpu_free + on_accelerator if budget.has_accelerator else 0
    return MemoryBudget(gpu, budget.ram_free + on_cpu, budget.label)


def plan_job(manager, model: str, width: int, height: int, steps: int, *, task: str, mask_fraction: float = 1.0,
             skip_steps: int = 0, budget: MemoryBudget | None = None) -> MemoryPlan:
    """The fastest plan that fits this job on this machine (an IntactError when none does).
    A model that is not there is reported first (ModelNotAvailableError): that is what to fix."""
    manager.require_available(model)
    budget = budget or budget_for(manager)
    return plan_memory(
        model, width, height, steps, mask_fraction, budget.gpu_free, budget.ram_free,
        skip_steps=skip_steps, task=task, dtype=manager.dtype, budget_label=budget.label,
    ).require_fit()


def plan_report(chosen: MemoryPlan, ran: MemoryPlan) -> dict:
    """The report's `memory_plan` entry: what ran, in a name and one line, and whether it was the fallback."""
    return {
        "name": ran.name,
        "explanation": ran.explanation,
        "fallback_used": ran is not chosen,
        "estimated_gpu_bytes": ran.gpu_bytes,
        "estimated_ram_bytes": ran.ram_bytes,
    }


def run_planned(manager, plan: MemoryPlan, attempt: Callable[[MemoryPlan], T],
                before_retry: Callable[[], None] | None = None) -> tuple[T, MemoryPlan]:
    """(attempt's result, the plan it ran with). The plan is applied to `manager` before each try;
    `before_retry` lets the caller drop what the failed try held (e.g. a recorded KV cache)."""
    ran: list[MemoryPlan] = []

    def one_try(p: MemoryPlan) -> T:
        ran.append(p)
        with manager.lock:
            manager.apply_memory_plan(p)
            return attempt(p)

    def retry(_new: MemoryPlan, _failed: MemoryPlan, _why: str) -> None:
        if before_retry is not None:
            before_retry()
            free_memory()  # what the caller just let go of

    result = run_with_oom_fallback(one_try, plan, before_retry=retry)
    return result, ran[-1]
