"""`StudioDeployment`: a Ray Serve deployment whose every replica holds one `Studio`.

Each replica owns what one Studio owns: one model manager (one model resident on its GPU), the
clients' edit sessions (their inversions, gigabytes each at real size) and their ad caches. So a
session's edits must come back to the replica that holds its inversion. Serve's model multiplexing
does that routing: the front end sends each job of a session with the session id as the
multiplexed model id, Serve sends it to the replica that has "loaded" that id, and a replica holds
at most `max_sessions` ids, unloading the least recently used one, which evicts that session's
inversion here. A session routed to a replica that does not hold it (the replica was restarted,
the session was evicted, replicas were scaled down) simply inverts again; the edit's report says
why (`recomputed (replica changed)` or `recomputed (evicted to make room)`).

A job is a streaming call: `run(job)` yields a `Step` per progress report while the job runs in a
worker thread, then `Finished` or `Failed`. Closing the stream early (the front end cancelled, or
went away) stops the job at its next step; `cancel(session)`, routed by the same multiplexed id,
reaches it too. Pictures come and go as files in the shared output folder (`serving.pictures`).
"""

from __future__ import annotations

import asyncio
import pickle
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

from ray import serve

from editor.errors import InputError, IntactError
from editor.studio import Studio, StudioConfig
from serving import pictures
from serving.wire import Failed, Finished, Job, Served, Step

# What a front end may ask any replica (cheap, loads no diffusion model): its machine's view of
# models, styles, presets, memory plans, the data files it skipped, and how a prompt would be
# translated (the translator lives where the jobs run).
LISTINGS = frozenset({"models", "default_model", "styles", "presets", "plan_preview", "data_problems",
                      "translate_preview"})


class SessionSlot:
    """A session as Serve's multiplexing sees it on this replica. Loading one is free (the
    inversion is made by the session's first edit); unloading one (least recently used, beyond
    the replica's bound) evicts the session's inversion here."""

    def __init__(self, studio: Studio, session: str):
        self.studio, self.session = studio, session
        self._unloaded = False

    def __del__(self):
        # Serve calls this on unload, then the garbage collector may call it again: evict once.
        if not self._unloaded:
            self._unloaded = True
            self.studio.evict(self.session)


