"""Fault injection for command-line tests run in a subprocess (put this folder on PYTHONPATH).

INTACT_TEST_FULL_DISK=<folder>: every file opened for writing under the folder fails with ENOSPC
at its first write, as on a disk that is full (opening and renaming still work, as they do there).
INTACT_TEST_READ_ONLY=<folder>: creating a file or a folder under it fails with EROFS, as on a
read-only mount (a read-only mode is no test when the tests run as root).
"""

import builtins
import errno
import io
import os

_FULL = os.environ.get("INTACT_TEST_FULL_DISK")
_READ_ONLY = os.environ.get("INTACT_TEST_READ_ONLY")


def _path_of(file) -> str:
    if isinstance(file, int):
        try:
            return os.readlink(f"/proc/self/fd/{file}")
        except OSError:
            return ""
    return os.path.realpath(os.fsdecode(file))


def _under(file, root: str) -> bool:
    return (_path_of(file) + os.sep).startswith(os.path.realpath(root) + os.sep)


class _FullDiskFile:
    def __init__(self, real):
        self._real = real

    def write(self, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    def writelines(self, lines):
        raise OSError(errno.ENOSPC, "No space left on device")

    def __getattr__(self, name):
        return getattr(self._real, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return self._real.__exit__(*exc)


if _FULL or _READ_ONLY:
    _real_open, _real_os_open, _real_mkdir = io.open, os.open, os.mkdir

    def _open(file, mode="r", *args, **kwargs):
        writing = any(c in mode for c in "wax+")
        if writing and _READ_ONLY and not isinstance(file, int) and _under(file, _READ_ONLY):
            raise OSError(errno.EROFS, "Read-only file system", os.fsdecode(file))
        handle = _real_open(file, mode, *args, **kwargs)
        if writing and _FULL and _under(file, _FULL):
            return _FullDiskFile(handle)
        return handle

    def _os_open(path, flags, *args, **kwargs):
        if _READ_ONLY and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT) and _under(path, _READ_ONLY):
            raise OSError(errno.EROFS, "Read-only file system", os.fsdecode(path))
        return _real_os_open(path, flags, *args, **kwargs)

    def _mkdir(path, *args, **kwargs):
        if _READ_ONLY and _under(path, _READ_ONLY) and not os.path.isdir(path):
            raise OSError(errno.EROFS, "Read-only file system", os.fsdecode(path))
        return _real_mkdir(path, *args, **kwargs)

    io.open = builtins.open = _open
    os.open, os.mkdir = _os_open, _mkdir
