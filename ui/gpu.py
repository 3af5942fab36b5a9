"""`@gpu` marks functions that need the accelerator, for Hugging Face ZeroGPU Spaces.

On a ZeroGPU Space the `spaces` package attaches a GPU to the process only while a function
decorated with `spaces.GPU` runs. Everywhere else (a workstation, CI, a Space with a dedicated
GPU or none) the decorator returns the function unchanged, so the app never depends on `spaces`.
"""

from __future__ import annotations

import functools
import importlib.util
import os
from collections.abc import Callable

# Gradio concurrency ids of the events that wait in the queue: every accelerator-bound event shares
# one, limited to what the Studio runs at once; the CPU cut-out has its own. Everything else is
# answered off the queue (app.answer_cheap_events_directly).
GPU_QUEUE = "gpu"
CUTOUT_QUEUE = "cutout"


def on_spaces() -> bool:
    """Hugging Face sets SPACE_ID in every Space's environment."""
    return bool(os.environ.get("SPACE_ID"))


def spaces_available() -> bool:
    return on_spaces() and importlib.util.find_spec("spaces") is not None


def gpu(fn: Callable | None = None, *, duration: int = 120) -> Callable:
    """Decorator, usable bare (`@gpu`) or with a time budget (`@gpu(duration=60)`).

    `duration` is the longest the call may hold a ZeroGPU device, in seconds.
    """

    def wrap(func: Callable) -> Callable:
        if not spaces_available():
            return func
        import spaces

        wrapped = spaces.GPU(duration=duration)(func)
        # gradio reads the signature (gr.Progress, gr.Request parameters) from the wrapper.
        return functools.wraps(func)(wrapped)

    return wrap(fn) if fn is not None else wrap
