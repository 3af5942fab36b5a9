"""Progress of a long CLI run on stderr: one updating line on a terminal, finished stages otherwise.

Every subcommand that runs a model reports `progress(stage, step, total)`. On a terminal the line
is rewritten in place (`\\r`); in a log or a pipe, carriage returns would make one unreadable line,
so only each finished stage is printed, on its own line.
"""

from __future__ import annotations

import sys
from typing import Iterable, TextIO

# Checking the inputs takes no time worth showing, and a refused input must stay one line on stderr.
QUIET_STAGES = frozenset({"prepare"})


class StageProgress:
    """progress(stage, step, total) for the CLI. `stages`: only these are shown (default: all but
    the quiet ones)."""

    def __init__(self, stages: Iterable[str] | None = None, stream: TextIO | None = None):
        self.stages = frozenset(stages) if stages is not None else None
        self._stream = stream

    @property
    def stream(self) -> TextIO:
        return self._stream if self._stream is not None else sys.stderr  # looked up late: tests swap stderr

    def _is_tty(self) -> bool:
        isatty = getattr(self.stream, "isatty", None)
        return bool(isatty and isatty())

    def __call__(self, stage: str, step: int, total: int) -> None:
        if stage not in self.stages if self.stages is not None else stage in QUIET_STAGES:
            return
        done = step >= total
        if self._is_tty():
            print(f"\r{stage} {step}/{total}", end="\n" if done else "", file=self.stream, flush=True)
        elif done:
            print(f"{stage} {step}/{total}", file=self.stream, flush=True)
