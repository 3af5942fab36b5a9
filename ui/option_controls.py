"""The controls of a job's options, made from their one declaration (editor/options.py).

Each `Option` says its kind, limits, step, label and help keys and whether it is an expert
setting; the control follows: a slider within the option's limits for a number with a short
range, a number box for a long one (a seed), a checkbox for a flag, a picker with named choices
for a choice. Expert settings go into one closed "Expert settings" section. So the page cannot
offer a value the request refuses, nor refuse one it accepts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gradio as gr

from editor.options import Option
from ui.i18n import EN, named_label, t
from ui.numbers import Number, Slider  # a NaN from an API client reaches the request's own check

# Whole-number options with more values than this get a number box, not a slider.
MOST_SLIDER_STOPS = 1000
# The catalogue kind that names each choice option's values ("kv.auto", "speed.fast", ...).
CHOICE_WORDS = {"kv_cache": "kv", "speed": "speed"}


def option_control(option: Option, value: Any = None, elem_id: str | None = None) -> gr.Component:
    """The control for `option`, starting at `value` (the option's default when None)."""
    value = option.default if value is None else value
    words = {"label": t(option.label), "info": t(option.help) if option.help in EN else None, "elem_id": elem_id}
    if option.kind == "flag":
        return gr.Checkbox(bool(value), **words)
    if option.kind == "choice":
        kind = CHOICE_WORDS.get(option.name, option.name)
        return gr.Dropdown([(named_label(kind, str(choice)), choice) for choice in option.choices], value=value,
                           **words)
    stops = (option.high - option.low) / (option.step or 1)
    if value is None:  # an optional option left to the model: an empty box says "automatic"
        return Number(None, precision=0 if option.kind == "whole" else None, minimum=option.low,
                         maximum=option.high, step=option.step, **words)
    if option.kind == "whole" and stops > MOST_SLIDER_STOPS:
        return Number(value, precision=0, minimum=option.low, maximum=option.high, step=option.step, **words)
    return Slider(option.low, option.high, value=value, step=option.step, **words)


def option_controls(options: tuple[Option, ...], values: dict[str, Any], prefix: str,
                    names: tuple[str, ...] | None = None,
                    inside_expert: Callable[[], Any] | None = None) -> dict[str, gr.Component]:
    """Controls for `options` (only `names`, when given) in the current layout: everyday ones
    first, then the expert ones in one closed section (where `inside_expert()` may add more).
    Returns them by option name."""
    chosen = [o for o in options if names is None or o.name in names]
    made = {}
    for option in (o for o in chosen if not o.expert):
        made[option.name] = option_control(option, values.get(option.name), f"{prefix}-{option.name}")
    experts = [o for o in chosen if o.expert]
    if experts:
        with gr.Accordion(t("common.expert"), open=False, elem_id=f"{prefix}-expert"):
            for option in experts:
                made[option.name] = option_control(option, values.get(option.name), f"{prefix}-{option.name}")
            if inside_expert is not None:
                inside_expert()
    return made
