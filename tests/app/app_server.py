"""Start `python app.py` in a subprocess on a free port and wait until it answers HTTP 200.

Shared by the app launch, API and browser tests. The child inherits the test session's private
INTACT_* folders and HF_HUB_OFFLINE=1 (set by tests/conftest.py).
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_status(url: str, timeout: float = 5.0) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
        return None


class RunningApp:
    def __init__(self, url: str, process: subprocess.Popen, log_path: Path, output_dir: Path | None = None):
        self.url = url
        self.process = process
        self.log_path = log_path
        self.output_dir = output_dir  # set when the caller chose it (--output-dir)

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")


@contextlib.contextmanager
def running_app(*extra_args: str, startup_timeout: float = 180.0, env: dict | None = None,
                output_dir: Path | None = None):
    """Yield a RunningApp for `python app.py --model tiny --port <free> *extra_args`."""
    port = free_port()
    if output_dir is not None:
        extra_args = ("--output-dir", str(output_dir), *extra_args)
    log_fd, log_name = tempfile.mkstemp(prefix="intact-app-", suffix=".log")
    child_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    with os.fdopen(log_fd, "w") as log_file:  # the child writes its own copy of the descriptor
        process = subprocess.Popen(
            [sys.executable, "app.py", "--model", "tiny", "--port", str(port), *extra_args],
            cwd=ROOT, stdout=log_file, stderr=subprocess.STDOUT, env=child_env,
        )
    app = RunningApp(f"http://127.0.0.1:{port}/", process, Path(log_name), output_dir)
    try:
        deadline = time.monotonic() + startup_timeout
        while http_status(app.url) != 200:
            if process.poll() is not None:
                raise RuntimeError(f"app.py exited with {process.returncode} before answering:\n{app.log()[-4000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"app.py did not answer within {startup_timeout:.0f} s:\n{app.log()[-4000:]}")
            time.sleep(0.5)
        yield app
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
