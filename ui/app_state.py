"""What the app holds for the whole process, and what it holds per browser session.

One `Services` object per process (made by `app.py`, passed to every tab builder): the model
manager and the output store, both created on first use so the app starts without weights.
Per-user things (an edit session with its inversion cache, an ad workflow, the session's edit
history) live in `gr.State` values owned by each browser session, never here.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

from models.vocabulary import AUTO, KV_CACHE_MODES, OFFLOAD_MODES

# "auto": the plan chooses; the others force a KV cache mode / an offload mode.
KV_CACHE_CHOICES = (AUTO, *KV_CACHE_MODES)
MEMORY_MODES = (AUTO, *OFFLOAD_MODES)


def default_output_dir() -> Path:
    from editor.storage import (
        default_root,  # the CLI and the app share one output folder
    )

    return default_root()


@dataclass(frozen=True)
class AppConfig:
    model: str  # default diffusion model shown in every tab
    output_dir: Path
    kv_cache: str = "auto"  # "auto" lets the memory plan choose
    memory_mode: str = "auto"
    device: str | None = None  # None: the manager picks (cuda when present)
    queue_size: int = 16
    session_ttl_s: int = 3600  # per-user state (inversion caches) is dropped after this idle time
    private_gallery: bool = False  # each browser session sees only its own results (public Spaces)
    # Inversions are large (GBs at full FLUX size): only this many sessions keep one; the least
    # recently used loses it and simply inverts again on its next edit.
    max_edit_sessions: int = 2


class Services:
    """Process-wide services. Heavy objects are created on first use, under a lock."""

    def __init__(self, config: AppConfig):
        self.config = config
        self._lock = threading.Lock()
        self._manager = None
        self._store = None
        self._translator = None
        # Per-session objects holding a pipeline and an inversion, least recently used first.
        # Weak references: the browser session owns them; we only release them (`track`,
        # `release_sessions`) so memory stays bounded and old weights can be freed.
        self._sessions: OrderedDict[int, weakref.ref] = OrderedDict()
        # The report's `memory_plan` entry of the latest model job (name, explanation, fallback_used).
        self.plan_in_use: dict | None = None

    @property
    def manager(self):
        with self._lock:
            if self._manager is None:
                from models.manager import ModelManager

                self._manager = ModelManager(device=self.config.device)
            return self._manager

    @property
    def manager_started(self) -> bool:
        return self._manager is not None

    @property
    def store(self):
        with self._lock:
            if self._store is None:
                from editor.storage import OutputStore

                self.config.output_dir.mkdir(parents=True, exist_ok=True)
                self._store = OutputStore(self.config.output_dir)
            return self._store

    @property
    def translator(self):
        """Korean→English for prompts; shares the manager's Marian model (loaded on first need)."""
        marian = self.manager.marian  # the same holder `editor.generate` uses: one Marian per process
        with self._lock:
            if self._translator is None:
                from editor.translate import Translator

                self._translator = Translator(marian=marian)
        return self._translator

    def track(self, session_state) -> None:
        """Mark a session's state as used now (before a run too, while it has no EditSession yet)
        and release the least recently used others, so at most `max_edit_sessions` hold one."""
        evicted = []
        with self._lock:
            self._sessions.pop(id(session_state), None)
            others = [state for state in self._live() if state is not session_state]
            self._sessions[id(session_state)] = weakref.ref(session_state)
            while len(others) + 1 > max(1, self.config.max_edit_sessions):
                evicted.append(others.pop(0))
        for state in evicted:
            state.drop_session()

    def _live(self) -> list:
        """Tracked states still alive and holding a session, oldest first (forgets the rest)."""
        alive = []
        for key, ref in list(self._sessions.items()):
            state = ref()
            if state is None or state.session is None:
                del self._sessions[key]
            else:
                alive.append(state)
        return alive

    def release_sessions(self, keep_model: str) -> None:
        """Drop pipeline-holding sessions built on another model before that model is unloaded."""
        with self._lock:
            live = self._live()
        for state in live:
            state.release_if_not(keep_model)

    def switch_model(self, model: str) -> None:
        """Before a job on `model`: when another family is resident, drop every session built on it
        and unload it, so its weights are freed, not re-placed under the new job's memory plan."""
        manager = self.manager
        with manager.lock:
            if manager.loaded_name not in (None, model):
                manager.require_available(model)  # a missing model keeps the resident one loaded
                self.release_sessions(keep_model=model)
                manager.unload()


def session_owner(request) -> str | None:
    """A stable, non-reversible tag for one browser session, stored with its saved results."""
    import hashlib

    session = getattr(request, "session_hash", None)
    return hashlib.sha256(session.encode()).hexdigest()[:16] if session else None


@dataclass
class HistoryEntry:
    """One finished edit, shown in the session's history."""

    before: object  # PIL image
    after: object  # PIL image
    params: dict
    saved_path: str | None = None


@dataclass(eq=False)  # compared and hashed by identity: tracked in a WeakSet
class EditState:
    """One browser session's KV-Edit state: the current EditSession and what it was built for."""

    session: object | None = None  # editor.kv_edit.EditSession
    key: tuple | None = None  # (model name, image digest, mask digest)
    # The memory plan the session inverted with, and the (steps, skip_steps) it was made for: a
    # repeat edit keeps it, so the memory its own cache takes cannot change the plan (a different
    # KV store would mean inverting again).
    plan: object | None = None
    plan_steps: tuple | None = None
    history: list[HistoryEntry] = field(default_factory=list)
    last_result: object | None = None  # PIL image of the latest edit, for "continue editing"

    def release_if_not(self, model: str) -> None:
        if self.key is not None and self.key[0] != model:
            self.drop_session()

    def drop_session(self) -> None:
        """Forget the EditSession and free its recorded keys/values now, not at garbage collection."""
        session, self.session, self.key, self.plan, self.plan_steps = self.session, None, None, None, None
        if session is not None:
            session.release()


def drop_edit_state(state) -> None:
    """gr.State delete callback: free the inversion cache when a browser session ends."""
    if isinstance(state, EditState):
        state.drop_session()
