"""Saving results: one record per job, its files in a folder of their own, one line in a history log.

Layout under the output root (env `INTACT_OUTPUT_DIR`, default `outputs/`):

    jobs/<job id>/<readable name>.png   the job's files (result, mask, ad formats, zip)
    history.jsonl                       one JSON record per job, oldest first

The job id is 128 random bits, so a served file's address cannot be guessed from its content (a
full-white mask would otherwise have a predictable name); inside the folder files keep readable
names (`edit_green-tea.png`, `가을신메뉴_instagram-square.png`) so a download is recognisable.

Every job is saved atomically: its files are written into a hidden staging folder that is
renamed into place in one step, and only then is the history line appended. A failure (full disk,
a crash, an encoding error) leaves neither a half-written file nor an empty folder; the staging
folders a killed process left behind (`jobs/.<id>.tmp`, `jobs/.scratch-*`) are swept when a store
is opened, once they are older than any save could take. The history is append-only: a crash in
the middle of an append can leave a torn last line, which readers skip.

Pictures are published: a saved PNG carries no job record (no owner tag, no memory plan, no machine
facts), only the pixels and "Software: Intact". The record lives in `history.jsonl` and is what
the gallery reads; `encode_png(image, settings)` embeds settings only when a QA run asks for them.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import errno
import hashlib
import io
import json
import os
import re
import secrets
import shutil
import tempfile
import threading
import time
import unicodedata
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image
from PIL.PngImagePlugin import PngInfo

from editor.atomic import atomic_write_bytes, fsync_dir
from editor.digests import array_digest
from editor.errors import InputError, IntactError
from models.data_files import JsonFileError, parse_json

PARAMS_KEY = "intact:params"  # PNG iTXt keyword for settings a QA run embeds on purpose (never the record)
SOFTWARE = "Intact"
HISTORY_NAME = "history.jsonl"
JOBS_DIR = "jobs"
RECORD_VERSION = 2
FAST_PNG_ABOVE = 4_000_000  # pixels: bigger pictures are compressed less, to save in seconds
_JOB_ID = re.compile(r"^[0-9a-f]{32}$")
# What a killed save leaves in jobs/: our staging folders and scratch files, and nothing else.
_LEFTOVER = re.compile(r"^(\.[0-9a-f]{32}\.tmp|\.scratch-.+)$")
STALE_AFTER_S = 3600  # untouched this long: no save is writing it (a save or batch writes every few seconds)


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


def encode_png(image: Image.Image, settings: dict | None = None) -> bytes:
    """PNG bytes of a picture to publish: no job record inside. `settings` (a QA option: prompt,
    seed, model) is embedded as an iTXt chunk (UTF-8, so Korean prompts survive) only when given."""
    info = PngInfo()
    if settings:
        info.add_itxt(PARAMS_KEY, json.dumps(settings, ensure_ascii=False, sort_keys=True))
    info.add_text("Software", SOFTWARE)
    if image.mode not in ("RGB", "RGBA", "L"):
        image = image.convert("RGBA" if "A" in image.getbands() else "RGB")
    buffer = io.BytesIO()
    # zlib's level 6 takes ~10 s for a 12 MP photo, level 1 ~3 s for ~20 % more bytes: big
    # pictures (phone photos) are saved fast, small ones small.
    level = 6 if image.width * image.height <= FAST_PNG_ABOVE else 1
    image.save(buffer, format="PNG", pnginfo=info, compress_level=level)
    return buffer.getvalue()


def disk_problem(exc: OSError, where: str | os.PathLike | None = None) -> IntactError | None:
    """A full disk or a place that cannot be written, as one line the user can act on (writes
    here are atomic: nothing half-written was left). None for other failures. The folder is the
    operator's: it goes in the hint the CLI adds, never in the message a browser shows."""
    hint = f"({where})" if where is not None else ""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return IntactError("The disk is full: the result could not be saved (nothing half-written is left). "
                           "Free some space and try again.", key="disk_full", operator_hint=hint)
    if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return IntactError("The output folder is read-only: the result could not be saved (nothing half-written "
                           "is left).", key="output_not_writable", operator_hint=hint)
    if exc.errno in (errno.ENOTDIR, errno.EEXIST, errno.EISDIR):
        return IntactError("The output folder is not a folder: the result could not be saved.",
                           key="output_not_folder", operator_hint=hint)
    return None


