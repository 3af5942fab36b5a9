"""What crosses between the front end and a Studio replica: plain, picklable messages.

A job goes out as one `Job` (the request: plain data, its big pictures as files in the shared
output folder, `serving.pictures`). It comes back as a stream: a `Step` for each progress report of
the job (the replica cannot call the front end's progress callback, so it sends what it would have
been called with), then one `Finished` with the outcome or one `Failed` with the error. A
`JobContext` itself never crosses: its progress callback and cancel event belong to the process
that made them. No message holds a picture: a 36 MP job's `Finished` is a few kilobytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from editor.studio import JobContext

# The Studio's job methods a front end may call remotely, by name.
JOB_KINDS = ("edit", "invert", "cutout", "select", "make_ad", "make_ads_batch", "generate")


@dataclass(frozen=True)
class Job:
    kind: str  # one of JOB_KINDS
    request: Any
    session: str | None = None
    owner: str | None = None
    save: bool = True
    earlier_inversions: int = 0  # the front end's count for this session (see JobContext)

    def __post_init__(self):
        if self.kind not in JOB_KINDS:
            raise ValueError(f"unknown job kind {self.kind!r}")

    @classmethod
    def of(cls, kind: str, request, ctx: JobContext, earlier_inversions: int = 0) -> Job:
        return cls(kind, request, ctx.session, ctx.owner, ctx.save, earlier_inversions)

    def context(self, progress) -> JobContext:
        """The replica's own context for this job (its progress callback, its cancel event)."""
        return JobContext(session=self.session, owner=self.owner, save=self.save, progress=progress,
                          earlier_inversions=self.earlier_inversions)


@dataclass(frozen=True)
class Step:
    """One progress report: progress(stage, step, total) as the job called it on the replica."""

    stage: str
    step: int
    total: int


@dataclass(frozen=True)
class Served:
    """Which replica ran a job and what it holds after it (for the front end's status line)."""

    replica: str  # the Serve replica's full id (also its actor name in the "serve" namespace)
    resident: tuple  # Studio.resident() there: (loaded model or None, notes)
    last_plan: dict | None


@dataclass(frozen=True)
class Finished:
    """The job's outcome as the Studio returned it, with its pictures as files (`serving.pictures`):
    the report, the saved job's paths, and where each picture is (the front end reads them there)."""

    outcome: Any
    served: Served


@dataclass(frozen=True)
class Failed:
    """The job raised: the error itself (an IntactError keeps its key, field and values)."""

    error: BaseException
    served: Served
