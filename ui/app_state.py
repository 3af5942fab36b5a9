"""What the app holds for the whole process, and what it holds per browser session.

One `Services` per process (made by `app.py`, passed to every tab builder) holds the app's config
and the `Studio`, which runs every job and owns the models, the output store and the clients'
heavy state (inversions, ad node caches). Per browser session the app keeps only a small
`ClientState` in `gr.State`: the session's id for the Studio, and what the page shows (history).
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

from editor.options import KV_CACHE_CHOICES  # noqa: F401 - as the UI offers them (one declaration)
from editor.studio import Studio, StudioConfig
from models.vocabulary import AUTO, MEMORY_MODES  # noqa: F401 - the app and its tests import it from here

# "auto": the plan chooses; the others force a KV cache mode / an offload mode.


def default_output_dir() -> Path:
    from editor.storage import default_root  # the CLI and the app share one output folder

    return default_root()


@dataclass(frozen=True)
class AppConfig:
    model: str  # default diffusion model shown in every tab
    output_dir: Path
    kv_cache: str = AUTO  # AUTO lets the memory plan choose
    memory_mode: str = AUTO
    device: str | None = None  # None: the manager picks (cuda when present)
    queue_size: int = 16
    session_ttl_s: int = 3600  # per-user state (inversion caches) is dropped after this idle time
    private_gallery: bool = False  # each browser session sees only its own results (public Spaces)
    # Inversions are large (GBs at full FLUX size): only this many sessions keep one; the least
    # recently used loses it and simply inverts again on its next edit.
    max_edit_sessions: int = 2

    def studio_config(self) -> StudioConfig:
        return StudioConfig(output_dir=self.output_dir, device=self.device, memory_mode=self.memory_mode,
                            kv_cache=self.kv_cache, max_edit_sessions=self.max_edit_sessions)


class Services:
    """Process-wide: the config, the Studio (which creates its heavy parts on first use), and which
    browser each page session belongs to."""

    def __init__(self, config: AppConfig, studio: Studio | None = None):
        """`studio`: a Studio, or a serving client with the same methods (serving.StudioClient)."""
        self.config = config
        self.studio = studio or Studio(config.studio_config())
        # Accelerator jobs the app runs at once: one on this process's model; a serving client
        # says how many its replicas take.
        self.gpu_slots = getattr(self.studio, "parallel_jobs", 1)
        self.browsers = BrowserIds()

    def brands(self, request):
        """The brand kits this request may see and change: with a private gallery its browser's own,
        otherwise the kits shared by everyone who uses this app (one shop's own computer)."""
        store = self.studio.brands
        return store.scoped(self.owner(request)) if self.config.private_gallery else store

    def owner(self, request) -> str | None:
        """The tag stored with a session's saved results: its browser's (kept across page reloads,
        so one's own results stay one's own), or the page session's for clients without one; None
        without a request (a job not started from the page)."""
        browser = self.browsers.get(getattr(request, "session_hash", None))
        return tag(browser) if browser else session_owner(request)


class BrowserIds:
    """Page session -> the random id its browser keeps (gr.BrowserState). Bounded: the oldest
    sessions are forgotten first (they then save under the page session's own tag)."""

    def __init__(self, limit: int = 10_000):
        self._ids: OrderedDict[str, str] = OrderedDict()
        self._limit = limit
        self._lock = threading.Lock()

    def remember(self, session: str | None, browser: str) -> None:
        if not session:
            return
        with self._lock:
            self._ids[session] = browser
            self._ids.move_to_end(session)
            while len(self._ids) > self._limit:
                self._ids.popitem(last=False)

    def get(self, session: str | None) -> str | None:
        with self._lock:
            return self._ids.get(session) if session else None


def tag(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def session_owner(request) -> str | None:
    """A stable, non-reversible tag for one page session, stored with its saved results."""
    session = getattr(request, "session_hash", None)
    return tag(session) if session else None


@dataclass
class HistoryEntry:
    """One finished edit, shown in the session's history."""

    after: object  # PIL image
    caption: str


@dataclass(eq=False)
class ClientState:
    """One browser session as the Studio knows it. The id is set on first use, not at construction:
    gr.State deep-copies one initial value per session, so an id made here would be shared."""

    session: str | None = None
    history: list[HistoryEntry] = field(default_factory=list)
    last_result: str | None = None  # file of the latest edit, for "continue editing"
    cut: object | None = None  # the latest cut-out (editor.ad.CutOut), for previews of brush fixes
    product_key: str | None = None  # digest of the photo that cut-out was made from
    last_job: str | None = None  # id of the latest saved edit (the page restores it after a reload)
    photo: object | None = None  # ui.photo.EditorPhoto: the full-size file behind the editor's screen copy
    ad_layouts: dict = field(default_factory=dict)  # format -> editor.ad.AdLayout of the latest build
    ad_report: dict | None = None  # the latest build's report (colour suggestions per format)

    def session_id(self, request) -> str:
        if self.session is None:
            self.session = getattr(request, "session_hash", None) or hashlib.sha256(str(id(self)).encode()).hexdigest()
        return self.session


def forget_client(studio: Studio):
    """gr.State delete callback: the browser session ended, free what the Studio holds for it."""

    def forget(state) -> None:
        if isinstance(state, ClientState) and state.session is not None:
            studio.forget(state.session)

    return forget
