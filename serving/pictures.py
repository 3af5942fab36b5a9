"""Pictures cross between the front end and a replica as files in the shared output folder, not
inside Ray's messages.

Through Ray, a 36 MP edit's photo, mask and result went into the object store and were copied
into the front end's heap (2.6 GB RSS after two such jobs). Every replica and every front end
already share the output folder (the StudioConfig's `output_dir`, at the same path everywhere), so
a message carries where a picture is instead of the picture:

- `SavedPicture(path)`: a picture of the outcome that the job saved (the very pixels: matched by the
  pixel digest in the job's record). The front end opens the saved PNG, which Pillow reads from
  disk only when the picture is first used.
- `FileArray(path, mode, owned)`: any other array or picture of 64 KB or more (a selection's
  mask, a cut-out that was not saved, a request's photo), written as a `.npy` scratch file in the
  output folder (`OutputStore.scratch_path`). The reader maps it copy-on-write; when it `owned` the
  file (a replica's answer to the front end) it removes it at once, and the mapping keeps the bytes
  until the value is dropped. A request's files stay the front end's, removed when its job ends.
- `FromRequest(name)`: the edit's `before` and `mask`, which the front end reads from its own
  request exactly as the job read them (`EditInputs`), so they need no file at all.

Small values (reports, layouts, the saved job's paths) stay in the message. Nothing here reaches a
browser: paths are read by the front end, and scratch files are never published.
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from editor.digests import array_digest

MIN_FILE_BYTES = 64 * 1024  # smaller arrays travel in the message (Ray sends those inline anyway)
# Picture modes whose pixels an array holds whole (others, e.g. a palette, travel in the message).
ARRAY_MODES = frozenset({"RGB", "RGBA", "L", "LA", "F", "I"})
# Saved PNGs keep these modes as they are (storage.encode_png converts the others).
SAVED_MODES = frozenset({"RGB", "RGBA", "L"})
MAX_DEPTH = 8  # outcomes and requests are shallow; deeper values travel as they are


@dataclass(frozen=True)
class SavedPicture:
    path: str


@dataclass(frozen=True)
class FileArray:
    path: str
    mode: str | None = None  # a PIL image's mode; None: a numpy array
    owned: bool = True  # the reader removes the file once it has mapped it


@dataclass(frozen=True)
class FromRequest:
    name: str  # "before" or "mask" of an edit


class EditInputs:
    """An edit's photo and mask as the job read them from its request (`resolve_edit` does the
    same two calls), the photo read once for both."""

    def __init__(self, request):
        self.request = request
        self._loaded = None

    def loaded(self):
        if self._loaded is None:
            from editor.images import load_image

            self._loaded = load_image(self.request.image, field="image")
        return self._loaded

    def value(self, name: str):
        if name == "before":
            return Image.fromarray(self.loaded().rgb)
        if name == "mask":
            from editor.images import as_mask

            return as_mask(self.request.mask, self.loaded().size)[0]
        raise ValueError(f"not an input of an edit: {name!r}")


# An edit's outcome fields that are its request as the job read it: the front end has the request,
# so it reads them itself and they need no file.
FROM_REQUEST = {"edit": ("before", "mask")}


class Packing:
    """Big values of one message written as files; `written` lists them so a failure can remove them."""

    def __init__(self, store, saved=None, *, owned: bool = True, left_out: tuple[str, ...] = ()):
        self.store = store
        self.owned = owned
        self.left_out = left_out
        self.written: list[Path] = []
        self._saved = _saved_pictures(saved)

    def pack(self, value):
        """`value` with every big picture replaced by where it is; removes what it wrote on failure."""
        try:
            if self.left_out and dataclasses.is_dataclass(value) and not isinstance(value, type):
                value = _with(value, {name: FromRequest(name) for name in self.left_out if hasattr(value, name)})
            return self._pack(value, 0)
        except BaseException:
            self.discard()
            raise

    def discard(self) -> None:
        for path in self.written:
            path.unlink(missing_ok=True)
        self.written.clear()

    def _pack(self, value, depth: int):
        if isinstance(value, Image.Image):
            return self._picture(value)
        if isinstance(value, np.ndarray):
            return self._array(value, None) if _big_array(value) else value
        if depth >= MAX_DEPTH:
            return value
        return _mapped(value, lambda v: self._pack(v, depth + 1))

    def _picture(self, image: Image.Image):
        if image.mode not in ARRAY_MODES or image.width * image.height * len(image.getbands()) < MIN_FILE_BYTES:
            return image
        saved = self._saved_path(image)
        if saved is not None:
            return SavedPicture(saved)
        return self._array(np.asarray(image), image.mode)

    def _saved_path(self, image: Image.Image) -> str | None:
        candidates = self._saved.get((image.width, image.height), ())
        if not candidates or image.mode not in SAVED_MODES:
            return None
        digest = array_digest(image)
        return next((path for sha, path in candidates if sha == digest), None)

    def _array(self, array: np.ndarray, mode: str | None) -> FileArray:
        path = self.store.scratch_path(".npy")
        self.written.append(path)
        try:
            with open(path, "wb") as fh:
                np.save(fh, np.ascontiguousarray(array), allow_pickle=False)
        except OSError as exc:
            from editor.storage import disk_problem

            problem = disk_problem(exc, self.store.root)
            if problem is None:
                raise
            raise problem from exc
        return FileArray(str(path), mode, self.owned)


def unpack(value, request=None):
    """`value` as it was packed: saved pictures opened (read when first used), files mapped (and
    removed when owned), an edit's inputs read from `request`."""
    try:
        return _unpack(value, EditInputs(request), 0)
    except BaseException:
        discard(value)  # the files not read yet: no one else will read them
        raise


