"""What a foreground-only edit step costs over its share of the work: edit step / full step,
divided by the FLOP ratio (1.00 = the edit costs exactly its share of the matmuls).

    python benchmarks/foreground_cost_bench.py                       # every family, mid-size, CPU
    python benchmarks/foreground_cost_bench.py --families flux2 --rounds 9
    python benchmarks/foreground_cost_bench.py --code-root /tmp/old --tag cpu_before  # another checkout
    python benchmarks/foreground_cost_bench.py --compare results/a.json results/b.json  # the before/after page

For each family (random weights, preset `mid`, 512², 128 text tokens) and mask fraction, rounds
alternate a full step (stock processors) and an edit step (foreground rows only, replaying recorded
background keys/values with the default attn_scale bias of 1.0), so a neighbour's load hits both
alike; the figures are medians of the rounds, in CPU seconds of the one compute thread. FLOPs are
counted as in kv_edit_bench.py (matmuls only). Results go to benchmarks/results/foreground_cost_<tag>.md/.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _paths(code_root: Path) -> None:
    sys.path[:0] = [str(code_root), str(code_root / "benchmarks"), str(ROOT / "benchmarks"), str(ROOT)]


def measure(family: str, fractions: tuple[float, ...], rounds: int) -> dict:
    import numpy as np
    import torch
    from kv_edit_bench import MLP_D2, fraction_mask, step_flops
    from random_models import build, kv_pipe, kv_prompt

    from editor.kv_edit.attention import KVContext, background_key_bias, recording, replaying
    from editor.kv_edit.engine import Canvas, Conditioning, KVEditEngine
    from editor.kv_edit.families import adapter_for
    from editor.kv_edit.kv_cache import make_kv_store
    from editor.kv_edit.masks import token_mask
    from models.families import FAMILIES

    device, dtype, size = torch.device("cpu"), torch.float32, 512
    model = build(family, "mid", device, dtype)
    pipe = kv_pipe(model)
    adapter = adapter_for(pipe)
    latent = size // 8
    canvas = Canvas(size, size, latent, latent, model.latent_channels)
    text = Conditioning(kv_prompt(model, "benchmark"))
    latents = torch.randn(1, canvas.tokens, model.latent_channels * 4, generator=torch.Generator().manual_seed(2))
    _, heads, head_dim = FAMILIES[family].attention_shape(model.transformer.config)

    def installed(engine):
        # Older checkouts install processors by transformer; this one by the engine's layer map.
        return getattr(engine, "layers", model.transformer)

    whole = KVEditEngine(pipe, canvas, token_mask(np.ones((size, size), np.float32), latent, latent), device,
                         family=adapter)
    n_layers = whole.n_layers
    flops = lambda queries: step_flops(heads * head_dim, n_layers, MLP_D2[family], model.text_tokens,  # noqa: E731
                                       queries, canvas.tokens)
    rows = []
    for fraction in fractions:
        mask = token_mask(fraction_mask(canvas, fraction), latent, latent)
        engine = KVEditEngine(pipe, canvas, mask, device, family=adapter)
        store = make_kv_store("device", device, dtype)
        ctx = KVContext(store=store, background_index=engine.bg_index, image_rows=engine.image_rows,
                        n_layers=engine.n_layers, image_first=adapter.image_first)
        with recording(installed(engine), ctx):
            engine.velocity(latents, engine.image_ids, text, 0.5, 1.5)
        ctx.key_bias = background_key_bias(0, 0, len(engine.bg_index), 1.0, dtype, device)
        foreground = latents[:, engine.fg_index]
        full_times, edit_times = [], []
        for round_ in range(rounds + 2):  # two warm-up rounds
            start = time.thread_time()
            whole.velocity(latents, whole.image_ids, text, 0.5, 3.5)
            full = time.thread_time() - start
            with replaying(installed(engine), ctx):
                start = time.thread_time()
                engine.velocity(foreground, engine.fg_ids, text, 0.5, 3.5)
                edit = time.thread_time() - start
            if round_ >= 2:
                full_times.append(full)
                edit_times.append(edit)
        full_s, edit_s = statistics.median(full_times), statistics.median(edit_times)
        flop_ratio = flops(mask.foreground_tokens) / flops(canvas.tokens)
        # Per round, so the spread says how much the neighbours moved the figure.
        per_round = sorted(e / f / flop_ratio for e, f in zip(edit_times, full_times))
        # Three readings of the same rounds: the ratio of the medians; the median of the per-round
        # ratios (a round's two steps run back to back, so a slow spell of the machine hits both);
        # and the ratio of the fastest of each (the least disturbed runs). The target is judged on the
        # per-round median; the others show how far the noise moves it.
        rows.append({"fraction": fraction, "foreground_tokens": mask.foreground_tokens,
                     "full_step_seconds": full_s, "edit_step_seconds": edit_s, "flop_ratio": flop_ratio,
                     "cost_over_flop_ratio": edit_s / full_s / flop_ratio,
                     "median_round_cost": statistics.median(per_round),
                     "fastest_cost": min(edit_times) / min(full_times) / flop_ratio,
                     "per_round_range": [per_round[0], per_round[-1]]})
        store.clear()
    return {"family": family, "layers": n_layers, "hidden": heads * head_dim, "image_tokens": canvas.tokens,
            "text_tokens": model.text_tokens, "rows": rows}


def _judged(row: dict) -> float:
    """The figure held against the targets: the per-round median (results from before it was
    recorded fall back to the ratio of the medians)."""
    return row.get("median_round_cost", row["cost_over_flop_ratio"])


def to_markdown(result: dict) -> str:
    machine = result["machine"]
    lines = [f"# Foreground pass cost over its FLOP share ({result['tag']})", "",
             f"Code: {result['code']}. {machine['summary']}. Rounds: {result['rounds']} (medians), "
             f"CPU time of the one compute thread. Whole run: {result['seconds']:.0f} s.", "",
             "Cost = edit step / full step ÷ FLOP ratio: of the medians; median of the per-round ratios (judged "
             "against the targets); of the fastest rounds.", "",
             "| family | fraction (fg tokens) | full step (s) | edit step (s) | FLOP ratio | cost of medians "
             "| **per-round median** | fastest | per-round range |",
             "|---|---|---|---|---|---|---|---|---|"]
    for fam in result["families"]:
        for i, row in enumerate(fam["rows"]):
            lines.append(f"| {fam['family'] if i == 0 else ''} | {row['fraction']:.2f} ({row['foreground_tokens']}) "
                         f"| {row['full_step_seconds']:.3f} | {row['edit_step_seconds']:.3f} | {row['flop_ratio']:.3f} "
                         f"| {row['cost_over_flop_ratio']:.3f} | **{_judged(row):.3f}** | {row.get('fastest_cost', float('nan')):.3f} "
                         f"| {row['per_round_range'][0]:.2f}–{row['per_round_range'][1]:.2f} |")
    return "\n".join(lines) + "\n"


def comparison(before: dict, after: dict) -> str:
    """Before and after side by side, per family and fraction, with the targets of issue #24."""
    target = lambda fraction: 1.02 if fraction >= 1.0 else 1.10  # noqa: E731
    lines = ["# Foreground pass cost over its FLOP share: before and after", "",
             f"Before: {before['code']} ({before['machine']['summary']}, load at the end {before['load_average_end']:.1f}).",
             f"After: {after['code']} ({after['machine']['summary']}, load at the end {after['load_average_end']:.1f}).",
             f"{after['rounds']} alternating rounds (full step, edit step) each; CPU time of the one compute thread; the",
             "figure is the median of the per-round cost (before-runs that did not record it: the ratio of the medians).", "",
             "| family | fraction | cost before | cost after | target | per-round range after |", "|---|---|---|---|---|---|"]
    old = {(f["family"], r["fraction"]): r for f in before["families"] for r in f["rows"]}
    for fam in after["families"]:
        for row in fam["rows"]:
            was = old.get((fam["family"], row["fraction"]))
            was_text = f"{_judged(was):.3f}" if was else "-"
            met = "met" if _judged(row) <= target(row["fraction"]) else "not met"
            lines.append(f"| {fam['family']} | {row['fraction']:.2f} | {was_text} | {_judged(row):.3f} "
                         f"| ≤ {target(row['fraction']):.2f} ({met}) | {row['per_round_range'][0]:.2f}–{row['per_round_range'][1]:.2f} |")
    lines += ["", "Met / not met compares the per-round medians with the targets. Where the per-round range spans the",
              "target, the machine moved the figure more than the change could: read such a row as not measured."]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--families", nargs="+", default=["flux", "flux2", "z-image"])
    parser.add_argument("--fractions", nargs="+", type=float, default=[0.1, 0.25, 0.5, 1.0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--code-root", type=Path, default=ROOT, help="checkout whose editor/ is measured")
    parser.add_argument("--tag", default="cpu")
    parser.add_argument("--out", type=Path, default=None, help="results stem (default benchmarks/results/foreground_cost_<tag>)")
    parser.add_argument("--compare", nargs=2, type=Path, metavar=("BEFORE_JSON", "AFTER_JSON"),
                        help="write the before/after page from two results instead of measuring")
    args = parser.parse_args(argv)
    if args.compare:
        before, after = (json.loads(path.read_text(encoding="utf-8")) for path in args.compare)
        text = comparison(before, after)
        print(text)
        (args.out or ROOT / "benchmarks" / "results" / f"foreground_cost_{args.tag}").with_suffix(".md").write_text(
            text, encoding="utf-8")
        return 0
    _paths(args.code_root.resolve())
    import torch

    from benchmarks.machine import describe

    torch.set_num_threads(1)
    started = time.time()
    machine = describe(threads=1)
    families = [measure(family, tuple(args.fractions), args.rounds) for family in args.families]
    result = {"tag": args.tag, "code": str(args.code_root), "rounds": args.rounds, "families": families,
              "machine": machine, "load_average_end": describe(threads=1)["load_average_1min"],
              "seconds": time.time() - started}
    text = to_markdown(result)
    print(text)
    stem = args.out or ROOT / "benchmarks" / "results" / f"foreground_cost_{args.tag}"
    stem.with_suffix(".md").write_text(text, encoding="utf-8")
    stem.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
