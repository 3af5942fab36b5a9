"""Load test of the app served from Ray Serve replicas, against the same app in one process.

    python benchmarks/ray_load_test.py [--sessions 8] [--edits 4] [--replicas 0 1 2] [--max-sessions 4]

Starts a Ray cluster on loopback in this process, then for each mode (the app in one process;
the app with --ray in front of 1 replica; ... of 2 replicas) runs `sessions` concurrent
gradio_client sessions × `edits` edits each through the app's /edit endpoint (load_test.py's
sessions: every answer is checked to be the session's own). Reports requests per minute, p50/p95
latency, the inversion reuse rate (edits whose report says "reused"), how the sessions spread over
the replicas, and each replica's memory and CPU time; writes benchmarks/results/ray_load_test.*.
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
from collections import Counter
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
sys.path.insert(0, str(ROOT))
from benchmarks.load_test import _editor_value, run_load_test, session_inputs  # noqa: E402
from benchmarks.machine import describe  # noqa: E402
from tests.app.app_server import running_app  # noqa: E402
from tests.serving.cluster import descendants, local_cluster  # noqa: E402


@dataclass
class ModeResult:
    mode: str  # "in-process" or "N replica(s)"
    replicas: int  # 0 in-process
    requests: int = 0
    completed: int = 0
    errors: int = 0
    mismatches: int = 0
    wall_seconds: float = 0.0
    requests_per_minute: float = 0.0
    p50_seconds: float | None = None
    p95_seconds: float | None = None
    inversion_notes: dict = field(default_factory=dict)
    reuse_rate: float = 0.0  # share of edits that reused their session's inversion
    sessions_per_replica: list[int] = field(default_factory=list)
    app_rss_mb: float = 0.0
    replica_rss_mb: list[float] = field(default_factory=list)
    replica_cpu_seconds_per_edit: list[float] = field(default_factory=list)
    app_cpu_seconds_per_edit: float | None = None  # the Gradio front end (decoding, encoding, queue)
    clients_cpu_seconds_per_edit: float | None = None  # this process: the gradio_client sessions making the load
    load_average: float | None = None  # the machine's 1-minute load while this mode ran (others' jobs included)
    messages: list[str] = field(default_factory=list)


def replica_processes() -> dict[int, str]:
    """pid -> process title of the Studio replicas started below this process."""
    found = {}
    for pid in descendants(os.getpid()):
        with contextlib.suppress(OSError):
            title = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode(errors="replace")
            if "ServeReplica:intact:StudioDeployment" in title:
                found[pid] = title
    return found


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def warm_every_replica(url: str, replicas: int, inputs, steps: int) -> None:
    """Load the model on every replica before measuring: edits from fresh sessions at once until
    each replica has answered one (new sessions go to the replica holding the fewest)."""
    from gradio_client import Client

    seen: set[str] = set()
    for _ in range(4):
        answers: list = []

        def one(k: int) -> None:
            client = Client(url, verbose=False)
            out = client.predict("tiny", _editor_value(inputs[k % len(inputs)]), "a noisy photo", f"warm {k}",
                                 steps=steps, skip_steps=0, inversion_guidance=1.5, guidance=3.5, re_init=False,
                                 attn_mask=False, attn_scale=1.0, seed=k, kv_cache="auto", api_name="/edit")
            answers.append(out[-2].get("served_by", ""))

        threads = [threading.Thread(target=one, args=(k,)) for k in range(replicas)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        seen.update(answers)
        if len(seen) >= replicas:
            return


def measure(mode: str, replicas: int, app, args, warm_inputs) -> ModeResult:
    if replicas:
        warm_every_replica(app.url, replicas, warm_inputs, args.steps)
    pids = replica_processes()
    cpu_before = {pid: cpu_seconds(pid) for pid in pids}
    app_before, clients_before = cpu_seconds(app.process.pid), time.process_time()
    report, outcomes = run_load_test(app, args.sessions, args.edits, rounds=1, steps=args.steps,
                                     size=(args.width, args.height), queue_size=64, settle_s=1.0)
    result = ModeResult(mode, replicas, report.requests, report.completed, report.errors, report.mismatches,
                        report.wall_seconds, p50_seconds=report.p50_seconds, p95_seconds=report.p95_seconds,
                        messages=report.messages)
    result.requests_per_minute = 60.0 * report.completed / report.wall_seconds if report.wall_seconds else 0.0
    result.load_average = os.getloadavg()[0]
    edits = max(1, report.completed)
    result.app_cpu_seconds_per_edit = round((cpu_seconds(app.process.pid) - app_before) / edits, 3)
    result.clients_cpu_seconds_per_edit = round((time.process_time() - clients_before) / edits, 3)
    done = [o for o in outcomes if o.status == "completed"]
    notes = Counter(o.inversion for o in done)
    result.inversion_notes = dict(notes)
    result.reuse_rate = notes.get("reused", 0) / len(done) if done else 0.0
    if replicas:  # sessions that stayed on one replica, counted per replica
        per_session: dict[int, set[str]] = {}
        for o in done:
            per_session.setdefault(o.session, set()).add(o.served_by)
        result.sessions_per_replica = sorted(
            Counter(next(iter(r)) for r in per_session.values() if len(r) == 1).values(), reverse=True)
    result.app_rss_mb = report.rss_peak_mb
    result.replica_rss_mb = [round(rss_mb(pid), 1) for pid in pids]
    result.replica_cpu_seconds_per_edit = [round((cpu_seconds(pid) - cpu_before[pid]) / max(1, len(done)), 3)
                                           for pid in pids]
    return result


def run(args) -> tuple[list[ModeResult], str]:
    from editor.studio import StudioConfig
    from serving import ServingOptions, deploy

    work = Path(tempfile.mkdtemp(prefix="intact-ray-load-"))
    os.environ.setdefault("INTACT_MODELS_DIR", str(work / "models"))
    os.environ["HF_HUB_OFFLINE"] = "1"
    warm_inputs = [session_inputs(work, 100 + k, (args.width, args.height)) for k in range(4)]
    results = []
    with local_cluster(num_cpus=max(2, *args.replicas)) as address:
        from ray import serve

        for replicas in args.replicas:
            output = work / f"outputs-{replicas}"
            extra: tuple[str, ...] = ("--queue-size", "64", "--max-edit-sessions", str(args.max_sessions))
            if replicas:
                config = StudioConfig(output_dir=output)
                deploy(config, ServingOptions(replicas=replicas, max_sessions=args.max_sessions,
                                              cpus_per_replica=1.0))
                extra += ("--ray", address)
            mode = f"{replicas} replica{'s' if replicas > 1 else ''}" if replicas else "in-process"
            print(f"--- {mode}", flush=True)
            with running_app(*extra, output_dir=output, startup_timeout=300) as app:
                results.append(measure(mode, replicas, app, args, warm_inputs))
            print(json.dumps(asdict(results[-1])), flush=True)
            if replicas:
                serve.delete("intact")
                time.sleep(3)
    return results, machine()


def machine() -> str:
    import torch

    described = describe("cpu", threads=torch.get_num_threads())
    return f"{described['summary']}, {described['memory_gb']:.0f} GB RAM, no GPU, shared with other jobs"


def gpu_needs(sessions: int, max_sessions: int) -> str:
    """What the same test needs at real size, from the project's memory planner (estimates)."""
    from models.memory.planner import plan_for_profile

    plan = plan_for_profile("flux-schnell", 1024, 1024, 28, 0.25, "h100-80gb")
    parts = dict(plan.parts)
    kv = parts.get("kv_cache_in_ram", 0) + parts.get("kv_cache_on_gpu", 0)
    return (f"At real size (FLUX.1 [schnell] architecture, 1024×1024, 28 steps, a quarter of the photo "
            f"painted) the planner's H100 80 GB plan is '{plan.describe()}': about {plan.gpu_bytes / 2**30:.0f} GiB "
            f"on the GPU per replica and about {kv / 2**30:.0f} GiB of K/V cache per session kept (pinned RAM in "
            f"that plan). So each replica is one GPU, and its host needs RAM for the sessions it keeps: "
            f"keeping all {sessions} sessions' inversions takes {sessions} × {kv / 2**30:.0f} GiB across the "
            f"replicas (with {max_sessions} sessions per replica: {-(-sessions // max_sessions)} replicas); with "
            f"fewer, the reuse rate "
            f"falls as in the 1-replica row. Edit times there are not measured here (no GPU was lent).")


