"""Bounded load test of the web app on loopback: concurrent gradio_client sessions editing at once.

    .venv/bin/python benchmarks/load_test.py [--sessions 8] [--edits 3] [--queue-size 16] [--rounds 2]

Starts `python app.py --model tiny` on a free 127.0.0.1 port, makes one warm-up edit (the model
loads), then runs `rounds` rounds of `sessions` concurrent sessions × `edits` edits each through the
named `/edit` endpoint. Every session edits its own noise photo with its own stroke and prompt, so
any answer that belongs to another session is caught: the pixels outside the stroke must be this
session's photo, the report's target prompt this session's, and the session's history only its own.

Prints requests / completed / rejected (queue full) / errors / isolation violations, p50 and p95
latency of completed edits, and the server's RSS (after warm-up, peak, after each round), and writes
them to benchmarks/results/load_test.json and .md. Used by tests/app/test_load.py with small numbers.
Before the rounds it also uploads a 79-megapixel PNG once and reports how much the server's memory
rose while it was refused (from its header, before decoding).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
sys.path.insert(0, str(ROOT))
from benchmarks.machine import describe  # noqa: E402
from tests.app.app_server import RunningApp, running_app  # noqa: E402  (the launcher the app tests use)

# ---------------------------------------------------------------- the app in a subprocess


def rss_bytes(pid: int) -> int:
    """Resident set size of a process, from /proc (Linux)."""
    with open(f"/proc/{pid}/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


@contextlib.contextmanager
def launch_app(*extra: str, startup_timeout: float = 240.0, env: dict | None = None):
    """`python app.py --model tiny --port <free> *extra`, with its own output folder; yields a RunningApp."""
    work = Path(tempfile.mkdtemp(prefix="intact-load-"))
    child_env = {"HF_HUB_OFFLINE": "1", "INTACT_MODELS_DIR": os.environ.get("INTACT_MODELS_DIR", str(work / "models")),
                 **(env or {})}
    with running_app(*extra, startup_timeout=startup_timeout, env=child_env, output_dir=work / "outputs") as app:
        yield app


# ---------------------------------------------------------------- one user


@dataclass
class Outcome:
    session: int
    edit: int
    status: str  # "completed" | "rejected" | "error" | "mismatch"
    seconds: float
    message: str = ""
    inversion: str = ""  # the report's inversion note ("computed", "reused", ...)
    served_by: str = ""  # the serving replica that ran it (served app only)


@dataclass
class SessionInputs:
    photo: Path
    stroke: Path
    rgb: np.ndarray
    stroke_mask: np.ndarray


def session_inputs(folder: Path, i: int, size: tuple[int, int]) -> SessionInputs:
    """A noise photo and a brush stroke unique to session i."""
    w, h = size
    rng = np.random.default_rng(1000 + i)
    rgb = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    layer = np.zeros((h, w, 4), np.uint8)
    y0, x0 = 4 + i % 5, 4 + (3 * i) % 9
    layer[y0 : y0 + h // 3, x0 : x0 + w // 3] = (255, 40, 120, 255)
    photo, stroke = folder / f"photo-{i}.png", folder / f"stroke-{i}.png"
    Image.fromarray(rgb).save(photo)
    Image.fromarray(layer, "RGBA").save(stroke)
    return SessionInputs(photo, stroke, rgb, layer[:, :, 3] > 0)


def _editor_value(inputs: SessionInputs) -> dict:
    from gradio_client import handle_file

    return {"background": handle_file(str(inputs.photo)), "layers": [handle_file(str(inputs.stroke))], "composite": None}


def _first_path(value) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return value.get("path") or value.get("name")
    if isinstance(value, (list, tuple)) and value:
        return _first_path(value[0])
    return None


def is_queue_full(message: str) -> bool:
    text = message.lower()
    return "queue" in text and "full" in text


def report_of(outputs) -> dict | None:
    return next((o for o in outputs if isinstance(o, dict) and "target_prompt" in o), None)


def check_result(outputs, inputs: SessionInputs, target: str, expected_history: int, unsure: int = 0) -> str:
    """'' when the answer is this session's own edit, else what is wrong with it."""
    report = report_of(outputs)
    if report is None:
        return "no report in the answer"
    if report["target_prompt"] != target:
        return f"report is for {report['target_prompt']!r}, not {target!r}"
    # /edit answers (status, before/after, overlay, [result, mask] files, report, history): see ui/edit_tab.py.
    path = _first_path(outputs[3])
    if path is None:
        return "no result file in the answer"
    result = np.asarray(Image.open(path).convert("RGB"))
    if result.shape != inputs.rgb.shape:
        return f"result is {result.shape}, photo {inputs.rgb.shape}"
    outside = ~inputs.stroke_mask
    if not np.array_equal(result[outside], inputs.rgb[outside]):
        return "pixels outside the stroke are not this session's photo"
    history = outputs[-1]
    # An edit whose answer never reached the client (a timeout) may still have been made: `unsure`.
    if isinstance(history, list) and not expected_history <= len(history) <= expected_history + unsure:
        return f"history holds {len(history)} edits, this session made {expected_history}"
    return ""


