"""Run buttons that cannot start a job twice, and results shown at screen size.

A run button is switched off the moment it is clicked (before the job is queued) and on again
when the job ends, whatever the outcome (`run_button`); with gradio's `trigger_mode="once"` a
double click sends one job. The Cancel button stays on.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable

import gradio as gr
from PIL import Image

from ui.gpu import gpu
from ui.i18n import lang_of, tr

PREVIEW_SIDE = 1600  # longest side of pictures shown in the page; the downloads keep full size


def _one_or_many(values: list):
    """gradio takes a list returned for ONE output as that output's value (a button once showed
    `[{'interactive': True, '__type__': 'update'}]` as its label): one output gets its update alone."""
    return values[0] if len(values) == 1 else values


def switched(count: int, on: bool) -> list:
    return [gr.update(interactive=on) for _ in range(count)]


def run_button(button, job: Callable, inputs: dict, outputs: list, *, status, buttons: list, on_gpu: bool = True,
               defaults: dict | None = None, before=None, before_inputs=(), before_outputs=(), after=None, after_inputs=(), after_outputs=(),
               **event) -> None:
    """The one way a run button starts a job: `buttons` off the moment `button` is clicked, the job,
    then `buttons` on again, whatever the outcome.

    `job(values, request, progress)` gets `values`, a dict of the `inputs` components' values by
    their names (the names are also the API's parameter names, in this order), and returns the
    `outputs`' values; it raises gr.Error for what the user must fix. `on_gpu`: the job needs the
    accelerator (a ZeroGPU Space attaches one while it runs). `defaults`: what an API client may
    leave out (from the first such name on, every later parameter may be left out too).

    Why the re-enabling is chained twice: gradio's page runs a `.then()` step only after a job
    that *succeeded* (gradio 6: on an error its front end dispatches the `.failure()` steps alone,
    although `.then` is documented as "regardless"), and a queue that refuses the job counts as a
    failure. So the buttons come back on in a `.then` step and in a `.failure` step; the failure
    step also writes the reason on the status line (the toast disappears; the line stays). The
    click empties the status line first, so a reason left by the previous job is never read as
    this job's answer while it runs.
    """
    n = len(buttons)
    names = list(inputs)
    reason = gr.State({"text": ""})  # per browser session: why this button's last job failed

    def off(request: gr.Request, *values):
        extra = before(request, *values) if before is not None else ()
        # The status line is emptied: the last job's failure reason must not stand for this job's.
        return [*switched(n, False), "", *extra]

    def on(request: gr.Request, *values):
        extra = after(request, *values) if after is not None else ()
        return _one_or_many([*switched(n, True), *extra])

    def on_failure(held: dict, request: gr.Request):
        text = held.get("text") or tr(lang_of(request), "common.not_started")
        held["text"] = ""
        return [*switched(n, True), text]

    def run(*args):
        bound = dict(zip([*names, "_reason", "request", "progress"], args, strict=True))
        held, request, progress = bound.pop("_reason"), bound.pop("request"), bound.pop("progress")
        held["text"] = ""
        try:
            return job(bound, request, progress)
        except gr.Error as exc:
            held["text"] = exc.message
            raise
        except Exception as exc:
            held["text"] = tr(lang_of(request), "err.unexpected", detail=type(exc).__name__)
            raise

    # gradio reads the parameters (their names for the API; gr.Request and gr.Progress, which it
    # fills in itself) from the signature and the annotations.
    run.__signature__ = inspect.Signature(
        [*_parameters(names, defaults or {}),
         inspect.Parameter("_reason", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None),
         inspect.Parameter("request", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None, annotation=gr.Request),
         inspect.Parameter("progress", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=gr.Progress())])
    run.__annotations__ = {"request": gr.Request}
    run.__name__ = getattr(job, "__name__", "run")
    run.__doc__ = job.__doc__

    started = button.click(off, list(before_inputs), [*buttons, status, *before_outputs], queue=False,
                           api_visibility="private", trigger_mode="once")
    finished = started.then(gpu(run) if on_gpu else run, [*inputs.values(), reason], outputs, trigger_mode="once", **event)
    finished.then(on, list(after_inputs), [*buttons, *after_outputs], queue=False, api_visibility="private")
    finished.failure(on_failure, [reason], [*buttons, status], queue=False, api_visibility="private",
                     show_progress="hidden")


def _parameters(names: list[str], defaults: dict) -> list[inspect.Parameter]:
    """The job's parameters as the API lists them: required ones, then those with a default."""
    out, optional = [], False
    for name in names:
        optional = optional or name in defaults
        kwargs = {"default": defaults.get(name)} if optional else {}
        out.append(inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD, **kwargs))
    return out


def preview(image: Image.Image | None, side: int = PREVIEW_SIDE) -> Image.Image | None:
    """The picture at most `side` pixels on its longer side: a 24 MP photo shown in the page need
    not be encoded and sent at full size (its download is)."""
    if image is None or max(image.size) <= side:
        return image
    scale = side / max(image.size)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)
