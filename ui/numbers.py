"""Number inputs that let a non-finite value through to the request's own check.

Gradio's `Number` and `Slider` round what a client sends before the handler runs; a raw API
client sending NaN or infinity (or 1e400, which JSON reads as infinity) made that rounding fail
with a multi-line "Could not preprocess input component ... cannot convert float NaN to integer".
Here such a value reaches the handler as it is, and the request's field check (`editor.validation`)
refuses it with its one line in the user's language, naming the field ("seed must be a whole
number ..."). Finite values are preprocessed exactly as Gradio does."""

from __future__ import annotations

import math

import gradio as gr


def _non_finite(payload) -> bool:
    return isinstance(payload, float) and not math.isfinite(payload)


class Number(gr.Number):
    def preprocess(self, payload):
        if _non_finite(payload):
            return payload
        return super().preprocess(payload)


class Slider(gr.Slider):
    def preprocess(self, payload):
        if _non_finite(payload):
            return payload
        return super().preprocess(payload)
