"""Saving results: one record per job, its files in a folder of their own, one line in a history log.

Layout under the output root (env `INTACT_OUTPUT_DIR`, default `outputs/`):

    jobs/<job id>/<readable name>.png   the job's files (result, mask, ad formats, zip)
    history.jsonl                       one JSON record per job, oldest first

The job id is 128 random bits, so a served file's address cannot be guessed from its content (a
full-white mask would otherwise have a predictable name); inside the folder files keep readable
names (`edit_green-tea.png`, `가을신메뉴_instagram-square.png`) so a download is recognisable.

Every job is saved atomically: its files are written into a hidden staging folder that is
renamed into place in one step, and only then is the history line appended. A failure (full disk,
a crash, an encoding error) leaves neither a half-written file nor an empty folder. The history is
append-only: a crash in the middle of an append can leave a torn last line, which readers skip.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import io
import json
import os
import re
import secrets
import shutil
import tempfile
import threading
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image
from PIL.PngImagePlugin import PngInfo

from editor.atomic import atomic_write_bytes, fsync_dir
from editor.digests import array_digest
from editor.errors import InputError

PARAMS_KEY = "intact:params"  # PNG iTXt keyword holding the job record as JSON
SOFTWARE = "Intact"
HISTORY_NAME = "history.jsonl"
JOBS_DIR = "jobs"
RECORD_VERSION = 2
FAST_PNG_ABOVE = 4_000_000  # pixels: bigger pictures are compressed less, to save in seconds
_JOB_ID = re.compile(r"^[0-9a-f]{32}$")


def _lock_file(fd: int) -> None:
    """An exclusive lock on the open file, held until it is closed (POSIX; elsewhere O_APPEND alone)."""
    try:
        import fcntl
    except ImportError:
        return
    fcntl.flock(fd, fcntl.LOCK_EX)


def default_root() -> Path:
    return Path(os.environ.get("INTACT_OUTPUT_DIR", "outputs"))


def pixel_hash(image: Image.Image) -> str:
    """The digest of the pixels, not of the encoded PNG: two saves of the same picture with
    different parameters embedded have the same pixel hash."""
    return array_digest(image)


def _jsonable(value):
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


def json_safe(params: dict) -> dict:
    """`params` as plain JSON data. Strict (no NaN, no silent str()) so what is saved can always be
    read back as it was."""
    try:
        return json.loads(json.dumps(params, ensure_ascii=False, allow_nan=False, default=_jsonable))
    except (TypeError, ValueError) as exc:
        raise InputError(f"The job's parameters cannot be saved as JSON: {exc}", key="not_saveable") from None


def encode_png(image: Image.Image, params: dict) -> bytes:
    """PNG bytes with the parameters as an iTXt chunk (UTF-8, so Korean prompts survive)."""
    info = PngInfo()
    info.add_itxt(PARAMS_KEY, json.dumps(params, ensure_ascii=False, sort_keys=True))
    info.add_text("Software", SOFTWARE)
    if image.mode not in ("RGB", "RGBA", "L"):
        image = image.convert("RGBA" if "A" in image.getbands() else "RGB")
    buffer = io.BytesIO()
    # zlib's level 6 takes ~10 s for a 12 MP photo, level 1 ~3 s for ~20 % more bytes: big
    # pictures (phone photos) are saved fast, small ones small.
    level = 6 if image.width * image.height <= FAST_PNG_ABOVE else 1
    image.save(buffer, format="PNG", pnginfo=info, compress_level=level)
    return buffer.getvalue()


def read_params(path: str | os.PathLike) -> dict:
    """The parameters embedded in a saved PNG ({} for PNGs that have none)."""
    with Image.open(path) as img:
        raw = img.text.get(PARAMS_KEY) if hasattr(img, "text") else None
    if not raw:
        return {}
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return {}


def readable_name(*parts: str, suffix: str = ".png", limit: int = 60) -> str:
    """A file name a person recognises, from words of the job: Hangul and Latin letters, digits
    and '-' kept, everything else (slashes, dots, control characters) dropped."""
    words = []
    for part in parts:
        text = unicodedata.normalize("NFC", str(part or ""))
        slug = re.sub(r"[^\w가-힣-]+", "-", text, flags=re.UNICODE).strip("-_").lower()
        if slug:
            words.append(slug)
    stem = "_".join(words)[:limit].strip("-_") or "result"
    return stem + suffix


@dataclass(frozen=True)
class JobFile:
    """One file of a job, before saving: a picture (saved as PNG with the record inside), bytes, or a
    file already written in the store's scratch space (`OutputStore.scratch_file`), moved in whole."""

    role: str  # "result", "mask", "ad:instagram-square", "zip", ...
    name: str  # readable file name, unique within the job
    image: Image.Image | None = None
    data: bytes | None = None
    written: Path | None = None


@dataclass(frozen=True)
class SavedJob:
    id: str
    folder: Path
    files: dict[str, Path]  # role -> absolute path
    record: dict = field(default_factory=dict)


