"""Generation speed settings: time and deviation from the exact result of each step-cache candidate.

    python benchmarks/speed_bench.py                       # mid-size random transformers on CPU
    python benchmarks/speed_bench.py --families flux --size 512

For each family it runs the plain generation loop (`benchmarks/random_models.py`) exactly, then
with each candidate hook from diffusers (first-block cache, TaylorSeer, MagCache; those a family's
blocks support) through `models.speed.speed_applied`, and reports: CPU seconds of the one compute
thread, the time ratio to exact, the relative RMS deviation of the final latent from exact, and
how many transformer blocks ran. Then it picks, per family, the fastest candidate under each
deviation bound ("fast", "fastest") - the rule `models/speed.py`'s table follows.

Random weights do not drift like trained models: their trajectories are smoother, so deviations
here are optimistic and the choice is provisional until the GPU suite runs on real weights.
Results: benchmarks/results/speed_<device>.md and .json.
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
from random_models import build, generate, shifted_sigmas  # noqa: E402

from benchmarks.machine import describe, device_name, load_average  # noqa: E402
from models.speed import SpeedPlan, StepCache, speed_applied  # noqa: E402

# Deviation bounds (relative RMS of the final latent against exact) for the two settings.
BOUNDS = {"fast": 0.01, "fastest": 0.03}
STEPS = {"flux": 28, "flux2": 28, "z-image": 8}  # dev / klein base defaults; Z-Image-Turbo runs 8


def candidates(family: str, steps: int) -> list[StepCache]:
    out: list[StepCache] = []
    if family == "flux":  # diffusers' first-block cache needs the same output type at head and tail
        out += [StepCache("first-block", threshold=t) for t in (0.05, 0.1, 0.2, 0.3)]
        # MagCache's shipped ratios are FLUX.1's; other families would need a calibration on real weights.
        out += [StepCache("magcache", threshold=t, max_skip=k, warmup=max(1, steps // 5))
                for t, k in ((0.06, 2), (0.12, 3), (0.24, 4))]
    warm = 2 if steps <= 10 else 3
    out += [StepCache("taylorseer", interval=n, order=o, warmup=warm, whole_model=True)
            for n, o in ((2, 1), (3, 1), (3, 2), (4, 2), (5, 2), (6, 2), (8, 2))]
    out += [StepCache("taylorseer", interval=n, order=o, warmup=warm, whole_model=False)
            for n, o in ((2, 1), (3, 1), (3, 2))]
    return out


def _block_counter(transformer):
    """Counts the Linear layers run inside the repeated blocks: the matmul work a step cache skips
    (a skipped block or a predicted attention module never reaches its Linear layers)."""
    names = set(transformer._repeated_blocks)
    count = [0]
    handles = [linear.register_forward_pre_hook(lambda *_: count.__setitem__(0, count[0] + 1))
               for block in transformer.modules() if type(block).__name__ in names
               for linear in block.modules() if isinstance(linear, torch.nn.Linear)]
    return count, handles


def run_family(family: str, args) -> dict:
    device = torch.device(args.device)
    model = build(family, args.scale, device, torch.float32)
    steps = args.steps or STEPS[family]
    sigmas = shifted_sigmas(steps)
    x0 = model.noise(args.size, seed=0)
    generate(model, x0, sigmas[:3])  # warm up allocators

    def one(cache: StepCache | None) -> tuple[dict, torch.Tensor]:
        plan = SpeedPlan("fast", family, "text2img", steps, cache, False)
        count, handles = _block_counter(model.transformer)
        try:
            start = time.thread_time()
            with speed_applied(model.transformer, plan):
                out = generate(model, x0, sigmas)
            seconds = time.thread_time() - start
        finally:
            for h in handles:
                h.remove()
        return {"candidate": "exact" if cache is None else cache.label(), "seconds": seconds, "block_calls": count[0]}, out

    exact_row, exact = one(None)
    rows = [exact_row]
    for cache in candidates(family, steps):
        try:
            row, out = one(cache)
        except Exception as exc:  # a hook that does not fit this family's blocks: recorded, not fatal
            rows.append({"candidate": cache.label(), "error": f"{type(exc).__name__}: {str(exc)[:120]}"})
            continue
        row["deviation"] = float((out - exact).pow(2).mean().sqrt() / exact.pow(2).mean().sqrt())
        row["cache"] = cache
        rows.append(row)
    for row in rows:
        if "seconds" in row:
            row["time_ratio"] = row["seconds"] / exact_row["seconds"]
            row["block_ratio"] = row["block_calls"] / exact_row["block_calls"]
    picks = {}
    for setting, bound in BOUNDS.items():
        ok = [r for r in rows[1:] if "deviation" in r and r["deviation"] <= bound]
        best = min(ok, key=lambda r: r["time_ratio"], default=None)
        picks[setting] = None if best is None else best["candidate"]
    for row in rows:
        row.pop("cache", None)
    tokens = x0.shape[1] if family != "z-image" else x0.shape[-1] * x0.shape[-2] // 4  # 2×2 patches
    return {"family": family, "steps": steps, "size": args.size, "image_tokens": tokens,
            "rows": rows, "picks": picks}


def to_markdown(r: dict) -> str:
    lines = [
        f"# Generation speed settings ({r['device']}: {r['device_name']}, 1 compute thread)",
        "",
        f"Random-weight transformers at scale `{r['scale']}`, fp32, torch {r['torch']}, diffusers {r['diffusers']}. "
        "Plain Euler flow-matching loop called as each family's pipeline calls its transformer. Times are CPU "
        "seconds of the compute thread; deviation is the relative RMS of the final latent against the exact run.",
        f"Machine load (1-minute average) at start / end: {r['load'][0]:.1f} / {r['load'][1]:.1f} on {os.cpu_count()} cores.",
        "",
        f"Choice rule: per family, the fastest candidate whose deviation is at most {BOUNDS['fast']:g} is `fast`, "
        f"at most {BOUNDS['fastest']:g} is `fastest`.",
    ]
    for f in r["families"]:
        lines += ["", f"## {f['family']} ({f['steps']} steps, {f['size']}², {f['image_tokens']} image tokens)", "",
                  "| candidate | seconds | time / exact | block matmuls run / exact | deviation (rel. RMS) |", "|---|---|---|---|---|"]
        for row in f["rows"]:
            if "error" in row:
                lines.append(f"| {row['candidate']} | fails: {row['error']} | | | |")
                continue
            dev = row.get("deviation")
            lines.append(f"| {row['candidate']} | {row['seconds']:.2f} | {row['time_ratio']:.2f} | {row['block_ratio']:.2f} "
                         f"| {'0 (reference)' if dev is None else f'{dev:.2e}'} |")
        lines += ["", "Picked: " + "; ".join(f"`{k}` = {v or 'none under the bound'}" for k, v in f["picks"].items())]
    lines += [
        "",
        "Random weights do not show how real models drift between steps: their outputs change smoothly and little,",
        "so every deviation here is optimistic and the picks are provisional until `benchmarks/gpu_suite.sh` runs",
        "the same candidates on real weights. Time ratios of skipping hooks (first-block, MagCache, whole-model",
        "TaylorSeer) follow the share of blocks skipped and carry over; deviations do not.",
    ]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--scale", choices=["tiny", "mid"], default="mid")
    parser.add_argument("--size", type=int, default=256, help="image side in pixels (multiple of 16)")
    parser.add_argument("--steps", type=int, default=None, help="default: each family's usual step count")
    parser.add_argument("--families", nargs="*", default=["flux", "flux2", "z-image"])
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    import diffusers

    load = [load_average()]
    families = [run_family(f, args) for f in args.families]
    load.append(load_average())
    result = {"device": args.device, "device_name": device_name(args.device), "machine": describe(args.device, threads=torch.get_num_threads()), "scale": args.scale,
              "torch": torch.__version__, "diffusers": diffusers.__version__, "load": load, "families": families}
    text = to_markdown(result)
    print(text)
    write_results(Path(args.out) if args.out else ROOT / "benchmarks" / "results" / f"speed_{args.device}", text, result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
