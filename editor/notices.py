"""A note for the user that is not an error (a cut-out to check, a translation to review)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Notice:
    """Neutral English for any front end, plus a message-catalogue key and the values that fill it."""

    key: str  # e.g. "cutout_check.tiny": the UI shows its own text for the key, filled with `values`
    message: str  # one line, names no flag, widget or path
    values: dict = field(default_factory=dict)

    @property
    def code(self) -> str:
        return self.key.rsplit(".", 1)[-1]

    def to_report(self) -> dict:
        return {"code": self.code, "key": self.key, "message": self.message, "values": dict(self.values)}
