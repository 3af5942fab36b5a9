"""Feature chunking: activation peak and time of one transformer pass per MLP slice count.

    python benchmarks/chunking_bench.py                  # mid-size random FLUX.1 on CPU, 512² and 1024²
    python benchmarks/chunking_bench.py --device cuda --scale full --sizes 1024 2048

Measured: the peak of tensors created during one pass (CUDA: the allocator's peak; CPU: live
tensor bytes, `benchmarks/peak_memory.py`), seconds per pass, and the largest output difference
against the unchunked pass. Counted: the estimator's activation bytes for the same pass, and, at
FLUX.1 size, what the planner picks with and without chunking on each memory profile.
Results: benchmarks/results/chunking_<device>.md and .json.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
from kv_edit_bench import write_results  # noqa: E402
from peak_memory import PeakMemory  # noqa: E402
from random_models import build  # noqa: E402

from benchmarks.machine import describe, device_name, load_average  # noqa: E402
from models.memory import estimator as est  # noqa: E402
from models.memory import planner  # noqa: E402
from models.memory.chunking import set_feature_chunking  # noqa: E402

CHUNKS = (1, 2, 4, 8)


def measure(model, sizes, repeats: int) -> list[dict]:
    clock = time.perf_counter if model.device.type == "cuda" else time.thread_time
    rows = []
    hidden = model.config["num_attention_heads"] * model.config["attention_head_dim"]
    for size in sizes:
        x = model.noise(size, seed=0)
        tokens = x.shape[1] + model.text_tokens
        reference = None
        for chunks in CHUNKS:
            set_feature_chunking(model.transformer, chunks)
            with PeakMemory(model.device) as peak:
                out = model.velocity(x, 0.5)
            times = []
            for _ in range(repeats):
                start = clock()
                model.velocity(x, 0.5)
                if model.device.type == "cuda":
                    torch.cuda.synchronize(model.device)
                times.append(clock() - start)
            reference = out if reference is None else reference
            per = torch.finfo(model.dtype).bits // 8
            rows.append({
                "size": size, "tokens": tokens, "chunks": chunks, "peak_bytes": peak.bytes,
                "widths_measured": peak.bytes / (tokens * hidden * per),
                "widths_estimated": est.block_workspace_widths(chunks),
                "seconds": min(times), "max_abs_difference": float((out - reference).abs().max()),
            })
        set_feature_chunking(model.transformer, 1)
    return rows


# (model, task, side, images, profile): high-resolution jobs where the activation peak decides the plan.
PLANNER_CASES = (
    ("z-image-turbo", "generate", 2048, 4, "l4-24gb"),
    ("z-image-turbo", "generate", 4096, 1, "l4-24gb"),
    ("flux-dev", "generate", 2048, 4, "l4-24gb"),
    ("flux-dev", "kv-edit", 1536, 1, "l4-24gb"),
)


def planner_effect() -> list[dict]:
    """The planner's pick for each case, and its pick when chunking is not offered."""
    out = []
    for model, task, side, images, profile in PLANNER_CASES:
        plans = planner.evaluate_plans(model, side, side, 28, 0.25, planner.PROFILES[profile], task=task,
                                       weight_quantizers=(), images=images)
        fitting = [p for p in plans if p.fits]
        without = [p for p in fitting if p.feature_chunks == 1]
        out.append({"model": model, "task": task, "size": side, "images": images, "profile": profile,
                    "pick": fitting[0].name if fitting else None,
                    "pick_without_chunking": without[0].name if without else None})
    return out


def to_markdown(r: dict) -> str:
    lines = [
        f"# Feature chunking ({r['device']}: {r['device_name']})",
        "",
        f"Random-weight {r['family']} transformer at scale `{r['scale']}`, {r['dtype']}, torch {r['torch']}. One pass "
        "over text + all image tokens per row; peak = tensors created during the pass "
        + ("(CUDA allocator)." if r["device"] == "cuda" else "(live tensor bytes; no allocator statistics on CPU)."),
        f"Machine load at start / end: {r['load'][0]:.1f} / {r['load'][1]:.1f} on {os.cpu_count()} cores.",
        "",
        "| size | tokens | MLP slices | peak | peak / unchunked | widths measured | widths estimated | seconds | max abs diff |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    base = {}
    for row in r["rows"]:
        base.setdefault(row["size"], row["peak_bytes"])
        lines.append(
            f"| {row['size']}² | {row['tokens']} | {row['chunks']} | {row['peak_bytes'] / 1e6:.1f} MB "
            f"| {row['peak_bytes'] / base[row['size']]:.2f} | {row['widths_measured']:.1f} | {row['widths_estimated']:.1f} "
            f"| {row['seconds']:.3f} | {row['max_abs_difference']:.1e} |"
        )
    lines += ["", "Widths: peak / (tokens × hidden × bytes). The estimator's unchunked 20 widths were set before this",
              "measurement (conservative on CPU); its chunked widths follow the measured ratios.", "",
              "## What the planner picks at real size (counted from the architectures, no weight quantization)", "",
              "| model | task | size | images | profile | pick | pick if chunking were not offered |",
              "|---|---|---|---|---|---|---|"]
    for p in r["planner"]:
        lines.append(f"| {p['model']} | {p['task']} | {p['size']}² | {p['images']} | {p['profile']} "
                     f"| {p['pick'] or 'nothing fits'} | {p['pick_without_chunking'] or 'nothing fits'} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--scale", choices=["tiny", "mid", "full"], default="mid")
    parser.add_argument("--family", default="flux")
    parser.add_argument("--sizes", type=int, nargs="*", default=[512, 1024])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cpu":
        torch.set_num_threads(1)
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    load = [load_average()]
    model = build(args.family, args.scale, device, dtype)
    rows = measure(model, args.sizes, args.repeats)
    load.append(load_average())
    result = {"device": device.type,
              "device_name": device_name(device), "machine": describe(device, threads=torch.get_num_threads()),
              "family": args.family, "scale": args.scale, "dtype": str(dtype).replace("torch.", ""),
              "torch": torch.__version__, "load": load, "rows": rows, "planner": planner_effect()}
    text = to_markdown(result)
    print(text)
    write_results(Path(args.out) if args.out else ROOT / "benchmarks" / "results" / f"chunking_{device.type}", text, result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
