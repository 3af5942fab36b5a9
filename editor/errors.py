"""User-facing errors, for the domain layer and above. Defined in `models.errors` because the
model backends (the lowest layer) raise them too; this module is where the rest of the code
imports them from."""

from models.errors import InputError, IntactError

__all__ = ["IntactError", "InputError"]
