"""Data files an operator adds or edits (LoRA style metadata, shop presets, ad background styles):
a broken one is skipped, with a warning in the log naming its full path, and reported as a
`DataProblem` (its file name and a one-line message, no folder) that the Studio lists for the Status
tab. One bad file never stops the app or the CLI from starting."""

from __future__ import annotations

import json
import logging
import math
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path

from models.errors import InputError


@dataclass(frozen=True)
class DataProblem:
    kind: str  # "style", "preset", "backdrop" or "brand"
    file: str  # the file's name, never its folder
    message: str  # one line, no server path

    def line(self) -> str:
        return f"{self.kind} {self.file}: {self.message}"


def skipped(kind: str, path: Path, message: str, log: logging.Logger) -> DataProblem:
    """Log that `path` is skipped (the operator reads the full path there) and describe it for others."""
    log.warning("skipping the %s file %s: %s", kind, path, message)
    return DataProblem(kind, path.name, message)



def named_entry(kind: str, name: str, entries: dict, problems: list[DataProblem]):
    """The entry called `name` among a data folder's `entries` (presets, styles). A name whose file
    was skipped says so (key `<kind>_broken`); any other unknown name lists the known ones
    (key `unknown_<kind>`)."""
    try:
        return entries[name]
    except KeyError:
        broken = next((p for p in problems if p.kind == kind and Path(p.file).stem == name), None)
        if broken is not None:
            raise InputError(f"{kind.capitalize()} '{name}' cannot be used: {broken.file}: {broken.message}",
                             key=f"{kind}_broken", field=kind, name=name) from None
        known = ", ".join(entries) or "none"
        raise InputError(f"Unknown {kind} '{name}'. Available {kind}s: {known}.", key=f"unknown_{kind}",
                         field=kind, name=name, known=known) from None

# --- the one JSON reader ------------------------------------------------------------------------
# Every JSON file the project reads (presets, styles, backdrops, brand kits, layouts) goes through
# `read_json_file`/`parse_json`: a file larger than MAX_JSON_BYTES or nested deeper than
# MAX_JSON_DEPTH is refused before `json.loads` sees it (its recursion would otherwise raise
# RecursionError for a 100,000-deep file), and NaN/Infinity (or 1e400, which is infinity) are
# refused because every number in our data files must be finite.

MAX_JSON_BYTES = 1024 * 1024
MAX_JSON_DEPTH = 32
_STRING_OR_BRACKET = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]')


class JsonFileError(ValueError):
    """A JSON file or text that cannot be used; `str()` is one line, without any folder. `line` and
    `detail` (the message without its position) let a caller say the line its own way."""

    def __init__(self, message: str, line: int = 1, detail: str | None = None, unreadable: bool = False):
        super().__init__(message)
        self.line, self.detail, self.unreadable = line, detail or message, unreadable


def nesting_depth(text: str, stop_above: int = MAX_JSON_DEPTH) -> int:
    """The deepest nesting of objects/arrays in `text` (brackets inside strings do not count),
    counted without recursion; stops counting once it passes `stop_above`."""
    depth = deepest = 0
    for match in _STRING_OR_BRACKET.finditer(text):
        token = match.group()
        if token in "[{":
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > stop_above:
                    break
        elif token in "]}":
            depth -= 1
    return deepest


def _refuse_constant(name: str):
    raise JsonFileError(f"{name} is not allowed (numbers must be finite).")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise JsonFileError(f"the number {text[:20]} is too large (numbers must be finite).")
    return value


def parse_json(text: str, max_depth: int = MAX_JSON_DEPTH):
    """`text` as JSON data, or JsonFileError with one line (line and column for a syntax error)."""
    if nesting_depth(text, max_depth) > max_depth:
        raise JsonFileError(f"nested more than {max_depth} levels deep.")
    try:
        return json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
    except json.JSONDecodeError as exc:
        raise JsonFileError(f"not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno}).", exc.lineno,
                            f"not valid JSON: {exc.msg} (column {exc.colno}).") from None
    except RecursionError:  # cannot happen after the depth check; kept as a last line of defence
        raise JsonFileError(f"nested more than {max_depth} levels deep.") from None


class NotARegularFile(OSError):
    """The path names a folder, a named pipe, a device or a socket: nothing to read as a file."""

    def __init__(self, kind: str):
        super().__init__(f"{kind}, not a regular file")
        self.kind = kind


def open_regular(path: str | os.PathLike):
    """`open(path, "rb")` for a regular file only. A named pipe is opened without blocking (a plain
    open would wait forever for a writer) and refused with the other non-files."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = "a folder" if stat.S_ISDIR(mode) else "a named pipe" if stat.S_ISFIFO(mode) else "a device or socket"
            raise NotARegularFile(kind)
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_json_text(path: str | os.PathLike, max_bytes: int = MAX_JSON_BYTES) -> str:
    """The UTF-8 text of a regular file of at most `max_bytes` (a FIFO or a folder is refused at
    once, never opened: opening a named pipe would block)."""
    try:
        with open_regular(path) as fh:
            size = os.fstat(fh.fileno()).st_size
            if size > max_bytes:
                raise JsonFileError(f"the file is {size} bytes; at most {max_bytes} are read.")
            data = fh.read(max_bytes + 1)
    except NotARegularFile as exc:
        raise JsonFileError(f"{exc}.", unreadable=True) from None
    except OSError as exc:
        raise JsonFileError(f"cannot be read ({exc.strerror or type(exc).__name__}).", unreadable=True) from None
    if len(data) > max_bytes:  # grew after the stat
        raise JsonFileError(f"the file is over {max_bytes} bytes.")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise JsonFileError("not UTF-8 text.", unreadable=True) from None


def read_json_file(path: str | os.PathLike, max_bytes: int = MAX_JSON_BYTES, max_depth: int = MAX_JSON_DEPTH):
    """The JSON data of a file, every cap checked; JsonFileError with one line otherwise."""
    return parse_json(read_json_text(path, max_bytes), max_depth)