def _unpack(value, inputs: EditInputs, depth: int):
    if isinstance(value, SavedPicture):
        return Image.open(value.path)
    if isinstance(value, FileArray):
        return _read(value)
    if isinstance(value, FromRequest):
        return inputs.value(value.name)
    if depth >= MAX_DEPTH:
        return value
    return _mapped(value, lambda v: _unpack(v, inputs, depth + 1))


def discard(value) -> None:
    """Remove the files of a packed value that no one will read (an answer that was not delivered)."""
    for marker in _markers(value, 0):
        if isinstance(marker, FileArray) and marker.owned:
            Path(marker.path).unlink(missing_ok=True)


def _read(marker: FileArray):
    try:
        # Copy-on-write: the value may be changed here without touching the file; its pages are
        # read from the file when used, and freed with the value.
        array = np.asarray(np.load(marker.path, mmap_mode="c", allow_pickle=False))
    finally:
        if marker.owned:
            Path(marker.path).unlink(missing_ok=True)  # the mapping keeps the bytes; nothing is left behind
    return Image.fromarray(array, marker.mode) if marker.mode is not None else array


def _markers(value, depth: int):
    if isinstance(value, (SavedPicture, FileArray, FromRequest)):
        yield value
    elif depth < MAX_DEPTH:
        for child in _children(value):
            yield from _markers(child, depth + 1)


def _children(value) -> list:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return [getattr(value, f.name) for f in dataclasses.fields(value)]
    if type(value) is dict:
        return list(value.values())
    if type(value) in (list, tuple):
        return list(value)
    return []


def _mapped(value, fn):
    """`value` with `fn` applied to its parts (dataclass fields, dict values, list and tuple items);
    the value itself when no part changed."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changed = {}
        for f in dataclasses.fields(value):
            old = getattr(value, f.name)
            new = fn(old)
            if new is not old:
                changed[f.name] = new
        return _with(value, changed) if changed else value
    if type(value) is dict:
        items = {k: fn(v) for k, v in value.items()}
        return items if any(items[k] is not v for k, v in value.items()) else value
    if type(value) in (list, tuple):
        items = [fn(v) for v in value]
        return type(value)(items) if any(a is not b for a, b in zip(items, value, strict=True)) else value
    return value


def _with(value, changed: dict):
    """A copy of a dataclass with some fields set, without running its __init__ again (a request's
    checks ran when it was made; a frozen one is set the way dataclasses set it)."""
    if not changed:
        return value
    out = copy.copy(value)
    for name, new in changed.items():
        object.__setattr__(out, name, new)
    return out


def _big_array(array: np.ndarray) -> bool:
    return array.nbytes >= MIN_FILE_BYTES and not array.dtype.hasobject and array.dtype.kind in "biuf"


def _saved_pictures(saved) -> dict[tuple[int, int], list[tuple[str, str]]]:
    """(width, height) -> [(pixel digest, path)] of the pictures a saved job holds."""
    out: dict[tuple[int, int], list[tuple[str, str]]] = {}
    if saved is None:
        return out
    paths = saved.files
    for listed in saved.record.get("files", []):
        if "width" in listed and listed.get("role") in paths:
            out.setdefault((listed["width"], listed["height"]), []).append((listed["sha256"], str(paths[listed["role"]])))
    return out


def pack_answer(outcome, store, kind: str) -> Any:
    """A replica's outcome of a `kind` job with its pictures as files, for the front end to read and
    remove (see the module's docstring)."""
    return Packing(store, getattr(outcome, "saved", None), owned=True, left_out=FROM_REQUEST.get(kind, ())).pack(outcome)
