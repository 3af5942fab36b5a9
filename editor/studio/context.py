"""Who a job runs for and how the caller follows it: session, owner, progress, cancellation."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from editor.errors import IntactError

# progress(stage, step, total): stages are "prepare", "load", "invert", "edit", "generate",
# "cutout", "background", "format", "product" (one per product of a batch), "decode", "save".
# Raising inside it cancels the run.
Progress = Callable[[str, int, int], None]


class JobCancelled(IntactError):
    """The user cancelled the job; nothing of it was saved."""

    key = "cancelled"


@dataclass
class JobContext:
    """session: the client's session id (a browser tab, a CLI run); edits of one session reuse its
    inversion and its ad builds reuse its cut-out. owner: a non-reversible tag stored with saved
    results (the gallery shows each owner their own). save: keep the results in the output store.
    progress: called at every step of every stage. cancel: set it to stop the job at the next step.
    earlier_inversions: how many earlier jobs of this session left an inversion, as the caller counted
    them; a serving front end sends it, so a replica that never saw the session knows the session's
    inversion was made on another replica (its report says so) rather than never made."""

    session: str | None = None
    owner: str | None = None
    save: bool = True
    progress: Progress | None = None
    cancel: threading.Event = field(default_factory=threading.Event)
    earlier_inversions: int = 0
    started: float = field(default_factory=time.perf_counter)  # when the job was asked for

    def waited(self) -> float:
        """Seconds since the job was asked for: what the user waited, saving included."""
        return time.perf_counter() - self.started

    def report(self, stage: str, step: int, total: int) -> None:
        """The progress callback handed to the domain: checks for cancellation at every step."""
        if self.cancel.is_set():
            raise JobCancelled("The job was cancelled; nothing was saved.")
        if self.progress is not None:
            self.progress(stage, step, total)


T = TypeVar("T")


class RunningJobs(Generic[T]):
    """What each session is running now, so `cancel(session)` can reach it: the Studio keeps the
    jobs' contexts, the serving client the jobs it follows. A session may run more than one job at
    once (a tap to select while its edit runs); cancel stops them all, so a short job started
    later never hides the long one from the Cancel button."""

    def __init__(self):
        self._lock = threading.Lock()
        self._jobs: dict[str, list[T]] = {}

    @contextmanager
    def running(self, session: str | None, job: T) -> Iterator[T]:
        """`job` is one of the session's running jobs inside the block (nothing is kept without a
        session)."""
        if session is None:
            yield job
            return
        with self._lock:
            self._jobs.setdefault(session, []).append(job)
        try:
            yield job
        finally:
            with self._lock:
                jobs = self._jobs.get(session, [])
                jobs[:] = [other for other in jobs if other is not job]
                if not jobs:
                    self._jobs.pop(session, None)

    def of(self, session: str) -> list[T]:
        """The session's running jobs, oldest first (empty when none runs)."""
        with self._lock:
            return list(self._jobs.get(session, ()))
