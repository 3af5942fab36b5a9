"""Fetching a model into the place `models.locate` looks first: the only code that reaches a hub.

`python -m models download NAME` is its one caller; nothing downloads at run time.
"""

from __future__ import annotations

from pathlib import Path

from models.errors import IntactError
from models.locate import hub_offline, rembg_home
from models.registry import get_spec
from models.tiny import ensure_tiny


class DownloadError(IntactError):
    """The hub could not be reached, refused, or the disk was full while fetching."""


def download(name: str) -> Path:
    """Fetch a model into its usual place. One-line errors when that is impossible."""
    spec = get_spec(name)
    if spec.random_weights:
        return ensure_tiny(name)
    if hub_offline():
        raise DownloadError(f"Cannot download '{name}': HF_HUB_OFFLINE is set. Unset it on a machine with internet access.")
    try:
        if spec.family == "rembg":
            import rembg

            rembg.new_session(name)  # rembg downloads into its home folder
            return rembg_home()
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(spec.repo_id))
    except Exception as exc:  # network, auth (gated repos), disk
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DownloadError(f"Cannot download '{name}' ({spec.repo_id or 'rembg'}): {first_line}") from exc