def browser_post(url: str, api_name: str, session_hash: str, timeout: float = 60.0) -> list:
    """An event that is not queued, called as Gradio's page calls it: one HTTP POST (never refused
    "Queue is full", never behind the GPU). Returns the answer's data."""
    import urllib.request

    body = json.dumps({"data": [], "session_hash": session_hash}).encode()
    request = urllib.request.Request(f"{url}gradio_api/run/{api_name}", data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.load(response)["data"]


def gallery_leak(url: str, client, i: int) -> str:
    """'' when the session's gallery lists only its own edits (app started with --private-gallery).
    Asked as the page asks it (the gallery is answered off the queue), for this client's session."""
    outputs = browser_post(url, "gallery", client.session_hash)
    items = next((o for o in outputs if isinstance(o, list)), [])
    captions = [str(item.get("caption") if isinstance(item, dict) else item[1]) for item in items]
    foreign = [c for c in captions if "session " in c and f"session {i} edit" not in c]
    return f"gallery shows another session's results: {foreign[:2]}" if foreign else ""


def oversized_upload_rss_rise_mb(app: RunningApp, folder: Path) -> float:
    """Upload a 79-megapixel PNG (8900×8900, under 100 KB) as the photo to edit: refused from its
    header. Returns how much the server's memory rose meanwhile (peak, sampled every 20 ms)."""
    from gradio_client import Client
    from gradio_client.exceptions import AppError

    from tests.reliability.test_images import uniform_png

    huge = folder / "huge-8900x8900.png"
    huge.write_bytes(uniform_png(8900, 8900))
    inputs = SessionInputs(huge, folder / "stroke-0.png", np.zeros((1, 1, 3), np.uint8), np.zeros((1, 1), bool))
    client = Client(app.url, verbose=False)
    baseline = rss_bytes(app.process.pid)
    sampler = RssSampler(app.process.pid, every=0.02)
    sampler.start()
    try:
        client.predict("tiny", _editor_value(inputs), "a", "b", steps=2, skip_steps=0, inversion_guidance=1.5,
                       guidance=3.5, re_init=False, attn_mask=False, attn_scale=1.0, seed=0, kv_cache="auto",
                       api_name="/edit")
        raise RuntimeError("a 79-megapixel upload was accepted")
    except AppError as exc:
        if "megapixels" not in str(exc):
            raise
    finally:
        sampler.stop()
        with contextlib.suppress(Exception):
            client.close()
    return (max(sampler.peak, rss_bytes(app.process.pid)) - baseline) / 2**20


def run_session(url: str, i: int, edits: int, inputs: SessionInputs, steps: int, out: list, lock: threading.Lock,
                check_gallery: bool = False):
    from gradio_client import Client

    # A browser waits for its answer; httpx's 5 s default gives up on a busy 2-core machine.
    client = Client(url, verbose=False, httpx_kwargs={"timeout": 120})
    done = unsure = 0
    for j in range(edits):
        target = f"session {i} edit {j}"
        started = time.perf_counter()
        try:
            outputs = client.predict(
                "tiny", _editor_value(inputs), "a noisy photo", target, steps=steps, skip_steps=0,
                inversion_guidance=1.5, guidance=3.5, re_init=False, attn_mask=False, attn_scale=1.0, seed=i,
                kv_cache="auto", api_name="/edit",
            )
        except Exception as exc:  # noqa: BLE001 - classified below, never lost
            message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            status = "rejected" if is_queue_full(message) else "error"
            unsure += status == "error"
            outcome = Outcome(i, j, status, time.perf_counter() - started, message)
        else:
            seconds = time.perf_counter() - started
            done += 1
            problem = check_result(outputs, inputs, target, done, unsure)
            report = report_of(outputs) or {}
            outcome = Outcome(i, j, "mismatch" if problem else "completed", seconds, problem,
                              str(report.get("inversion", "")), str(report.get("served_by", "")))
        with lock:
            out.append(outcome)
    if check_gallery and done:
        try:
            problem, status = gallery_leak(url, client, i), "mismatch"
        except Exception as exc:  # noqa: BLE001 - a gallery that does not answer is an error, never lost
            problem, status = f"gallery: {type(exc).__name__}: {exc}", "error"
        if problem:
            with lock:
                out.append(Outcome(i, edits, status, 0.0, problem))
    with contextlib.suppress(Exception):
        client.close()


# ---------------------------------------------------------------- the whole test


@dataclass
class LoadReport:
    sessions: int
    edits_per_session: int
    rounds: int
    queue_size: int
    steps: int
    image_size: tuple[int, int]
    requests: int = 0
    completed: int = 0
    rejected: int = 0
    errors: int = 0
    mismatches: int = 0
    p50_seconds: float | None = None
    p95_seconds: float | None = None
    max_seconds: float | None = None
    wall_seconds: float = 0.0
    rss_after_warmup_mb: float = 0.0
    rss_peak_mb: float = 0.0
    rss_after_rounds_mb: list[float] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    machine: str = ""
    gallery_checked: bool = False
    oversized_upload_rss_rise_mb: float | None = None  # a 79 MP upload, refused from its header

    def table(self) -> str:
        rows = [
            ("requests", self.requests), ("completed", self.completed), ("rejected (queue full)", self.rejected),
            ("errors", self.errors),
            ("answers from another session" + (" (edits and private gallery)" if self.gallery_checked else ""),
             self.mismatches),
            ("p50 latency (s)", _fmt(self.p50_seconds)), ("p95 latency (s)", _fmt(self.p95_seconds)),
            ("max latency (s)", _fmt(self.max_seconds)), ("wall time (s)", _fmt(self.wall_seconds)),
            ("server RSS after warm-up (MB)", _fmt(self.rss_after_warmup_mb)),
            ("server RSS peak (MB)", _fmt(self.rss_peak_mb)),
            ("server RSS after each round (MB)", ", ".join(_fmt(v) for v in self.rss_after_rounds_mb)),
            ("server RSS rise for a refused 79 MP upload (MB)", _fmt(self.oversized_upload_rss_rise_mb)),
        ]
        head = (f"{self.sessions} sessions × {self.edits_per_session} edits × {self.rounds} rounds, queue size "
                f"{self.queue_size}, tiny model, {self.image_size[0]}×{self.image_size[1]} px, {self.steps} steps, "
                f"{self.machine}")
        return head + "\n\n| figure | value |\n|---|---|\n" + "\n".join(f"| {k} | {v} |" for k, v in rows)


def _fmt(v) -> str:
    return "-" if v is None else f"{v:.2f}" if isinstance(v, float) else str(v)


class RssSampler(threading.Thread):
    def __init__(self, pid: int, every: float = 0.2):
        super().__init__(daemon=True)
        self.pid, self.every, self.peak = pid, every, 0
        self._halt = threading.Event()

    def run(self):
        while not self._halt.is_set():
            with contextlib.suppress(OSError, RuntimeError):
                self.peak = max(self.peak, rss_bytes(self.pid))
            self._halt.wait(self.every)

    def stop(self):
        self._halt.set()
        self.join(5)


def run_load_test(app: RunningApp, sessions: int = 8, edits: int = 3, rounds: int = 2, steps: int = 2,
                  size: tuple[int, int] = (64, 48), queue_size: int = 16, settle_s: float = 3.0,
                  check_gallery: bool = False) -> tuple[LoadReport, list[Outcome]]:
    from gradio_client import Client

    pid = app.process.pid
    report = LoadReport(sessions, edits, rounds, queue_size, steps, size,
                        machine=f"{describe('cpu')['summary']}, no GPU")
    work = Path(tempfile.mkdtemp(prefix="intact-load-inputs-"))
    inputs = [session_inputs(work, i, size) for i in range(sessions + 1)]
    # Warm-up from a separate session: the model loads once, outside the measured rounds.
    warm = Client(app.url, verbose=False)
    warm.predict("tiny", _editor_value(inputs[sessions]), "a noisy photo", "warm-up", steps=steps, skip_steps=0,
                 inversion_guidance=1.5, guidance=3.5, re_init=False, attn_mask=False, attn_scale=1.0, seed=0,
                 kv_cache="auto", api_name="/edit")
    with contextlib.suppress(Exception):
        warm.close()
    time.sleep(settle_s)
    report.oversized_upload_rss_rise_mb = oversized_upload_rss_rise_mb(app, work)
    report.rss_after_warmup_mb = rss_bytes(pid) / 2**20
    sampler = RssSampler(pid)
    sampler.start()
    outcomes: list[Outcome] = []
    lock = threading.Lock()
    started = time.perf_counter()
    for _ in range(rounds):
        threads = [threading.Thread(target=run_session, args=(app.url, i, edits, inputs[i], steps, outcomes, lock,
                                                              check_gallery))
                   for i in range(sessions)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        time.sleep(settle_s)
        report.rss_after_rounds_mb.append(rss_bytes(pid) / 2**20)
    report.wall_seconds = time.perf_counter() - started
    sampler.stop()
    report.rss_peak_mb = max(sampler.peak, rss_bytes(pid)) / 2**20
    report.requests = sum(o.edit < edits for o in outcomes)  # gallery checks are not requests
    report.gallery_checked = check_gallery
    report.completed = sum(o.status == "completed" for o in outcomes)
    report.rejected = sum(o.status == "rejected" for o in outcomes)
    report.errors = sum(o.status == "error" for o in outcomes)
    report.mismatches = sum(o.status == "mismatch" for o in outcomes)
    latencies = sorted(o.seconds for o in outcomes if o.status == "completed")
    if latencies:
        report.p50_seconds = float(np.percentile(latencies, 50))
        report.p95_seconds = float(np.percentile(latencies, 95))
        report.max_seconds = latencies[-1]
    report.messages = sorted({o.message for o in outcomes if o.message})
    return report, outcomes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=8)
    parser.add_argument("--edits", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--queue-size", type=int, default=16)
    parser.add_argument("--private-gallery", action="store_true",
                        help="start the app with --private-gallery and check each session's gallery holds only its own")
    parser.add_argument("--name", default=None, help="results file stem (default load_test_q<queue size>)")
    args = parser.parse_args(argv)
    extra = ["--private-gallery"] if args.private_gallery else []
    with launch_app("--queue-size", str(args.queue_size), *extra) as app:
        report, _ = run_load_test(app, args.sessions, args.edits, args.rounds, args.steps, queue_size=args.queue_size,
                                  check_gallery=args.private_gallery)
    text = report.table()
    if report.messages:
        text += "\n\nmessages seen:\n" + "\n".join(f"- {m}" for m in report.messages)
    print(text)
    RESULTS.mkdir(parents=True, exist_ok=True)
    stem = args.name or f"load_test_q{args.queue_size}"
    (RESULTS / f"{stem}.json").write_text(json.dumps(asdict(report), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    (RESULTS / f"{stem}.md").write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