def write(results: list[ModeResult], machine_line: str, args) -> str:
    head = (f"{args.sessions} sessions × {args.edits} edits through the app's /edit API on loopback, tiny model "
            f"(random weights), {args.width}×{args.height} px, {args.steps} steps (no skipped steps), "
            f"{args.max_sessions} sessions kept per replica (per app in-process), each replica 1 CPU "
            f"(1 torch thread); {machine_line}")
    rows = [("requests", "requests"), ("completed", "completed"), ("errors", "errors"),
            ("answers from another session", "mismatches"), ("requests per minute", "requests_per_minute"),
            ("p50 latency (s)", "p50_seconds"), ("p95 latency (s)", "p95_seconds"), ("wall time (s)", "wall_seconds"),
            ("inversion reuse rate", "reuse_rate"), ("inversion notes", "inversion_notes"),
            ("sessions per replica", "sessions_per_replica"), ("app RSS peak (MB)", "app_rss_mb"),
            ("replica RSS (MB)", "replica_rss_mb"), ("each replica's CPU s / all edits", "replica_cpu_seconds_per_edit"),
            ("app CPU s per edit", "app_cpu_seconds_per_edit"),
            ("load generator CPU s per edit", "clients_cpu_seconds_per_edit"),
            ("machine load average (1 min)", "load_average")]

    def cell(value) -> str:
        if isinstance(value, float):
            return f"{value:.2f}"
        if isinstance(value, dict):
            return ", ".join(f"{k}: {v}" for k, v in sorted(value.items()))
        if isinstance(value, list):
            return ", ".join(str(v) for v in value) or "-"
        return "-" if value is None else str(value)

    table = "| figure | " + " | ".join(r.mode for r in results) + " |\n|---|" + "---|" * len(results) + "\n"
    table += "\n".join(f"| {label} | " + " | ".join(cell(getattr(r, key)) for r in results) + " |" for label, key in rows)
    return f"{head}\n\n{table}\n\n{gpu_needs(args.sessions, args.max_sessions)}\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=8)
    parser.add_argument("--edits", type=int, default=4)
    parser.add_argument("--replicas", type=int, nargs="+", default=[0, 1, 2],
                        help="modes to run: 0 is the app in one process, N the app in front of N replicas")
    parser.add_argument("--max-sessions", type=int, default=4, help="sessions one replica keeps (default 4)")
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--width", type=int, default=128)
    parser.add_argument("--height", type=int, default=96)
    parser.add_argument("--name", default="ray_load_test")
    parser.add_argument("--rewrite", action="store_true", help="only write the .md again from the saved .json")
    args = parser.parse_args(argv)
    if args.rewrite:
        saved = json.loads((RESULTS / f"{args.name}.json").read_text(encoding="utf-8"))
        args = argparse.Namespace(**{**saved["args"], "name": args.name})
        names = {f.name for f in fields(ModeResult)}
        results = [ModeResult(**{k: v for k, v in r.items() if k in names}) for r in saved["results"]]
        (RESULTS / f"{args.name}.md").write_text(write(results, saved["machine"], args), encoding="utf-8")
        return 0
    results, machine_line = run(args)
    text = write(results, machine_line, args)
    print(text)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{args.name}.json").write_text(json.dumps({"machine": machine_line, "args": vars(args),
                                                          "results": [asdict(r) for r in results]},
                                                         indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    (RESULTS / f"{args.name}.md").write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
