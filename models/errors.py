"""Errors whose message is meant for the user: one line, no traceback, says what to do.

Every error a user may see is an `IntactError`. Its message is neutral English that names no
command-line flag or UI widget, so every front end can show it. Two optional attributes let a
front end say more in its own terms:

- `key` and `values`: a message-catalogue key; the UI shows `err.<key>` in the user's language,
  filled with `values` (falling back to the English message when it has no translation);
- `field`: which input of the request is at fault ("mask", "background", ...); the CLI adds the
  flag that sets it, the UI may point at the widget;
- `operator_hint`: what only the machine's operator should read (a server path, a command): the
  CLI prints it, the app logs it, no browser sees it.
"""

from __future__ import annotations


class IntactError(Exception):
    """Base for problems the user can act on. `str(exc)` is the English message, shown as it is."""

    key: str | None = None  # subclasses may fix one
    operator_hint: str = ""  # subclasses may compute one

    def __init__(self, message: str, *, key: str | None = None, field: str | None = None,
                 operator_hint: str = "", **values):
        super().__init__(message)
        if key is not None:
            self.key = key
        if operator_hint:
            self.operator_hint = operator_hint
        self.field = field
        self.values = values


class InputError(IntactError, ValueError):
    """The user's input (image, mask, prompt, option) cannot be used as given."""
