"""The checks an `AdRequest` makes on itself when it is made, as every Studio request does: a pasted
page of ad copy, a megabyte prompt or a NaN seed is refused in microseconds, with one line naming
the field, before it holds a queue slot, a cut-out or a model. Limits live in `editor.limits`."""

from __future__ import annotations

from dataclasses import fields

from editor.errors import InputError
from editor.limits import MAX_AD_FORMATS, MAX_AD_TEXT_CHARS, MAX_NAME_CHARS, MAX_PROMPT_CHARS, MAX_SEED, MAX_STEPS
from editor.validation import flag, number, text, whole

# Fields that name something picked from a list (where the request has them).
NAME_FIELDS = ("model", "preset", "background_style", "backdrop", "remover", "accent")


def check_ad_request(request) -> None:
    """Raise InputError for the first field of `request` that is out of bounds."""
    present = {f.name for f in fields(request)}
    for name in present & MAX_AD_TEXT_CHARS.keys():
        text(name, getattr(request, name), MAX_AD_TEXT_CHARS[name])
    if request.background_prompt is not None:
        text("background_prompt", request.background_prompt, MAX_PROMPT_CHARS, "background prompt")
    for name in present.intersection(NAME_FIELDS):
        if getattr(request, name) is not None:
            text(name, getattr(request, name), MAX_NAME_CHARS)
    _check_formats(request.formats)
    whole("seed", request.seed, 0, MAX_SEED)
    if request.steps is not None:
        whole("steps", request.steps, 1, MAX_STEPS)
    number("scale", request.scale, 0.05, 1.0)
    flag("around_product", request.around_product)


def _check_formats(formats) -> None:
    if not isinstance(formats, (tuple, list)) or not all(isinstance(f, str) for f in formats):
        raise InputError("The ad formats must be a list of format names.", key="bad_formats", field="formats")
    if not formats:
        raise InputError("Pick at least one ad format.", key="ad_no_format", field="formats")
    if len(formats) > MAX_AD_FORMATS:
        raise InputError(f"Too many ad formats ({len(formats)}, at most {MAX_AD_FORMATS}).", key="too_many_formats",
                         field="formats", count=len(formats), limit=MAX_AD_FORMATS)
    for name in formats:
        text("formats", name, MAX_NAME_CHARS, "ad format")
