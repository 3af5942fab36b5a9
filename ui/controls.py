"""Run buttons that cannot start a job twice, and results shown at screen size.

A run button is switched off the moment it is clicked (before the job is queued) and on again
when the job ends, whatever the outcome; with gradio's `trigger_mode="once"` a double click sends
one job. The Cancel button stays on.
"""

from __future__ import annotations

import gradio as gr
from PIL import Image

from models.vocabulary import EXACT, SPEED_SETTINGS
from ui.i18n import named_label, t

PREVIEW_SIDE = 1600  # longest side of pictures shown in the page; the downloads keep full size


def speed_picker(elem_id: str) -> gr.Dropdown:
    """The speed setting (models/speed.py): exact, fast or fastest, in the user's language."""
    return gr.Dropdown([(named_label("speed", name), name) for name in SPEED_SETTINGS], value=EXACT,
                       label=t("common.speed"), info=t("common.speed_info"), elem_id=elem_id)


def switched(count: int, on: bool) -> list:
    return [gr.update(interactive=on) for _ in range(count)]


def while_running(trigger, buttons: list, run, inputs, outputs, *, before=None, before_inputs=(),
                  before_outputs=(), after=None, after_inputs=(), after_outputs=(), **event) -> None:
    """trigger.click: buttons off (and `before`), then `run`, then buttons on (and `after`)."""
    n = len(buttons)

    # gradio passes the request to a positional parameter annotated gr.Request: first, here.
    def off(request: gr.Request, *values):
        extra = before(request, *values) if before is not None else ()
        return [*switched(n, False), *extra]

    def on(request: gr.Request, *values):
        extra = after(request, *values) if after is not None else ()
        return [*switched(n, True), *extra]

    started = trigger.click(off, list(before_inputs), [*buttons, *before_outputs], queue=False,
                            api_visibility="private", trigger_mode="once")
    finished = started.then(run, inputs, outputs, trigger_mode="once", **event)
    finished.then(on, list(after_inputs), [*buttons, *after_outputs], queue=False, api_visibility="private")


def preview(image: Image.Image | None, side: int = PREVIEW_SIDE) -> Image.Image | None:
    """The picture at most `side` pixels on its longer side: a 24 MP photo shown in the page need
    not be encoded and sent at full size (its download is)."""
    if image is None or max(image.size) <= side:
        return image
    scale = side / max(image.size)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)
