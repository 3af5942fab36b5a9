"""Checks shared by every request type: one message per kind of bad value, naming the field.

A refused value is quoted in the message shortened (a pasted megabyte must not come back as a
megabyte-long error line)."""

from __future__ import annotations

import math
import re

from editor.errors import InputError

SHOWN_CHARS = 60  # how much of a refused value a message quotes
# A lone UTF-16 surrogate (raw JSON "\udcff", an undecodable byte on a command line) is not a
# character: it cannot be encoded as UTF-8, so it would fail late (saving the PNG, the tokenizer).
_SURROGATE = re.compile("[\ud800-\udfff]")


def shown(value) -> str:
    """`repr(value)`, cut to SHOWN_CHARS characters."""
    text = repr(value)
    return text if len(text) <= SHOWN_CHARS else text[: SHOWN_CHARS - 1] + "…"


def is_whole(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def whole(name: str, value, low: int, high: int, what: str | None = None) -> int:
    """`value` when it is a whole number in [low, high], else an InputError naming the field."""
    if not is_whole(value) or not low <= value <= high:
        raise InputError(f"{what or name} must be a whole number from {low} to {high}; got {shown(value)}.",
                         key="bad_whole", field=name, name=what or name, low=low, high=high, value=shown(value))
    return value


def number(name: str, value, low: float, high: float, what: str | None = None) -> float:
    """`value` when it is a finite number in [low, high] (NaN and infinity refused)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or not low <= value <= high:
        raise InputError(f"{what or name} must be a number from {low:g} to {high:g}; got {shown(value)}.",
                         key="bad_number", field=name, name=what or name, low=f"{low:g}", high=f"{high:g}",
                         value=shown(value))
    return float(value)


def text(name: str, value, limit: int, what: str | None = None, required: bool = False) -> str:
    """`value` when it is text of at most `limit` characters (and not blank, when required)."""
    label = what or name
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise InputError(f"The {label} must be text.", key="not_text", field=name, name=label)
    check_characters(name, value, label)
    if len(value) > limit:
        raise InputError(f"The {label} is too long ({len(value)} characters, at most {limit}).",
                         key="text_too_long", field=name, name=label, length=len(value), limit=limit)
    if required and not value.strip():
        raise InputError(f"The {label} is empty.", key="text_empty", field=name, name=label)
    return value


def check_characters(name: str, value: str, what: str | None = None) -> str:
    """`value` when every character in it can be written as UTF-8 (no lone surrogate)."""
    if _SURROGATE.search(value):
        label = what or name
        raise InputError(f"The {label} contains a broken character (not valid Unicode text); type it again.",
                         key="text_bad_characters", field=name, name=label)
    return value


def flag(name: str, value) -> bool:
    """`value` when it is true or false (not 1, not "yes")."""
    if not isinstance(value, bool):
        raise InputError(f"{name} must be true or false.", key="not_bool", field=name, name=name)
    return value


def choice(name: str, value, allowed, what: str | None = None) -> str:
    if value not in allowed:
        value_text = shown(value).strip("'\"") if isinstance(value, str) else shown(value)
        raise InputError(f"Unknown {what or name} '{value_text}'. Choose one of: {', '.join(map(str, allowed))}.",
                         key="bad_choice", field=name, name=what or name, value=value_text,
                         allowed=", ".join(map(str, allowed)))
    return value
