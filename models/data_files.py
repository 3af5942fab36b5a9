"""Data files an operator adds or edits (LoRA style metadata, shop presets, ad background styles):
a broken one is skipped, with a warning in the log naming its full path, and reported as a
`DataProblem` (its file name and a one-line message, no folder) that the Studio lists for the Status
tab. One bad file never stops the app or the CLI from starting."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class DataProblem:
    kind: str  # "style", "preset" or "backdrop"
    file: str  # the file's name, never its folder
    message: str  # one line, no server path

    def line(self) -> str:
        return f"{self.kind} {self.file}: {self.message}"


def skipped(kind: str, path: Path, message: str, log: logging.Logger) -> DataProblem:
    """Log that `path` is skipped (the operator reads the full path there) and describe it for others."""
    log.warning("skipping the %s file %s: %s", kind, path, message)
    return DataProblem(kind, path.name, message)
