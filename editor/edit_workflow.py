"""One KV-Edit as the CLI and the UI run it: memory plan, model placement, session, OOM fallback.

    run = run_edit(manager, "flux-dev", image, mask, "a white cup", "a red cup", kv_cache="auto", steps=28)
    run.result.image, run.result.report["memory_plan"]["explanation"], run.session  # keep it to edit again

"auto" (the default KV cache) is resolved here, from the plan, before `EditOptions` is built, so
the options always name a concrete store. The plan's offload and VAE tiling go to the model
manager; an out-of-memory error mid-run frees the session's cache and retries once with the plan's
cheaper fallback, then raises `models.memory.OutOfMemoryPlanError`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from editor.kv_edit import EditOptions, EditResult, EditSession
from editor.kv_edit.engine import Progress
from editor.planned_run import AUTO, plan_job, plan_report, run_planned
from models.memory.planner import MemoryBudget, MemoryPlan
from models.vocabulary import KV_EDIT


@dataclass(frozen=True)
class EditRun:
    result: EditResult  # report["memory_plan"]: name, one-line explanation, fallback_used
    session: EditSession  # reuse it for the next edit of the same image and mask (inversion kept)
    plan: MemoryPlan  # the plan the edit ran with (the fallback after an out-of-memory retry)


def resolve_kv_cache(choice: str, plan: MemoryPlan | None) -> str:
    """The KV cache mode to run: the user's choice, or the plan's when the choice is "auto"."""
    if choice != AUTO:
        return choice
    return (plan.kv_cache if plan is not None else None) or "device"


def plan_edit(manager, model: str, size: tuple[int, int], mask: np.ndarray, steps: int, skip_steps: int = 0,
              budget: MemoryBudget | None = None) -> MemoryPlan:
    """The fastest plan that fits this edit here (the cache holds steps - skip_steps steps of the
    background, so the mask's share matters)."""
    fraction = float((np.asarray(mask) > 0.5).mean()) if np.asarray(mask).size else 1.0
    return plan_job(manager, model, size[0], size[1], max(1, int(steps)), task="kv-edit", mask_fraction=fraction,
                    skip_steps=min(max(0, int(skip_steps)), max(0, int(steps) - 1)), budget=budget)


def edit_session(manager, model: str, image, mask, session: EditSession | None = None) -> EditSession:
    """`session` when it runs on `model`'s current pipeline, else a new EditSession on it (the
    caller checks that `session` was made for this image and mask)."""
    pipe = manager.pipeline(model, KV_EDIT)
    if session is not None and session.pipe is pipe:
        return session
    if session is not None:
        session.release()  # built on a pipeline that is gone (reloaded or another model)
    return EditSession(pipe, image, mask, model_name=model, lock=manager.lock, prompt_cache=manager.prompt_cache,
                       text_encoder_device=manager.text_encoder_device)


def run_edit(manager, model: str, image, mask: np.ndarray, source_prompt: str, target_prompt: str, *,
             kv_cache: str = AUTO, plan: MemoryPlan | None = None, session: EditSession | None = None,
             progress: Progress | None = None, budget: MemoryBudget | None = None, **options: Any) -> EditRun:
    """Edit `image` inside `mask` from `source_prompt` to `target_prompt` on `manager`'s model.

    options: the other `EditOptions` fields (steps, skip_steps, guidance, seed, ...).
    plan: a MemoryPlan to use (the UI may have shown it); default: planned here for this machine.
    session: the EditSession of an earlier edit of the same image and mask, to reuse its inversion;
    it is replaced when the model's pipeline changed. mask: float32 H×W in [0, 1], image's size.
    """
    if kv_cache != AUTO:
        EditOptions(kv_cache=kv_cache, **options)  # bad options fail before any planning or loading
    if plan is None:
        steps = options.get("steps", EditOptions.steps)
        skip = options.get("skip_steps", EditOptions.skip_steps)
        size = image.size if hasattr(image, "size") and not isinstance(image, np.ndarray) else (image.shape[1], image.shape[0])
        plan = plan_edit(manager, model, size, mask, steps, skip, budget)
    current: dict[str, EditSession | None] = {"session": session}

    def attempt(p: MemoryPlan) -> EditResult:
        opts = EditOptions(kv_cache=resolve_kv_cache(kv_cache, p), **options)
        current["session"] = edit_session(manager, model, image, mask, current["session"])
        return current["session"].edit(target_prompt, opts, progress=progress, source_prompt=source_prompt)

    def drop_cache() -> None:
        if current["session"] is not None:
            current["session"].release()

    result, ran = run_planned(manager, plan, attempt, before_retry=drop_cache)
    result.report["memory_plan"] = plan_report(plan, ran)
    return EditRun(result, current["session"], ran)
