"""`StudioClient`: what the app calls on a `Studio`, answered by the `StudioDeployment` replicas.

The UI gets it in place of a `Studio` (`Services(config, studio=client)`) and calls the same
methods with the same requests and `JobContext`s:

- jobs (`edit`, `invert`, `cutout`, `make_ad`, `generate`) go to a replica as a streaming call; each
  `Step` the replica sends is handed to the context's progress callback here, the outcome or the
  error comes back as the Studio would have returned or raised it. A session's jobs carry its id
  as Serve's multiplexed model id, so they reach the replica holding its inversion, and the number
  of the session's earlier inversions, so a replica that never saw it can say the replica changed.
- `cancel(session)` goes to the replica holding the session (same multiplexed id); if it cannot
  reach the job there, the job's stream is closed, which stops it at its next step.
- pictures travel as files in the shared output folder, never through Ray (`serving.pictures`):
  the request's big pictures are written there for the replica (and removed when the job ends); the
  outcome comes back with the saved job's paths and the report, and its pictures are read from the
  saved files when the UI first uses them (the ones not saved, as scratch files read and removed
  at once; an edit's `before` and `mask` from the request, as the job read them).
- `prepare_select(image, session)` prepares a photo for tap to select on the replica that will
  answer the session's taps (the same multiplexed id).
- a replica lost before the job started saving (killed, restarted, its node gone) is replaced:
  the job is sent again and runs on another replica, inverting again where it must.
- the gallery (`saved_results`, `delete_result`) is read here from the output folder that every
  replica writes to, so it answers while the replicas are busy; listings (`models`, `styles`,
  `presets`, `plan_preview`) are asked of a replica, since they describe the machines jobs run on.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from editor.errors import IntactError
from editor.studio import JobCancelled, JobContext, Studio, StudioConfig
from editor.studio.context import RunningJobs
from editor.studio.studio import _ad_model_task
from models.vocabulary import KV_EDIT
from serving import pictures
from serving.wire import Failed, Finished, Job, Served, Step

log = logging.getLogger("intact.serving")

# Inversion notes after which the session holds an inversion on the replica that answered.
HOLDS_INVERSION = ("computed", "reused", "recomputed")
# Sessions whose inversion count the client remembers (a forgotten one just says "computed").
MAX_TRACKED_SESSIONS = 100_000
ASK_TIMEOUT_S = 120.0
CANCEL_TIMEOUT_S = 10.0
# The Status tab must answer while the replicas are down (restarting after a crash, a node lost):
# what it asks of them waits this long, then the front end answers from what it knows.
STATUS_TIMEOUT_S = 1.0
# After one unanswered question, the others of the next seconds are answered here at once (one
# Status refresh asks two or three: it must not wait a second for each).
STATUS_QUIET_S = 5.0


def replica_lost_errors() -> tuple[type[BaseException], ...]:
    """What a call raises when the replica it went to is gone (killed, restarted, node lost)."""
    from ray import exceptions

    return tuple(getattr(exceptions, name) for name in ("RayActorError", "ActorDiedError", "ActorUnavailableError")
                 if hasattr(exceptions, name))


@dataclass(eq=False)
class _Running:
    """A job this client is following, so `cancel(session)` can reach it."""

    ctx: JobContext
    handle: object
    remote_cancel: bool | None = None  # None: not asked yet; else whether the replica found the job


class StudioClient:
    def __init__(self, handle, config: StudioConfig, *, cpu_handle=None, parallel_jobs: int = 1,
                 retries: int = 2):
        """`handle`: the StudioDeployment's handle; `cpu_handle`: an optional deployment of CPU
        replicas for cut-outs and ads without a diffusion model; `parallel_jobs`: how many jobs
        the app should keep in flight (the app's accelerator queue limit); `retries`: how often a
        job is sent again after its replica was lost."""
        self._handle = handle
        self._cpu_handle = cpu_handle
        self._gallery = Studio(config)  # reads the shared output folder; never runs a job
        self.config = config
        self.parallel_jobs = max(1, int(parallel_jobs))
        self.retries = max(0, int(retries))
        self._lock = threading.Lock()
        self._inversions: OrderedDict[str, int] = OrderedDict()
        self._running: RunningJobs[_Running] = RunningJobs()
        self._served: Served | None = None
        self.last_plan: dict | None = None  # the `memory_plan` of the latest model job (Status tab)
        self._status_answers: dict[tuple, object] = {}  # the replicas' last answers for the Status tab
        self.replicas_restarting = False  # the last Status question went unanswered (the Status tab says so)
        self._unanswered_at = float("-inf")  # monotonic time of the last unanswered Status question
        self._status_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="status-ask")
        self._status_pending: dict[tuple, Future] = {}

    # --- jobs ---------------------------------------------------------------------------------

    def edit(self, request, context: JobContext | None = None):
        return self._run("edit", request, context)

    def invert(self, request, context: JobContext | None = None):
        return self._run("invert", request, context)

    def cutout(self, request, context: JobContext | None = None):
        return self._run("cutout", request, context)

    def select(self, request, context: JobContext | None = None):
        return self._run("select", request, context)

    def prepare_select(self, image, session: str | None = None) -> bool:
        """Prepare the photo on the replica that will answer the session's taps: sent with the
        session's id as its taps are (the CPU replicas when there are some), it makes that replica
        hold the session, so the first tap finds the photo prepared. A replica lost or too slow to
        answer only means the first tap prepares the photo itself: False then."""
        handle = self._handle_for("select", None)
        if session is not None:
            handle = handle.options(multiplexed_model_id=session)
        with self._sent_as_files(image) as sent:
            try:
                answer = handle.prepare_select.remote(sent).result(timeout_s=ASK_TIMEOUT_S)
            except (*replica_lost_errors(), TimeoutError):
                log.warning("could not reach a replica to prepare a photo for tap to select", exc_info=True)
                return False
        if isinstance(answer, Failed):
            raise answer.error
        return bool(answer.outcome)

    def make_ad(self, request, context: JobContext | None = None):
        return self._run("make_ad", request, context)

    def make_ads_batch(self, request, context: JobContext | None = None):
        return self._run("make_ads_batch", portable(request), context)

    def generate(self, request, context: JobContext | None = None):
        return self._run("generate", request, context)

    # --- session control ----------------------------------------------------------------------

    def cancel(self, session: str) -> bool:
        """Stop the session's running jobs at their next step; False when none is running."""
        running = self._running.of(session)
        for job in running:
            job.ctx.cancel.set()
            job.remote_cancel = self._cancel_remote(job.handle, session)
        return bool(running)

    def forget(self, session: str) -> None:
        """The client is gone: the replica holding it frees its inversion and ad cache."""
        with self._lock:
            self._inversions.pop(session, None)
        for handle in self._handles():
            try:
                handle.options(multiplexed_model_id=session).forget.remote(session).result(timeout_s=CANCEL_TIMEOUT_S)
            except Exception:  # noqa: BLE001 - a lost forget only delays freeing (the bound still holds)
                log.warning("could not reach a replica to forget a session", exc_info=True)

    # --- listings -----------------------------------------------------------------------------

    def models(self, task: str | None = None):
        return self._ask("models", task)

    def default_model(self, task: str | None = None, preferred: str | None = None) -> str:
        return self._ask("default_model", task, preferred)

    def styles(self) -> dict:
        return self._ask("styles")

    def presets(self) -> dict:
        return self._ask("presets")

    def plan_preview(self, model: str):
        # Without an answer: the plan for this machine's own memory, planned here without a model.
        return self._ask_for_status(("plan_preview", model), lambda: self._gallery.plan_preview(model))

    def data_problems(self) -> list:
        return self._ask_for_status(("data_problems",), list)

    def translate_preview(self, text: str, model: str | None, task: str = KV_EDIT):
        """How `text` would reach `model`, asked of a replica (it holds the translator model)."""
        return self._ask("translate_preview", text, model, task)

    def resident(self) -> tuple[str | None, list[str]]:
        """The model resident on the replica that ran the latest job (None before any job)."""
        if self._served is None:
            return None, []
        loaded, notes = self._served.resident
        return loaded, list(notes)

    @property
    def brands(self):
        """The shops' brand kits, kept where this app keeps them: the app puts the chosen kit into
        the ad request itself, so replicas never read this store."""
        return self._gallery.brands

    def saved_results(self, owner: str | None = None, only_owner: bool = False, limit: int = 200):
        return self._gallery.saved_results(owner, only_owner=only_owner, limit=limit)

    def delete_result(self, job_id: str, owner: str | None) -> bool:
        return self._gallery.delete_result(job_id, owner)

    # --- how a job is followed -------------------------------------------------------------------

    def _run(self, kind: str, request, context: JobContext | None):
        ctx = context or JobContext()
        handle = self._handle_for(kind, request)
        if ctx.session is not None:
            handle = handle.options(multiplexed_model_id=ctx.session)
        with self._running.running(ctx.session, _Running(ctx, handle)) as running, \
                self._sent_as_files(request) as sent:
            for attempt in range(self.retries + 1):
                job = Job.of(kind, sent, ctx, self._earlier_inversions(ctx.session))
                saving = [False]
                try:
                    return self._follow(handle.options(stream=True).run.remote(job), running, saving, request)
                except replica_lost_errors() as exc:
                    # Resend only when nothing of the job can have been saved: a retry must never
                    # save a result twice.
                    if saving[0]:
                        log.warning("replica lost while saving a %s job", kind, exc_info=True)
                        raise IntactError("The server restarted while saving your result: look for it in the "
                                          "gallery; if it is not there, run the job again.",
                                          key="replica_lost_saving") from None
                    if attempt == self.retries:
                        log.warning("replica lost %d times during a %s job", attempt + 1, kind, exc_info=True)
                        raise IntactError("The servers are restarting: the job could not be run. Try again in a "
                                          "minute.", key="replicas_restarting") from None
                    log.warning("replica lost during a %s job (%s); sending it again", kind, type(exc).__name__)

    @contextmanager
    def _sent_as_files(self, request):
        """The request with its big pictures written as files in the shared output folder
        (`serving.pictures`): the replica maps them instead of receiving them through Ray. They are
        this front end's: removed when the job ends (retries on another replica read them again)."""
        packing = pictures.Packing(self._gallery.store, owned=False)
        try:
            yield packing.pack(request)
        finally:
            packing.discard()

    def _follow(self, stream, running: _Running, saving: list[bool], request):
        ctx = running.ctx
        for event in stream:
            if isinstance(event, Step):
                saving[0] = saving[0] or event.stage == "save"
                if ctx.cancel.is_set():
                    self._cancel(stream, running)
                else:
                    try:
                        ctx.report(event.stage, event.step, event.total)
                    except BaseException:
                        # The caller's progress callback stopped the job: stop it on the replica too.
                        ctx.cancel.set()
                        stream.cancel()
                        raise
            elif isinstance(event, Finished):
                # The pictures are files in the shared output folder: opened (saved ones are read
                # from disk when first used), scratch files mapped and removed.
                outcome = pictures.unpack(event.outcome, request)
                self._note(ctx.session, event.served, outcome)
                return outcome
            elif isinstance(event, Failed):
                self._served = event.served
                raise event.error
        raise RuntimeError("the replica's answer ended without an outcome")

    def _cancel(self, stream, running: _Running) -> None:
        """The job was cancelled here: the replica running it stops it and answers JobCancelled;
        when the cancel did not find it there, closing the stream stops it at its next step."""
        if running.remote_cancel is None and running.ctx.session is not None:
            running.remote_cancel = self._cancel_remote(running.handle, running.ctx.session)
        if not running.remote_cancel:
            stream.cancel()
            raise JobCancelled("The job was cancelled; nothing was saved.")

    @staticmethod
    def _cancel_remote(handle, session: str) -> bool:
        try:
            return bool(handle.cancel.remote(session).result(timeout_s=CANCEL_TIMEOUT_S))
        except Exception:  # noqa: BLE001 - then the stream is closed instead
            log.warning("could not reach the replica to cancel a job", exc_info=True)
            return False

    def _note(self, session: str | None, served: Served, outcome) -> None:
        """Remember what the answer says: the session's inversions, the replica's memory plan."""
        self._served = served
        report = getattr(outcome, "report", None)
        if not isinstance(report, dict):
            return
        report["served_by"] = served.replica
        if report.get("memory_plan"):
            self.last_plan = report["memory_plan"]
        if session is not None and str(report.get("inversion", "")).startswith(HOLDS_INVERSION):
            with self._lock:
                self._inversions[session] = self._inversions.pop(session, 0) + 1
                while len(self._inversions) > MAX_TRACKED_SESSIONS:
                    self._inversions.popitem(last=False)

    def _earlier_inversions(self, session: str | None) -> int:
        if session is None:
            return 0
        with self._lock:
            return self._inversions.get(session, 0)

    def _handle_for(self, kind: str, request):
        """Cut-outs and ads without a diffusion model go to the CPU replicas when there are some."""
        if self._cpu_handle is None:
            return self._handle
        ad = request.template if kind == "make_ads_batch" else request
        if kind in ("cutout", "select") or (kind in ("make_ad", "make_ads_batch") and _ad_model_task(ad) is None):
            return self._cpu_handle
        return self._handle

    def _handles(self) -> list:
        return [h for h in (self._handle, self._cpu_handle) if h is not None]

    def _ask(self, name: str, *args):
        return self._handle.ask.remote(name, *args).result(timeout_s=ASK_TIMEOUT_S)

    def _ask_for_status(self, question: tuple, fallback):
        """A replica's answer within STATUS_TIMEOUT_S; else its last answer (or `fallback()`), and
        `replicas_restarting` set so the Status tab says the replicas are restarting. The question
        is asked on a thread of its own and waited for with a deadline here: with the replicas down,
        Ray's own call can block for longer than its timeout (routing, a dead actor's handle)."""
        try:
            if time.monotonic() - self._unanswered_at < STATUS_QUIET_S:
                raise TimeoutError("the replicas did not answer the previous question")
            with self._lock:
                pending = self._status_pending.get(question)
                if pending is None or pending.done():  # never two of the same question in flight
                    pending = self._status_pool.submit(self._ask, *question)
                    self._status_pending[question] = pending
            answer = pending.result(timeout=STATUS_TIMEOUT_S)
        except Exception:  # noqa: BLE001 - a timeout, a replica lost, no replica at all: all "not now"
            if time.monotonic() - self._unanswered_at >= STATUS_QUIET_S:
                log.warning("the replicas did not answer %s within %.0f s", question[0], STATUS_TIMEOUT_S)
                self._unanswered_at = time.monotonic()
            self.replicas_restarting = True
            with self._lock:
                if question in self._status_answers:
                    return self._status_answers[question]
            return fallback()
        self.replicas_restarting = False
        with self._lock:
            self._status_answers[question] = answer
        return answer


def portable(request):
    """A batch request whose photos and CSV are files on this machine, with their bytes instead: a
    replica may run on another machine. A file that cannot be read stays a path, so the replica
    reports it as the Studio does."""
    products = tuple(_file_bytes(p) or p for p in request.products)
    csv = _file_bytes(request.copy_csv)
    return replace(request, products=products, copy_csv=csv[1] if csv else request.copy_csv)


def _file_bytes(source) -> tuple[str, bytes] | None:
    """(name, bytes) of a file named by a path; None for anything else or a file not readable."""
    if not isinstance(source, (str, os.PathLike)) or (isinstance(source, str) and "\n" in source):
        return None
    try:
        return Path(source).name, Path(source).read_bytes()
    except OSError:
        return None
