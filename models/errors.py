"""Errors whose message is meant for the user: one line, no traceback, says what to do."""


class IntactError(Exception):
    """Base for problems the user can act on. `str(exc)` is shown as it is."""


class InputError(IntactError, ValueError):
    """The user's input (image, mask, prompt, option) cannot be used as given."""
