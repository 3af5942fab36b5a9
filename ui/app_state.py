"""What the app holds for the whole process, and what it holds per browser session.

One `Services` per process (made by `app.py`, passed to every tab builder) holds the app's config
and the `Studio`, which runs every job and owns the models, the output store and the clients'
heavy state (inversions, ad node caches). Per browser session the app keeps only a small
`ClientState` in `gr.State`: the session's id for the Studio, and what the page shows (history).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from editor.studio import Studio, StudioConfig
from models.vocabulary import AUTO, KV_CACHE_MODES, OFFLOAD_MODES

# "auto": the plan chooses; the others force a KV cache mode / an offload mode.
KV_CACHE_CHOICES = (AUTO, *KV_CACHE_MODES)
MEMORY_MODES = (AUTO, *OFFLOAD_MODES)


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
    """Process-wide: the config and the Studio (which creates its heavy parts on first use)."""

    def __init__(self, config: AppConfig, studio: Studio | None = None):
        self.config = config
        self.studio = studio or Studio(config.studio_config())


def session_owner(request) -> str | None:
    """A stable, non-reversible tag for one browser session, stored with its saved results."""
    session = getattr(request, "session_hash", None)
    return hashlib.sha256(session.encode()).hexdigest()[:16] if session else None


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
    last_result: object | None = None  # PIL image of the latest edit, for "continue editing"
    cut: object | None = None  # the latest cut-out (editor.ad.CutOut), for previews of brush fixes
    product_key: str | None = None  # digest of the photo that cut-out was made from
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