class OutputStore:
    """The output folder of the app, a CLI run or a serving replica. Thread-safe; processes sharing
    the folder (several replicas, on one machine or on a network volume) are safe too: job folders
    never collide and each history line is appended whole, under a file lock."""

    def __init__(self, root: str | os.PathLike | None = None):
        self.root = Path(root) if root is not None else default_root()
        self.jobs_dir = self.root / JOBS_DIR
        self.history_path = self.root / HISTORY_NAME
        self._lock = threading.Lock()

    # --- writing ------------------------------------------------------------------------------

    def save_job(self, record: dict, files: list[JobFile]) -> SavedJob:
        """Save the job's files and append its record (with the files listed) to the history."""
        names = [f.name for f in files]
        if len(set(names)) != len(names) or any(Path(n).name != n or n.startswith(".") for n in names):
            raise ValueError(f"job file names must be unique plain names: {names}")
        job_id = secrets.token_hex(16)
        record = json_safe(
            {**record, "id": job_id, "version": RECORD_VERSION,
             "saved_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}
        )
        folder = self.jobs_dir / job_id
        staging = self.jobs_dir / f".{job_id}.tmp"
        listed = []
        staging.mkdir(parents=True)
        try:
            for f in files:
                if f.written is not None:  # large: never read into memory, renamed into the job folder
                    with open(f.written, "rb+") as fh:
                        digest = hashlib.file_digest(fh, "sha256").hexdigest()
                        os.fsync(fh.fileno())  # on disk before the folder appears
                    listed.append({"role": f.role, "file": f"{JOBS_DIR}/{job_id}/{f.name}", "sha256": digest})
                    os.replace(f.written, staging / f.name)
                    continue
                if f.image is not None:
                    data = encode_png(f.image, record)
                    listed.append({"role": f.role, "file": f"{JOBS_DIR}/{job_id}/{f.name}", "width": f.image.width,
                                   "height": f.image.height, "sha256": pixel_hash(f.image)})
                else:
                    data = bytes(f.data or b"")
                    listed.append({"role": f.role, "file": f"{JOBS_DIR}/{job_id}/{f.name}",
                                   "sha256": hashlib.sha256(data).hexdigest()})
                atomic_write_bytes(staging / f.name, data)
            os.replace(staging, folder)  # the whole folder appears at once
            fsync_dir(self.jobs_dir)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        record["files"] = listed
        try:
            with self._lock:
                self._append_history(record)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)  # no files without their record
            raise
        return SavedJob(job_id, folder, {f["role"]: self.root / f["file"] for f in listed}, record)

    @contextlib.contextmanager
    def scratch_file(self, suffix: str = ""):
        """The path of a new, empty file beside the job folders, for a result too large to hold in
        memory: write it, then save it (`JobFile.written`) inside the block. Whatever has not been
        saved when the block ends (a failure, a cancel, a job that saves nothing) is removed."""
        self.jobs_dir.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=".scratch-", suffix=suffix, dir=self.jobs_dir)
        os.close(fd)
        path = Path(name)
        try:
            yield path
        finally:
            path.unlink(missing_ok=True)  # saved: already renamed into its job folder

    def _append_history(self, entry: dict) -> None:
        line = json.dumps(entry, ensure_ascii=False, sort_keys=True).encode("utf-8") + b"\n"
        self.root.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.history_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            # Other processes (serving replicas, a CLI run) append to the same file. O_APPEND keeps
            # one write whole on a local disk; the lock keeps it whole where O_APPEND alone does
            # not (a network volume) and across a short write finished by a second call.
            _lock_file(fd)
            # After a crash the file may end in a torn line: start ours on a fresh line so the
            # torn bytes stay one unreadable line instead of corrupting this entry too.
            size = os.fstat(fd).st_size
            if size and not self._ends_with_newline(size):
                line = b"\n" + line
            view = memoryview(line)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)  # releases the lock

    def _ends_with_newline(self, size: int) -> bool:
        with open(self.history_path, "rb") as fh:
            fh.seek(size - 1)
            return fh.read(1) == b"\n"

    def delete_job(self, job_id: str, owner: str | None) -> bool:
        """Remove a job's files when `owner` saved it (the history keeps its line: append-only;
        readers skip records whose files are gone). False when it is not that owner's job."""
        if not _JOB_ID.match(str(job_id)):
            return False
        record = next((r for r in self.history() if r.get("id") == job_id), None)
        if record is None or record.get("owner") != owner:
            return False
        shutil.rmtree(self.jobs_dir / job_id, ignore_errors=True)
        return True

    # --- reading ------------------------------------------------------------------------------

    def history(self) -> list[dict]:
        """Every readable job record, oldest first. Torn or garbled lines are skipped, never fatal."""
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
            if isinstance(entry, dict) and isinstance(entry.get("id"), str) and isinstance(entry.get("files"), list):
                entries.append(entry)
        return entries

    def path_of(self, listed_file: dict) -> Path:
        return self.root / listed_file["file"]
