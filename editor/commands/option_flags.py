"""Command-line flags made from the one declaration of a job's options (editor/options.py).

The flags only parse text into numbers; the limits are the request's, so the CLI refuses exactly
what the app and the API refuse, with the same one-line message (plus "(see --flag)").
"""

from __future__ import annotations

from collections.abc import Iterable

from editor.options import Option

_TYPES = {"whole": int, "number": float}


def add_option_flags(parser, options: Iterable[Option], skip: Iterable[str] = ()) -> None:
    """One flag per option (those named in `skip` are set another way, e.g. --size)."""
    skipped = set(skip)
    for option in options:
        if option.name in skipped:
            continue
        default = option.default
        if option.kind == "flag":
            parser.add_argument(option.flag, dest=option.name, action="store_true", help=option.doc)
            continue
        shown = "" if default is None or "default" in option.doc else f" (default {default})"
        extra = {"choices": option.choices} if option.kind == "choice" else {"type": _TYPES[option.kind]}
        parser.add_argument(option.flag, dest=option.name, default=default, help=option.doc + shown, **extra)


def option_values(args, options: Iterable[Option], skip: Iterable[str] = ()) -> dict:
    """The parsed values of those flags, by request field."""
    skipped = set(skip)
    return {option.name: getattr(args, option.name) for option in options if option.name not in skipped}
