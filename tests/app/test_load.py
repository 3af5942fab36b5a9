"""The launched app under load, and what it serves.

A bounded load test on loopback (benchmarks/load_test.py): 8 concurrent gradio_client sessions ×
3 edits × 2 rounds on the tiny model, with a queue of 4 so the queue limit is reached. Every request
completes or is refused with the queue's message, no session ever receives another's result (nor,
with --private-gallery, sees another's saved pictures in its gallery), and the server's memory does
not grow without bound from one round to the next. Then the HTTP surface: only the
output folder is served (not the code, not /etc, not the history log), uploads are size-limited, and
the server listens on 127.0.0.1.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from benchmarks.load_test import launch_app, run_load_test  # noqa: E402
from tests.app.app_server import http_status  # noqa: E402

pytestmark = pytest.mark.slow

SESSIONS, EDITS, ROUNDS, QUEUE = 8, 3, 2, 4


@pytest.fixture(scope="module")
def app():
    with launch_app("--queue-size", str(QUEUE), "--private-gallery") as running:
        yield running


@pytest.fixture(scope="module")
def load(app):
    report, outcomes = run_load_test(app, sessions=SESSIONS, edits=EDITS, rounds=ROUNDS, steps=2, queue_size=QUEUE,
                                     check_gallery=True)
    print("\n" + report.table())
    return report, outcomes


def test_every_request_completes_or_is_refused_by_the_queue_with_a_message(load):
    report, outcomes = load
    assert report.requests == SESSIONS * EDITS * ROUNDS
    assert report.errors == 0, [o.message for o in outcomes if o.status == "error"]
    assert report.completed + report.rejected + sum(o.status == "mismatch" and o.edit < EDITS for o in outcomes) \
        == report.requests
    assert report.completed >= SESSIONS  # the queue refuses some, it never starves everyone
    for o in outcomes:
        if o.status == "rejected":
            assert "Queue is full" in o.message


def test_no_session_ever_sees_another_sessions_result_or_gallery(load):
    report, outcomes = load
    assert report.mismatches == 0, [o.message for o in outcomes if o.status == "mismatch"]


def test_server_memory_does_not_grow_from_one_round_to_the_next(load):
    report, _ = load
    first, second = report.rss_after_rounds_mb
    # The same load again must not need more memory: per-session state is released or bounded.
    assert second <= first + 64, report.table()
    assert report.rss_peak_mb <= report.rss_after_warmup_mb + 512, report.table()


def test_only_the_output_folder_is_served(app, load):
    base = app.url.rstrip("/")
    for path in (ROOT / "app.py", Path("/etc/passwd"), app.output_dir / "history.jsonl",
                 app.output_dir / ".." / "app.log"):
        assert http_status(f"{base}/gradio_api/file={path}") != 200, path
    saved = sorted((app.output_dir / "jobs").glob("*/*.png"))
    assert saved, "the load test saved nothing"
    # Each job in a folder named by 128 random bits: no one fetches another's result by guessing.
    assert all(len(p.parent.name) == 32 and all(c in "0123456789abcdef" for c in p.parent.name) for p in saved)


def upload_status(url: str, size: int) -> int | None:
    """POST a `size`-byte file to gradio's upload route, streamed; the HTTP status, or None if cut off."""
    import http.client
    from urllib.parse import urlparse

    boundary = "intactboundary"
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"big.png\"\r\n"
            f"Content-Type: image/png\r\n\r\n").encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    parsed = urlparse(url)
    conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=120)
    conn.putrequest("POST", "/gradio_api/upload")
    conn.putheader("Content-Type", f"multipart/form-data; boundary={boundary}")
    conn.putheader("Content-Length", str(len(head) + size + len(tail)))
    conn.endheaders()
    chunk = b"\0" * (1 << 20)
    try:
        conn.send(head)
        for _ in range(size // len(chunk)):
            conn.send(chunk)
        conn.send(tail)
    except (BrokenPipeError, ConnectionResetError):
        pass  # the server stopped reading: its answer, if it sent one, is still to be read
    try:
        return conn.getresponse().status
    except (ConnectionResetError, http.client.RemoteDisconnected):
        return None
    finally:
        conn.close()


def test_uploads_are_size_limited(app):
    status = upload_status(app.url, 100 * (1 << 20))  # 100 MB: far beyond any photo
    assert status in (413, None), f"a 100 MB upload was accepted with HTTP {status}"
    assert http_status(app.url) == 200  # refused, and the server is still serving
    assert upload_status(app.url, 1 << 20) == 200  # a normal photo-sized upload still works


def test_server_listens_on_loopback_only(app, monkeypatch):
    assert f"127.0.0.1:{app.url.rsplit(':', 1)[1].strip('/')}" in app.log()
    import app as app_module

    monkeypatch.delenv("GRADIO_SERVER_NAME", raising=False)
    assert app_module.build_parser().parse_args([]).host == "127.0.0.1"