def read_params(path: str | os.PathLike) -> dict:
    """The settings a QA run embedded in a PNG ({} for PNGs that have none: every published one)."""
    with Image.open(path) as img:
        raw = img.text.get(PARAMS_KEY) if hasattr(img, "text") else None
    if not raw:
        return {}
    try:
        data = parse_json(raw)
    except JsonFileError:
        return {}
    return data if isinstance(data, dict) else {}


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
    """One file of a job, before saving: a picture (saved as PNG), bytes, a file already written in
    the store's scratch space (`OutputStore.scratch_file`, moved in whole), or a zip of other
    pictures of the same job (`zip_of`: their names), made from the PNG bytes encoded for them."""

    role: str  # "result", "mask", "ad:instagram-square", "zip", ...
    name: str  # readable file name, unique within the job
    image: Image.Image | None = None
    data: bytes | None = None
    written: Path | None = None
    zip_of: tuple[str, ...] = ()


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

    def __init__(self, root: str | os.PathLike | None = None, sweep: bool = True):
        self.root = Path(root) if root is not None else default_root()
        self.jobs_dir = self.root / JOBS_DIR
        self.history_path = self.root / HISTORY_NAME
        self._lock = threading.Lock()
        if sweep:
            self.sweep_leftovers()

    def sweep_leftovers(self, older_than_s: float = STALE_AFTER_S) -> int:
        """Remove the staging folders and scratch files a killed save left in jobs/ (only names
        this store makes, only older than `older_than_s`); how many were removed. Never fatal."""
        removed = 0
        now = time.time()
        try:
            entries = list(os.scandir(self.jobs_dir))
        except OSError:
            return 0
        for entry in entries:
            if not _LEFTOVER.match(entry.name):
                continue
            try:
                if now - entry.stat(follow_symlinks=False).st_mtime < older_than_s:
                    continue
                if entry.is_dir(follow_symlinks=False):
                    shutil.rmtree(entry.path)
                else:
                    os.unlink(entry.path)
                removed += 1
            except OSError:
                continue  # another process swept it, or a read-only store: leave it
        return removed

    # --- writing ------------------------------------------------------------------------------

    def save_job(self, record: dict, files: list[JobFile]) -> SavedJob:
        """Save the job's files and append its record (with the files listed) to the history.
        A full disk or a read-only folder is an IntactError with one line (nothing is left)."""
        try:
            return self._save_job(record, files)
        except OSError as exc:
            problem = disk_problem(exc, self.root)
            if problem is None:
                raise
            raise problem from exc

    def _save_job(self, record: dict, files: list[JobFile]) -> SavedJob:
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
            encoded = _encode_pictures([f for f in files if f.image is not None])
            for f in files:
                entry = {"role": f.role, "file": f"{JOBS_DIR}/{job_id}/{f.name}"}
                if f.written is not None:  # large: never read into memory, renamed into the job folder
                    with open(f.written, "rb+") as fh:
                        entry["sha256"] = hashlib.file_digest(fh, "sha256").hexdigest()
                        os.fsync(fh.fileno())  # on disk before the folder appears
                    listed.append(entry)
                    os.replace(f.written, staging / f.name)
                    continue
                if f.image is not None:
                    data = encoded[f.name]
                    entry.update(width=f.image.width, height=f.image.height, sha256=pixel_hash(f.image))
                else:
                    data = _zip_bytes(f.zip_of, encoded) if f.zip_of else bytes(f.data or b"")
                    entry["sha256"] = hashlib.sha256(data).hexdigest()
                listed.append(entry)
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

    def withdraw(self, saved: SavedJob) -> None:
        """Undo a save whose results could not be delivered (the CLI's --out on a full disk): the
        job's files go, and so does its history line: cut off when it is still the last line,
        else struck out by a `{"withdrawn": id}` line that readers honour."""
        shutil.rmtree(saved.folder, ignore_errors=True)
        line = json.dumps(saved.record, ensure_ascii=False, sort_keys=True).encode("utf-8") + b"\n"
        with self._lock:
            fd = os.open(self.history_path, os.O_RDWR)
            try:
                _lock_file(fd)
                size = os.fstat(fd).st_size
                if size >= len(line) and os.pread(fd, len(line), size - len(line)) == line:
                    os.ftruncate(fd, size - len(line))
                    os.fsync(fd)
                    return
            finally:
                os.close(fd)
            self._append_history({"withdrawn": saved.id})

    @contextlib.contextmanager
    def scratch_file(self, suffix: str = ""):
        """The path of a new, empty file beside the job folders, for a result too large to hold in
        memory: write it, then save it (`JobFile.written`) inside the block. Whatever has not been
        saved when the block ends (a failure, a cancel, a job that saves nothing) is removed."""
        path = self.scratch_path(suffix)
        try:
            yield path
        finally:
            path.unlink(missing_ok=True)  # saved: already renamed into its job folder

    def scratch_path(self, suffix: str = "") -> Path:
        """A new, empty scratch file beside the job folders that the caller removes itself (serving
        hands pictures between processes this way); one a killed process left is swept once stale."""
        try:
            self.jobs_dir.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(prefix=".scratch-", suffix=suffix, dir=self.jobs_dir)
        except OSError as exc:
            problem = disk_problem(exc, self.root)
            if problem is None:
                raise
            raise problem from exc
        os.close(fd)
        return Path(name)

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
        entries, withdrawn = [], set()
        for raw in data.split(b"\n"):
            if not raw.strip():
                continue
            try:
                entry = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, ValueError, RecursionError):
                continue
            if isinstance(entry, dict) and isinstance(entry.get("id"), str) and isinstance(entry.get("files"), list):
                entries.append(entry)
            elif isinstance(entry, dict) and isinstance(entry.get("withdrawn"), str):
                withdrawn.add(entry["withdrawn"])
        return [e for e in entries if e["id"] not in withdrawn] if withdrawn else entries

    def path_of(self, listed_file: dict) -> Path:
        return self.root / listed_file["file"]


def _encode_pictures(files: list[JobFile]) -> dict[str, bytes]:
    """PNG bytes of each picture, encoded once (a zip of the pictures reuses them) and in parallel:
    zlib releases the GIL, so the formats of an ad are compressed on every core at once."""
    if len(files) <= 1:
        return {f.name: encode_png(f.image) for f in files}
    with ThreadPoolExecutor(max_workers=min(len(files), os.cpu_count() or 1)) as pool:
        return dict(zip([f.name for f in files], pool.map(lambda f: encode_png(f.image), files)))


def _zip_bytes(names: tuple[str, ...], encoded: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:  # PNGs are compressed already
        for name in names:
            archive.writestr(name, encoded[name])
    return buffer.getvalue()
