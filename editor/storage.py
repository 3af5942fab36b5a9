"""Saving results: one file per distinct image, its parameters inside the PNG and in a history log.

Layout under the output root (env `INTACT_OUTPUT_DIR`, default `outputs/`):

    images/<sha256>.png   the picture, named by the hash of its pixels
    history.jsonl         one JSON object per save, oldest first

Every file write is atomic (temp file in the same folder, fsync, `os.replace`), so a crash leaves
either the old file or the new one. The history is append-only: a crash in the middle of an append
can leave a torn last line, which readers skip instead of failing.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from editor.atomic import atomic_write_bytes  # noqa: F401 - also the public name callers import from here
from editor.errors import InputError

PARAMS_KEY = "intact:params"  # PNG tEXt/iTXt keyword holding the generation parameters as JSON
SOFTWARE = "Intact"
HISTORY_NAME = "history.jsonl"


def default_root() -> Path:
    return Path(os.environ.get("INTACT_OUTPUT_DIR", "outputs"))


@dataclass(frozen=True)
class SavedImage:
    path: Path
    sha256: str
    created: bool  # False when an identical image was already stored (de-duplicated)


def pixel_hash(image: Image.Image) -> str:
    """SHA-256 of the pixels (mode, size and raw bytes), not of the encoded PNG.

    Why pixels: the PNG also carries the parameters, so two runs that produce the same picture
    with different settings (or a different zlib build) would otherwise hash differently and be
    stored twice. The picture is what we de-duplicate; every run still gets its own history line.
    """
    digest = hashlib.sha256()
    digest.update(f"{image.mode}:{image.width}x{image.height}:".encode())
    digest.update(np.asarray(image).tobytes())
    return digest.hexdigest()


def _jsonable(value):
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


def _json_safe(params: dict) -> dict:
    # Strict (no NaN, no silent str()) so what is in the PNG can always be read back as it was.
    try:
        return json.loads(json.dumps(params, ensure_ascii=False, allow_nan=False, default=_jsonable))
    except (TypeError, ValueError) as exc:
        raise InputError(f"Generation parameters cannot be saved as JSON: {exc}") from None


def encode_png(image: Image.Image, params: dict) -> bytes:
    """PNG bytes with the parameters as an iTXt chunk (UTF-8, so Korean prompts survive)."""
    import io

    info = PngInfo()
    info.add_itxt(PARAMS_KEY, json.dumps(params, ensure_ascii=False, sort_keys=True))
    info.add_text("Software", SOFTWARE)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", pnginfo=info, compress_level=6)
    return buffer.getvalue()


def read_params(path: str | os.PathLike) -> dict:
    """The parameters embedded by `OutputStore.save` ({} for PNGs that have none)."""
    with Image.open(path) as img:
        raw = img.text.get(PARAMS_KEY) if hasattr(img, "text") else None
    if not raw:
        return {}
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return {}


class OutputStore:
    """The output folder of one app or CLI run. Thread-safe; one object per root is enough."""

    def __init__(self, root: str | os.PathLike | None = None):
        self.root = Path(root) if root is not None else default_root()
        self.images_dir = self.root / "images"
        self.history_path = self.root / HISTORY_NAME
        self._lock = threading.Lock()

    def path_for(self, sha256: str) -> Path:
        return self.images_dir / f"{sha256}.png"

    def save(self, image: Image.Image, params: dict) -> SavedImage:
        if not isinstance(image, Image.Image):
            raise InputError("Only PIL images can be saved.")
        if image.mode not in ("RGB", "RGBA", "L"):
            image = image.convert("RGBA" if "A" in image.getbands() else "RGB")
        params = _json_safe(params)
        sha = pixel_hash(image)
        path = self.path_for(sha)
        with self._lock:
            created = not path.is_file()
            if created:
                atomic_write_bytes(path, encode_png(image, params))
            entry = {
                "sha256": sha,
                "file": str(path.relative_to(self.root)),
                "width": image.width,
                "height": image.height,
                "saved_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
                "deduplicated": not created,
                "params": params,
            }
            self._append_history(entry)
        return SavedImage(path=path, sha256=sha, created=created)

    def _append_history(self, entry: dict) -> None:
        line = json.dumps(entry, ensure_ascii=False, sort_keys=True).encode("utf-8") + b"\n"
        self.root.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.history_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            # After a crash the file may end in a torn line: start ours on a fresh line so the
            # torn bytes stay one unreadable line instead of corrupting this entry too.
            size = os.fstat(fd).st_size
            if size and not self._ends_with_newline(size):
                line = b"\n" + line
            os.write(fd, line)  # one write call: O_APPEND keeps concurrent appends whole
            os.fsync(fd)
        finally:
            os.close(fd)

    def _ends_with_newline(self, size: int) -> bool:
        with open(self.history_path, "rb") as fh:
            fh.seek(size - 1)
            return fh.read(1) == b"\n"

    def history(self) -> list[dict]:
        """Every readable entry, oldest first. Torn or garbled lines are skipped, never fatal."""
        try:
            data = self.history_path.read_bytes()
        except FileNotFoundError:
            return []
        entries = []
        for raw in data.split(b"\n"):
            if not raw.strip():
                continue
            try:
                entry = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError):
                continue
            if isinstance(entry, dict) and "sha256" in entry:
                entries.append(entry)
        return entries
