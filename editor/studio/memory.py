"""The Studio's memory policy: plan each job for this machine, apply the plan, and on out-of-memory
retry once with the plan's cheaper fallback.

Planning itself is `models.memory.planner`; placing weights is `ModelManager.apply_memory_plan`.
What is the Studio's own is the policy an operator sets (`memory_mode`: leave it to the planner,
or force an offload) and the budget: the manager's resident weights count as free, since a job
either reuses them or unloads them first.
"""

from __future__ import annotations

import dataclasses
from typing import Callable, TypeVar

from models.memory.oom import free_memory, run_with_oom_fallback
from models.memory.planner import MemoryBudget, MemoryPlan, detect_budget, plan_memory
from models.vocabulary import AUTO, EXACT

T = TypeVar("T")


def budget_for(manager) -> MemoryBudget:
    """Free memory on this machine, counting the manager's resident weights as free."""
    budget = detect_budget(manager.device)
    on_accelerator, on_cpu = manager.resident_bytes()
    gpu = budget.gpu_free + on_accelerator if budget.has_accelerator else 0
    return MemoryBudget(gpu, budget.ram_free + on_cpu, budget.label)


def forced(plan: MemoryPlan, memory_mode: str) -> MemoryPlan:
    """`plan` with the operator's offload mode; unchanged when the mode is AUTO. The planner's own
    plan with that offload is used when one is in its fallback chain (estimates stay true);
    otherwise the offload is overridden and the explanation says so."""
    if memory_mode == AUTO:
        return plan
    chain = plan
    while chain is not None:
        if chain.offload == memory_mode:
            return chain
        chain = chain.fallback
    return dataclasses.replace(plan, offload=memory_mode,
                               explanation=f"{plan.explanation} (offload forced to '{memory_mode}')")


def kv_cache_for(choice: str, plan: MemoryPlan | None) -> str:
    """The KV cache mode an edit runs with: the request's, or the plan's when it says AUTO."""
    if choice != AUTO:
        return choice
    return (plan.kv_cache if plan is not None else None) or "device"


def plan_report(chosen: MemoryPlan, ran: MemoryPlan) -> dict:
    """The report's `memory_plan` entry: what ran, in a name and one line, and whether it was the fallback."""
    return {
        "name": ran.name,
        "explanation": ran.explanation,
        "fallback_used": ran is not chosen,
        "estimated_gpu_bytes": ran.gpu_bytes,
        "estimated_ram_bytes": ran.ram_bytes,
    }


@dataclasses.dataclass(frozen=True)
class MemoryPolicy:
    memory_mode: str = AUTO  # AUTO, or an offload mode the operator forces
    budget: MemoryBudget | None = None  # None: measure this machine at each job (tests fix one)

    def plan(self, manager, model: str, width: int, height: int, steps: int, *, task: str,
             mask_fraction: float = 1.0, skip_steps: int = 0, images: int = 1, speed: str = EXACT) -> MemoryPlan:
        """The fastest plan that fits this job here (an IntactError when none does). A model that
        is not there is reported first: that is what to fix. `images`: a generation's batch;
        `speed`: a KV-Edit's speed setting (fast / fastest keep a share of the steps)."""
        manager.require_available(model)
        budget = self.budget or budget_for(manager)
        plan = plan_memory(model, width, height, max(1, int(steps)), mask_fraction, budget.gpu_free,
                           budget.ram_free, skip_steps=skip_steps, task=task, dtype=manager.dtype,
                           budget_label=budget.label, images=images, speed=speed)
        return forced(plan.require_fit(), self.memory_mode)

    @staticmethod
    def run(manager, plan: MemoryPlan, attempt: Callable[[MemoryPlan], T],
            before_retry: Callable[[], None] | None = None) -> tuple[T, MemoryPlan]:
        """(attempt's result, the plan it ran with). The plan is applied to `manager` before each
        try; `before_retry` lets the caller drop what the failed try held (e.g. a recorded cache)."""
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
