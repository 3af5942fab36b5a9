"""The memory plan as the UI shows it: one line a shop owner can read, in their language.

The planner's own explanation (offload modes, KV stores, tiling) is for operators: it stays in the
report (behind "details") and on the Status tab's operator section.
"""

from __future__ import annotations

import functools

from ui.i18n import tr

GB = 1e9


def plan_line(lang: str, memory_plan: dict | None) -> str:
    """A report's `memory_plan` entry as one line (empty when the job ran without one)."""
    if not memory_plan:
        return ""
    ram = (memory_plan.get("estimated_ram_bytes") or 0) / GB
    gpu = (memory_plan.get("estimated_gpu_bytes") or 0) / GB
    if accelerator_here():
        line = tr(lang, "edit.memory", ram=f"{ram:.1f}", gpu=f"{gpu:.1f}")
    else:  # no graphics card to name: say what this machine computes with
        line = tr(lang, "edit.memory_cpu", ram=f"{ram:.1f}")
    if memory_plan.get("fallback_used"):
        line += " " + tr(lang, "edit.memory_fallback")
    return line


@functools.cache
def accelerator_here() -> bool:
    """Whether this machine computes on a graphics card (CUDA or Apple's MPS), not the CPU alone."""
    import torch

    return torch.cuda.is_available() or (getattr(torch.backends, "mps", None) is not None
                                         and torch.backends.mps.is_available())
