"""Recovering from running out of memory mid-run: free, retry once with a cheaper plan, then say so.

The estimates in the planner can be wrong (other processes on the GPU, fragmentation, a library
workspace we did not count), so a run that goes out of memory gets one more try with the plan's
`fallback` — the next cheaper plan that fits by estimate — after releasing what the failed try held.
"""

from __future__ import annotations

import gc
import logging
from typing import Callable, TypeVar

import torch

from models.errors import IntactError
from models.memory.planner import GB, MemoryPlan

T = TypeVar("T")
log = logging.getLogger(__name__)

_OOM_PHRASES = ("out of memory", "can't allocate memory", "cannot allocate memory")


class OutOfMemoryPlanError(IntactError):
    """Out of memory with the chosen plan and with its cheaper fallback (or there was none)."""

    key = "out_of_memory"


def is_out_of_memory(exc: BaseException) -> bool:
    """torch.OutOfMemoryError on any accelerator, or an allocator's "out of memory" RuntimeError
    (CUDA errors, the CPU allocator's "can't allocate memory"), or Python's MemoryError."""
    if isinstance(exc, (torch.OutOfMemoryError, MemoryError)):
        return True
    return isinstance(exc, RuntimeError) and any(p in str(exc).lower() for p in _OOM_PHRASES)


def free_memory() -> None:
    """Drop unreachable tensors and hand cached accelerator blocks back to the driver."""
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
        torch.cuda.empty_cache()
        torch.cuda.ipc_collect()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else type(exc).__name__


def _need(plan: MemoryPlan) -> str:
    if plan.device == "cuda":
        return f"{plan.gpu_bytes / GB:.1f} GB GPU estimated"
    return f"{plan.ram_bytes / GB:.1f} GB RAM estimated"


def run_with_oom_fallback(
    fn: Callable[[MemoryPlan], T],
    plan: MemoryPlan,
    *,
    before_retry: Callable[[MemoryPlan, MemoryPlan, str], None] | None = None,
) -> T:
    """`fn(plan)`; on out-of-memory, free and run `fn(plan.fallback)` once; then give up clearly.

    before_retry(new_plan, failed_plan, reason) runs between the two tries, e.g. to apply the new
    plan's offloading to the pipeline. Errors that are not out-of-memory pass through untouched.
    The failed try's traceback is dropped before retrying: its frames hold the tensors to free.
    """
    try:
        return fn(plan)
    except BaseException as exc:  # noqa: BLE001 - filtered just below
        if not is_out_of_memory(exc):
            raise
        reason = _first_line(exc)
        log.warning("out of memory with plan %s: %s", plan.name, reason)
    free_memory()

    retry = plan.fallback
    if retry is None:
        raise OutOfMemoryPlanError(
            f"Ran out of memory with {plan.describe()} ({_need(plan)}) and there is no cheaper plan. "
            f"{_advice(plan)}"
        )
    log.warning("retrying once with the cheaper plan %s", retry.name)
    if before_retry is not None:
        before_retry(retry, plan, reason)
    try:
        return fn(retry)
    except BaseException as exc:  # noqa: BLE001
        if not is_out_of_memory(exc):
            raise
        second = _first_line(exc)
        log.warning("out of memory again with plan %s: %s", retry.name, second)
    free_memory()
    raise OutOfMemoryPlanError(
        f"Ran out of memory with {plan.describe()}, and again with the cheaper {retry.describe()} "
        f"({_need(retry)}). {_advice(retry)}"
    )


def _advice(plan: MemoryPlan) -> str:
    where = "the GPU" if plan.gpu_bytes else "this computer's memory"
    return f"Use a smaller image or fewer steps, or close other programs using {where}."