@serve.deployment(name="StudioDeployment", max_ongoing_requests=16, graceful_shutdown_timeout_s=30)
class StudioDeployment:
    def __init__(self, config: StudioConfig, max_sessions: int = 2, job_threads: int = 16):
        keep_replica_server_on_loopback()
        # The replica's Studio keeps as many inversions as Serve lets it hold sessions, so the two
        # bounds agree: every session Serve routes here by id is one this Studio may hold.
        self.studio = Studio(replace(config, max_edit_sessions=max_sessions))
        self.replica = serve.get_replica_context().replica_id.to_full_id_str()
        self._pool = ThreadPoolExecutor(max_workers=job_threads, thread_name_prefix="studio-job")
        studio = self.studio

        async def hold_session(session: str) -> SessionSlot:
            return SessionSlot(studio, session)

        # Decorated here, not on the class, so the bound comes from the deployment's arguments.
        self._hold_session = serve.multiplexed(max_num_models_per_replica=max(1, int(max_sessions)))(hold_session)

    async def run(self, job: Job):
        """Run one job of the Studio; yields `Step`s, then `Finished` or `Failed`."""
        session = serve.get_multiplexed_model_id() or None
        if session != job.session:  # never run one session's job under another's id
            raise ValueError(f"job for session {job.session!r} routed with id {session!r}")
        if session is not None:
            await self._hold_session(session)
        loop = asyncio.get_running_loop()
        events: asyncio.Queue = asyncio.Queue()

        def progress(stage: str, step: int, total: int) -> None:
            loop.call_soon_threadsafe(events.put_nowait, Step(stage, int(step), int(total)))

        ctx = job.context(progress)
        work = loop.run_in_executor(self._pool, self._work, job, ctx)
        work.add_done_callback(lambda _: events.put_nowait(None))  # after every step it reported
        handed = False
        try:
            while (event := await events.get()) is not None:
                yield event
            answer = work.result()
            handed = True  # from here the answer's files are the front end's to read and remove
            yield answer
        finally:
            ctx.cancel.set()  # the stream ended early: stop the job at its next step
            if not handed:  # the answer will never be read: its scratch files go when it is made
                work.add_done_callback(_discard_answer)

    def _work(self, job: Job, ctx) -> Finished | Failed:
        return self._answer(lambda request: getattr(self.studio, job.kind)(request, ctx), job.request, job.kind)

    def _answer(self, call, request, kind: str) -> Finished | Failed:
        """`call(request)` on this replica's Studio, its request's pictures read from their files and
        its outcome's pictures written as files (`serving.pictures`); a failure as `Failed`."""
        try:
            outcome = call(pictures.unpack(request))
            packed = pictures.pack_answer(outcome, self.studio.store, kind)
        except Exception as exc:  # noqa: BLE001 - sent back whole; the front end raises it
            return Failed(_sendable(exc), self.served())
        return Finished(packed, self.served())

    async def prepare_select(self, image) -> Finished | Failed:
        """Prepare a photo for tap to select here (`Studio.prepare_select`). Sent with the session's
        id, like its taps: the session is held here from now on, so its taps come to this replica
        and find the photo prepared."""
        session = serve.get_multiplexed_model_id() or None
        if session is not None:
            await self._hold_session(session)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self._answer, self.studio.prepare_select, image, "prepare_select")

    def served(self) -> Served:
        return Served(self.replica, self.studio.resident(), self.studio.last_plan)

    def cancel(self, session: str) -> bool:
        """Stop the session's running job here at its next step; False when none runs here."""
        return self.studio.cancel(session)

    def forget(self, session: str) -> None:
        self.studio.forget(session)

    def ask(self, name: str, *args):
        """A listing of this replica's Studio (see LISTINGS)."""
        if name not in LISTINGS:
            raise ValueError(f"not a listing: {name!r}")
        return getattr(self.studio, name)(*args)

    def holding(self) -> dict:
        """What this replica holds now: for operators and tests."""
        return {"replica": self.replica, "inversions": self.studio.sessions.holding_inversions,
                "resident": self.studio.resident()[0]}


def keep_replica_server_on_loopback() -> None:
    """Serve starts an inter-deployment gRPC server in every replica bound to all interfaces
    ("[::]:0"), whatever the node's address, with no setting to change that (Ray 2.60). Our handles
    use Ray's actor calls, not that server. On a node that lives on 127.0.0.1 (a local cluster),
    bind it to 127.0.0.1 as well, so a loopback cluster opens no port to the network. Called in the
    replica before Serve starts that server (tests/serving checks every listening socket)."""
    import ray
    from ray.serve._private import replica

    if ray.util.get_node_ip_address() not in ("127.0.0.1", "::1"):
        return
    bind = getattr(replica, "add_port_to_grpc_server", None)
    if bind is None or getattr(bind, "on_loopback", False):
        return

    def bind_on_loopback(server, address):
        return bind(server, "127.0.0.1:0" if address == "[::]:0" else address)

    bind_on_loopback.on_loopback = True
    replica.add_port_to_grpc_server = bind_on_loopback


def _discard_answer(work) -> None:
    """A job's answer that no front end will read: the scratch files it holds are removed."""
    if work.cancelled() or work.exception() is not None:
        return
    answer = work.result()
    if isinstance(answer, Finished):
        pictures.discard(answer.outcome)


def _sendable(exc: Exception) -> Exception:
    """The error as it is when it survives pickling both ways (most IntactErrors do, with their key,
    field and values); an IntactError that does not (one built from a richer object) as a plain one
    with the same message, key, field, values and operator hint; anything else as a RuntimeError
    naming it. So the stream always delivers the failure, and the front end shows the same words."""
    if _round_trips(exc):
        return exc
    if isinstance(exc, IntactError):
        plain = (InputError if isinstance(exc, InputError) else IntactError)(
            str(exc), key=exc.key, field=getattr(exc, "field", None), **getattr(exc, "values", {}))
        plain.operator_hint = getattr(exc, "operator_hint", "")
        if _round_trips(plain):
            return plain
    return RuntimeError(f"{type(exc).__name__}: {exc}")


def _round_trips(exc: Exception) -> bool:
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:  # noqa: BLE001 - any pickling problem
        return False
    return True
