"""KV cache stores benchmark: bytes, time and error of each store against the device store.

    python benchmarks/kv_cache_stores_bench.py                          # mid-size random FLUX on CPU
    python benchmarks/kv_cache_stores_bench.py --device cuda --full-size   # FLUX.1 shape, bf16, 512² and 1024²

For every store (device, cpu with prefetch, cpu without prefetch, fp8, int8) it runs one real
inversion + edit through the KV-Edit engine at foreground fraction 0.25 and reports the cache
bytes, the seconds per inversion/edit step, the edit time ratio to the device store, the peak
accelerator memory, how cpu reads were served (prefetched or on demand) and the error of the edited
latent against the device store's. The inversion-free mode ("none") runs its own loop (two passes per
step, one step of cache). A second table gives the 8-bit round-trip error of real recorded keys and
values against the compute dtype. Random weights throughout (timing and bytes do not depend on them).
Helpers (model presets, masks, timing) come from benchmarks/kv_edit_bench.py.
Results: benchmarks/results/kv_cache_stores_<device>.md and .json.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
from kv_edit_bench import PRESETS, build_model, fraction_mask, sync, write_results  # noqa: E402

from benchmarks.machine import describe, device_name, load_average  # noqa: E402
from editor.kv_edit.attention import KVContext, recording  # noqa: E402
from editor.kv_edit.engine import Canvas, Conditioning, KVEditEngine, Prompt  # noqa: E402
from editor.kv_edit.kv_cache import make_kv_store  # noqa: E402
from editor.kv_edit.kv_stores import CpuKVStore, roundtrip_error  # noqa: E402
from editor.kv_edit.masks import token_mask  # noqa: E402
from editor.kv_edit.options import EditOptions  # noqa: E402

MODES = ("device", "cpu", "cpu-no-prefetch", "fp8", "int8", "none")
GB = 1e9


def _free(device: torch.device) -> None:
    gc.collect()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)


def _peak(device: torch.device) -> int | None:
    return int(torch.cuda.max_memory_allocated(device)) if device.type == "cuda" else None


def _store(mode: str, device: torch.device, dtype: torch.dtype):
    if mode == "cpu-no-prefetch":
        return CpuKVStore(device, dtype, prefetch=False)
    return make_kv_store(mode, device, dtype)


def _prompt(cfg: dict, text_len: int, device, dtype, seed: int) -> Prompt:
    g = torch.Generator().manual_seed(seed)
    return Prompt(
        f"prompt {seed}",
        torch.randn(1, text_len, cfg["joint_attention_dim"], generator=g).to(device, dtype),
        torch.randn(1, cfg["pooled_projection_dim"], generator=g).to(device, dtype),
        torch.zeros(text_len, 3, device=device),
    )


def run_size(model, cfg: dict, size: int, text_len: int, args, device: torch.device, dtype: torch.dtype) -> dict:
    n_layers = cfg["num_layers"] + cfg["num_single_layers"]
    canvas = Canvas(width=size, height=size, latent_h=size // 8, latent_w=size // 8, channels=cfg["in_channels"] // 4)
    tm = token_mask(fraction_mask(canvas, 0.25), canvas.latent_h, canvas.latent_w)
    engine = KVEditEngine(SimpleNamespace(transformer=model), canvas, tm, device)
    source = Conditioning(_prompt(cfg, text_len, device, dtype, 1))
    target = Conditioning(_prompt(cfg, text_len, device, dtype, 2))
    latents = torch.randn(1, canvas.tokens, cfg["in_channels"], generator=torch.Generator().manual_seed(3)).to(device)
    sigmas = [float(s) for s in np.linspace(1.0, 0.0, args.steps + 1)]
    steps = args.steps - args.skip_steps
    weights = sum(p.numel() * p.element_size() for p in model.parameters())
    hidden = cfg["num_attention_heads"] * cfg["attention_head_dim"]
    expected_full = tm.background_tokens * n_layers * 2 * hidden * torch.finfo(dtype).bits // 8 * steps

    def measure(mode: str) -> tuple[dict, torch.Tensor | None]:
        _free(device)
        opts = EditOptions(steps=args.steps, skip_steps=args.skip_steps, kv_cache="cpu" if mode == "cpu-no-prefetch" else mode)
        row = {"mode": mode}
        try:
            if mode == "none":
                start = time.perf_counter()
                out, run = engine.edit_without_inversion(latents, source, target, sigmas, opts)
                sync(device)
                row.update(inversion_seconds=0.0, edit_seconds=time.perf_counter() - start, cache_bytes=run.kv_cache_bytes)
            else:
                store = _store(mode, device, dtype)
                row["store_mode"] = store.mode
                inversion = engine.new_inversion(latents, source, sigmas, 1.5, False, store)
                start = time.perf_counter()
                engine.extend(inversion, args.skip_steps)
                sync(device)
                row["inversion_seconds"] = time.perf_counter() - start
                start = time.perf_counter()
                out, _ = engine.denoise(inversion, target, opts)
                sync(device)
                row["edit_seconds"] = time.perf_counter() - start
                row["cache_bytes"] = store.nbytes
                if isinstance(store, CpuKVStore):
                    row["prefetched_reads"] = store.stats.prefetched_reads
                    row["on_demand_reads"] = store.stats.on_demand_reads
                    row["pinned_bytes"] = store.pinned_bytes
                store.clear()
                del inversion, store
        except torch.OutOfMemoryError as exc:
            row["error"] = "out of memory: " + str(exc).splitlines()[0][:120]
            return row, None
        row["peak_memory_bytes"] = _peak(device)
        return row, out[:, engine.fg_index].float()

    # Every mode once per round, rounds repeated: the fastest round counts, which keeps other
    # processes on a shared machine from deciding the ratios.
    best: dict[str, dict] = {}
    outputs: dict[str, torch.Tensor] = {}
    for _ in range(args.repeats):
        for mode in args.modes:
            row, out = measure(mode)
            if out is not None:
                outputs[mode] = out
            kept = best.get(mode)
            if kept is None or ("error" not in row and ("error" in kept or row["edit_seconds"] < kept["edit_seconds"])):
                best[mode] = row
    rows = [best[m] for m in args.modes]
    reference = outputs.get("device")
    for row in rows:
        if "error" in row:
            continue
        row["inversion_step_seconds"] = row["inversion_seconds"] / steps
        row["edit_step_seconds"] = row["edit_seconds"] / steps
        if reference is not None and row["mode"] != "device":
            diff = outputs[row["mode"]] - reference
            row["latent_relative_rms_vs_device"] = float(diff.pow(2).mean().sqrt() / reference.pow(2).mean().sqrt())
    base = next((r for r in rows if r["mode"] == "device" and "error" not in r), None)
    for r in rows:
        if base is not None and "error" not in r:
            r["edit_time_ratio_to_device"] = r["edit_seconds"] / base["edit_seconds"]
            r["bytes_ratio_to_device"] = r["cache_bytes"] / base["cache_bytes"]

    # 8-bit round trip of real recorded keys/values (one inversion step, every layer).
    _free(device)
    store = make_kv_store("device", device, dtype)
    ctx = KVContext(store=store, background_index=engine.bg_index, image_rows=engine.image_rows, n_layers=n_layers)
    with recording(engine.layers, ctx):
        engine.velocity(latents, engine.image_ids, source, 0.5, 1.5)
    errors = {}
    for fmt in ("fp8", "int8"):
        per_layer = []
        for layer in range(n_layers):
            k, v = store.get(0, layer)
            per_layer += [roundtrip_error(k, fmt)["relative_rms"], roundtrip_error(v, fmt)["relative_rms"]]
        errors[fmt] = {"mean_relative_rms": float(np.mean(per_layer)), "max_relative_rms": float(np.max(per_layer))}
    store.clear()
    return {
        "size": size,
        "image_tokens": canvas.tokens,
        "background_tokens": tm.background_tokens,
        "cached_steps": steps,
        "expected_device_cache_bytes": expected_full,
        "weights_bytes": weights,
        "rows": rows,
        "roundtrip_error": errors,
    }


def run(args) -> dict:
    device = torch.device(args.device)
    preset_name = "full" if args.full_size else args.preset
    preset = PRESETS[preset_name]
    cfg = preset["config"]
    dtype = torch.bfloat16 if device.type == "cuda" else (torch.bfloat16 if args.bf16 else torch.float32)
    sizes = args.sizes or ([512, 1024] if args.full_size else [preset["size"]])
    text_len = args.text_len or preset["text"]
    model = build_model(cfg, device, dtype)
    load_before = load_average()
    results = [run_size(model, cfg, size, text_len, args, device, dtype) for size in sizes]
    return {
        "load_average_1min": [load_before, load_average()],
        "machine": describe(device, threads=torch.get_num_threads()),
        "device": device.type,
        "device_name": device_name(device),
        "cpu_threads": torch.get_num_threads(),
        "preset": preset_name,
        "layers": cfg["num_layers"] + cfg["num_single_layers"],
        "hidden": cfg["num_attention_heads"] * cfg["attention_head_dim"],
        "dtype": str(dtype).replace("torch.", ""),
        "text_tokens": text_len,
        "steps": args.steps,
        "skip_steps": args.skip_steps,
        "repeats": args.repeats,
        "torch": torch.__version__,
        "sizes": results,
    }


def _fmt(value, spec: str, missing: str = "-") -> str:
    return missing if value is None else format(value, spec)


def _size(n: int | None) -> str:
    if n is None:
        return "-"
    return f"{n / GB:.2f} GB" if n >= 0.1 * GB else f"{n / 1e6:.2f} MB"


def to_markdown(r: dict) -> str:
    lines = [
        f"# KV cache stores benchmark ({r['device']}: {r['device_name']}, {r['cpu_threads']} threads)",
        "",
        f"Random-weight FLUX transformer, preset `{r['preset']}` ({r['layers']} attention layers, hidden {r['hidden']}), "
        f"{r['dtype']}, {r['text_tokens']} text tokens, foreground fraction 0.25, {r['steps']} steps with "
        f"{r['skip_steps']} skipped. torch {r['torch']}. One inversion + one edit per store through the engine, "
        f"best of {r['repeats']} rounds.",
        f"Machine load (1-minute average) at start / end: {r['load_average_1min'][0]:.1f} / "
        f"{r['load_average_1min'][1]:.1f} on {os.cpu_count()} cores"
        + (": other processes shared the CPU, so the time columns are noisy (bytes and errors are not)."
           if max(r["load_average_1min"]) > (os.cpu_count() or 1) else "."),
    ]
    for s in r["sizes"]:
        lines += [
            "",
            f"## {s['size']}² ({s['image_tokens']} image tokens, {s['background_tokens']} background, "
            f"{s['cached_steps']} cached steps; weights {s['weights_bytes'] / GB:.2f} GB)",
            "",
            f"Expected device cache: background × layers × 2 × hidden × bytes × steps = {_size(s['expected_device_cache_bytes'])}.",
            "",
            "| store | cache bytes | vs device | inversion s/step | edit s/step | edit time / device | peak accel. memory | cpu reads prefetched / on demand | edit latent error vs device (rel. RMS) |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for row in s["rows"]:
            name = row["mode"] + (f" ({row['store_mode']})" if row.get("store_mode") not in (None, row["mode"], "cpu") else "")
            if "error" in row:
                lines.append(f"| {name} | {row['error']} |  |  |  |  |  |  |  |")
                continue
            reads = f"{row['prefetched_reads']} / {row['on_demand_reads']}" if "prefetched_reads" in row else "-"
            err = row.get("latent_relative_rms_vs_device")
            lines.append(
                f"| {name} | {_size(row['cache_bytes'])} | {_fmt(row.get('bytes_ratio_to_device'), '.3f')} "
                f"| {row['inversion_step_seconds']:.3f} | {row['edit_step_seconds']:.3f} "
                f"| {_fmt(row.get('edit_time_ratio_to_device'), '.2f')} "
                f"| {_size(row['peak_memory_bytes'])} "
                f"| {reads} | {_fmt(err, '.2e', '0 (reference)' if row['mode'] == 'device' else '-')} |"
            )
        e = s["roundtrip_error"]
        lines += [
            "",
            f"8-bit round trip of one step's recorded keys/values against {r['dtype']} (relative RMS over all layers): "
            f"fp8 mean {e['fp8']['mean_relative_rms']:.4f} / max {e['fp8']['max_relative_rms']:.4f}; "
            f"int8 mean {e['int8']['mean_relative_rms']:.4f} / max {e['int8']['max_relative_rms']:.4f}.",
        ]
    lines += [
        "",
        "`none` is the inversion-free mode: no inversion pass, two transformer passes per edit step and one",
        "step of cache alive (its 'cache bytes' is that one step). On a machine without CUDA the cpu store is",
        "plain CPU memory, so prefetch has nothing to overlap and peak accelerator memory is not measured.",
    ]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--preset", choices=["tiny", "mid"], default="mid")
    parser.add_argument("--full-size", action="store_true", help="FLUX.1 shape (needs a big GPU); sizes 512 and 1024")
    parser.add_argument("--sizes", type=int, nargs="*", default=None, help="image sides in pixels (multiples of 16)")
    parser.add_argument("--text-len", type=int, default=None)
    parser.add_argument("--steps", type=int, default=None, help="default 28 on CUDA, 4 on CPU")
    parser.add_argument("--skip-steps", type=int, default=None, help="default 4 on CUDA, 1 on CPU")
    parser.add_argument("--modes", nargs="*", default=list(MODES), choices=MODES)
    parser.add_argument("--bf16", action="store_true", help="run in bf16 on the CPU too")
    parser.add_argument("--repeats", type=int, default=2, help="rounds over all stores; the fastest counts")
    parser.add_argument("--out", default=None, help="results stem (default benchmarks/results/kv_cache_stores_<device>)")
    args = parser.parse_args(argv)
    cuda = torch.device(args.device).type == "cuda"
    args.steps = args.steps or (28 if cuda else 4)
    args.skip_steps = args.skip_steps if args.skip_steps is not None else (4 if cuda else 1)
    if "device" in args.modes:
        args.modes = ["device"] + [m for m in args.modes if m != "device"]  # the reference runs first
    if any(s % 16 for s in args.sizes or []):
        parser.error("--sizes must be multiples of 16")
    result = run(args)
    text = to_markdown(result)
    print(text)
    write_results(Path(args.out) if args.out else ROOT / "benchmarks" / "results" / f"kv_cache_stores_{result['device']}",
                  text, result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
