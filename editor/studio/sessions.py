"""Per-client state the Studio keeps between jobs: an edit's inversion and an ad's node cache.

Inversions are large (gigabytes at real model size), so only `max_sessions` clients keep one; the
least recently used loses it and simply inverts again on its next edit (its report says so). A
serving replica may also be asked for a session it never saw although the client had inverted
before (the replica was restarted or the session moved): that edit says the replica changed.
Ad workflows (their node graph and cut-out model) are small and kept for `max_ad_sessions`.
Nothing here is global: the Studio owns one `SessionStore`.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

EVICTED = "evicted to make room"
REPLICA_CHANGED = "replica changed"


@dataclass(eq=False)
class EditState:
    """One client's KV-Edit state: the EditSession (holding the inversion) and what it was made for."""

    key: tuple | None = None  # (model name, image digest, mask digest)
    session: Any = None  # editor.kv_edit.EditSession
    # The memory plan the session inverted with and the (steps, skip_steps) it was made for: a
    # repeat edit keeps it, so the memory its own cache takes cannot change the plan (a different
    # KV store would mean inverting again).
    plan: Any = None
    plan_steps: tuple | None = None
    # Why this session's next inversion is a re-inversion: EVICTED (dropped here to make room) or
    # REPLICA_CHANGED (made on another replica); None for a first inversion.
    recompute: str | None = None

    def release_cache(self) -> None:
        """Free the recorded keys/values (before an out-of-memory retry); the EditSession stays."""
        if self.session is not None:
            self.session.release()

    def drop(self) -> None:
        """Forget the EditSession and free its recorded keys/values now, not at garbage collection."""
        session, self.session, self.key, self.plan, self.plan_steps = self.session, None, None, None, None
        if session is not None:
            session.release()


class _LRU:
    def __init__(self, limit: int, make):
        self.limit = max(1, int(limit))
        self._make = make
        self._items: OrderedDict[str, Any] = OrderedDict()

    def get(self, key: str):
        item = self._items.pop(key, None)
        if item is None:
            item = self._make()
        self._items[key] = item
        evicted = []
        while len(self._items) > self.limit:
            evicted.append(self._items.popitem(last=False))
        return item, evicted

    def __contains__(self, key: str) -> bool:
        return key in self._items

    def pop(self, key: str):
        return self._items.pop(key, None)

    def values(self) -> list:
        return list(self._items.values())


class SessionStore:
    """Edit states and ad workflows by client session id, each bounded, least recently used out."""

    def __init__(self, max_sessions: int, max_ad_sessions: int, make_workflow):
        self._lock = threading.Lock()
        self._edits = _LRU(max_sessions, EditState)
        self._ads = _LRU(max_ad_sessions, make_workflow)
        self._evicted: set[str] = set()  # sessions whose inversion was dropped to make room

    def edit_state(self, session: str | None, earlier_inversions: int = 0) -> EditState:
        """The session's edit state (a fresh one, kept by nobody, without a session id).
        `earlier_inversions`: the client's count (JobContext); a session new here with earlier
        inversions had them on another replica."""
        if session is None:
            return EditState()
        with self._lock:
            new_here = session not in self._edits
            state, evicted = self._edits.get(session)
            if session in self._evicted:
                self._evicted.discard(session)
                state.recompute = EVICTED
            elif new_here and earlier_inversions > 0:
                state.recompute = REPLICA_CHANGED
            self._evicted.update(key for key, old in evicted if old.session is not None)
        for _key, old in evicted:
            old.drop()
        return state

    def ad_workflow(self, session: str | None):
        if session is None:
            return self._ads._make()
        with self._lock:
            workflow, evicted = self._ads.get(session)
        for _key, old in evicted:
            old.close()
        return workflow

    def release_other_models(self, keep_model: str) -> None:
        """Drop every inversion made on another model, before that model is unloaded."""
        with self._lock:
            states = self._edits.values()
        for state in states:
            if state.key is not None and state.key[0] != keep_model:
                state.drop()

    def evict(self, session: str) -> None:
        """Drop the session's inversion now, as the bound does (a serving replica bounds its sessions
        itself); its next edit here says it was evicted. Its ad cache stays."""
        with self._lock:
            state = self._edits.pop(session)
            if state is not None and state.session is not None:
                self._evicted.add(session)
        if state is not None:
            state.drop()

    def forget(self, session: str) -> None:
        """The client is gone (browser tab closed): free what it held now."""
        with self._lock:
            state, workflow = self._edits.pop(session), self._ads.pop(session)
            self._evicted.discard(session)
        if state is not None:
            state.drop()
        if workflow is not None:
            workflow.close()

    @property
    def holding_inversions(self) -> int:
        with self._lock:
            return sum(1 for state in self._edits.values() if state.session is not None)
