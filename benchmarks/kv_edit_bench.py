"""KV-Edit benchmark per model family: what inversion costs, what an edit costs per foreground
fraction, how big the cache is.

    python benchmarks/kv_edit_bench.py                              # mid-size random transformers on CPU, every family
    python benchmarks/kv_edit_bench.py --families flux2 --preset tiny
    python benchmarks/kv_edit_bench.py --device cuda --full-size    # real-size random bf16 at 1024², every family

Random weights throughout (timing does not depend on them). Measured with the real engine code and
each family's adapter: a plain forward pass (a normal denoising step), a recording pass (an
inversion step) and a foreground-only pass that reads the recorded background K/V (an edit step)
for foreground fractions 0.1 / 0.25 / 0.5 / 1.0; then one real inversion + edit loop at 0.25.
Families: FLUX.1 (`flux`), FLUX.2 [klein] (`flux2`), Z-Image (`z-image`); one pass per step (no
CFG: a true-CFG model runs two). FLOPs are counted analytically (matmuls only). The KV cache at
real size for every registered model at 1024² is counted from the architectures (no weights).
Results go to benchmarks/results/kv_edit_<device>.md and .json.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import statistics
import sys
import time
from functools import partial
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
from random_models import build, kv_pipe, kv_prompt  # noqa: E402

from benchmarks.machine import describe, device_name, load_average  # noqa: E402
from editor.atomic import atomic_write_text  # noqa: E402
from editor.kv_edit.attention import KVContext, background_key_bias, recording, replaying  # noqa: E402
from editor.kv_edit.engine import Canvas, Conditioning, KVEditEngine  # noqa: E402
from editor.kv_edit.families import adapter_for  # noqa: E402
from editor.kv_edit.kv_cache import make_kv_store  # noqa: E402
from editor.kv_edit.masks import token_mask  # noqa: E402
from editor.kv_edit.options import EditOptions  # noqa: E402
from models.families import FAMILIES as FAMILIES_FACTS  # noqa: E402
from models.memory import estimator as est  # noqa: E402

FRACTIONS = (0.1, 0.25, 0.5, 1.0)
FAMILIES = ("flux", "flux2", "z-image")
REAL_MODELS = ("flux-dev", "flux-schnell", "flux2-klein-4b", "flux2-klein-base-4b", "z-image-turbo")

# FLUX.1 presets of kv_cache_stores_bench.py (this benchmark builds every family with random_models).
PRESETS = {
    # The tiny test model's transformer (models/tiny/flux1.py).
    "tiny": dict(config=dict(num_layers=2, num_single_layers=2, attention_head_dim=16, num_attention_heads=2,
                             joint_attention_dim=32, pooled_projection_dim=32, in_channels=16, axes_dims_rope=(4, 6, 6)),
                 size=256, text=32),
    # FLUX.1's shape scaled down so a 2-core CPU runs it in seconds per step.
    "mid": dict(config=dict(num_layers=2, num_single_layers=4, attention_head_dim=64, num_attention_heads=8,
                            joint_attention_dim=512, pooled_projection_dim=256, in_channels=64, axes_dims_rope=(16, 24, 24)),
                size=512, text=128),
    # FLUX.1 [dev]: 19 double + 38 single blocks, 24 heads × 128, T5 512 tokens.
    "full": dict(config=dict(num_layers=19, num_single_layers=38, attention_head_dim=128, num_attention_heads=24,
                             joint_attention_dim=4096, pooled_projection_dim=768, in_channels=64, axes_dims_rope=(16, 56, 56)),
                 size=1024, text=512),
}

# MLP matmul cost per token and layer in units of hidden² (FLUX.1: 4× GELU MLP; FLUX.2: 3× SwiGLU with
# the gate fused; Z-Image: three 8/3× matrices), for the FLOP ratio.
MLP_D2 = {"flux": 8.0, "flux2": 9.0, "z-image": 8.0}

# Dense bf16 tensor-core peak, for the compute bound on known GPUs (TFLOP/s).
PEAK_TFLOPS = {"H100": 989.0, "H200": 989.0, "A100": 312.0, "L40S": 362.0, "RTX 4090": 165.0}


def build_model(cfg: dict, device: torch.device, dtype: torch.dtype, class_name: str = "FluxTransformer2DModel",
                **extra) -> torch.nn.Module:
    """A transformer of `class_name` with random weights, built on meta and materialised on `device`."""
    import diffusers

    if class_name == "FluxTransformer2DModel":
        extra = {"patch_size": 1, "guidance_embeds": True, **extra}
    torch.manual_seed(0)
    default = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        with torch.device("meta"):
            model = getattr(diffusers, class_name)(**{**cfg, **extra})
    finally:
        torch.set_default_dtype(default)
    model = model.to_empty(device=device)
    with torch.no_grad():  # random weights: the numbers are meaningless, the timing is not
        for name, p in model.named_parameters():
            if p.ndim == 1 and "norm" in name:
                p.fill_(1.0)
            else:
                p.normal_(0.0, 0.02)
    return model.eval()


def step_flops(d: int, layers: int, mlp_d2: float, text: int, image_queries: int, keys_image: int) -> float:
    """Matmul FLOPs of one pass: every layer projects (text + image_queries) tokens (q, k, v, out:
    4·d², the MLP: mlp_d2·d², two FLOPs per multiply-add) and attends from those queries to
    text + keys_image keys (QK and AV: 4·d per pair)."""
    queries = text + image_queries
    keys = text + keys_image
    return layers * (2 * (4 + mlp_d2) * d * d * queries + 4 * queries * keys * d)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def clock_for(device: torch.device):
    """Wall time on a GPU. On a CPU, the CPU time of this thread with torch on one thread: the
    development machine is shared, and wall time there measures the neighbours as much as us."""
    if device.type == "cuda":
        return time.perf_counter, "wall seconds (CUDA synchronized)"
    if torch.get_num_threads() == 1:
        return time.thread_time, "CPU seconds of the one compute thread (torch.set_num_threads(1))"
    return time.perf_counter, f"wall seconds ({torch.get_num_threads()} threads)"


def timed(fn, device, repeats: int, warmup: int = 2) -> float:
    clock, _ = clock_for(device)
    for _ in range(warmup):
        fn()
    sync(device)
    times = []
    for _ in range(repeats):
        start = clock()
        fn()
        sync(device)
        times.append(clock() - start)
    return statistics.median(times)


def fraction_mask(canvas: Canvas, fraction: float) -> np.ndarray:
    """A centred rectangle covering about `fraction` of the image, at latent resolution."""
    h, w = canvas.latent_h, canvas.latent_w
    side = np.sqrt(fraction)
    mh, mw = max(2, int(round(h * side))), max(2, int(round(w * side)))
    mask = np.zeros((h, w), np.float32)
    y0, x0 = (h - mh) // 2, (w - mw) // 2
    mask[y0:y0 + mh, x0:x0 + mw] = 1.0
    return mask


def peak_memory(device: torch.device) -> tuple[int, str]:
    if device.type == "cuda":
        return int(torch.cuda.max_memory_allocated(device)), "torch.cuda.max_memory_allocated"
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024, "process RSS peak (CPU, since process start)"


def run_family(family: str, preset_name: str, args, device: torch.device, dtype: torch.dtype) -> dict:
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    random_model = build(family, preset_name, device, dtype)  # benchmarks/random_models.py: every family, seeded
    model = random_model.transformer
    size = args.size or (1024 if preset_name == "full" else 512 if preset_name == "mid" else 256)
    text_len = random_model.text_tokens
    pipe = kv_pipe(random_model)
    adapter = adapter_for(pipe)
    layers = len(adapter.kv_layers(model))
    channels = random_model.latent_channels
    canvas = Canvas(width=size, height=size, latent_h=size // 8, latent_w=size // 8, channels=channels)
    tokens = canvas.tokens
    text = Conditioning(kv_prompt(random_model, "benchmark"))
    latents = torch.randn(1, tokens, channels * 4, generator=torch.Generator().manual_seed(2)).to(device)
    cached_steps = args.steps - args.skip_steps
    _, heads, head_dim = FAMILIES_FACTS[family].attention_shape(model.config)
    hidden = heads * head_dim

    # A plain step (stock processors) is the reference for every ratio.
    whole = token_mask(np.ones((size, size), np.float32), canvas.latent_h, canvas.latent_w)
    full_engine = KVEditEngine(pipe, canvas, whole, device, family=adapter)
    full_step = partial(full_engine.velocity, latents, full_engine.image_ids, text, 0.5, 3.5)
    timed(full_step, device, repeats=1, warmup=2)  # first passes pay for allocator growth and kernel selection
    t_full = timed(full_step, device, args.repeats)
    flops = lambda queries, keys: step_flops(hidden, layers, MLP_D2[family], text_len, queries, keys)  # noqa: E731
    flops_full = flops(tokens, tokens)

    rows = []
    for fraction in FRACTIONS:
        tm = token_mask(fraction_mask(canvas, fraction), canvas.latent_h, canvas.latent_w)
        engine = KVEditEngine(pipe, canvas, tm, device, family=adapter)
        store = make_kv_store("device", device, dtype)
        ctx = KVContext(store=store, background_index=engine.bg_index, image_rows=engine.image_rows,
                        n_layers=engine.n_layers, image_first=adapter.image_first)
        with recording(engine.layers, ctx):  # installed once per loop in the engine too
            t_record = timed(partial(engine.velocity, latents, engine.image_ids, text, 0.5, 1.5), device, args.repeats)
        ctx.key_bias = background_key_bias(0, 0, len(engine.bg_index), 1.0, dtype, device)
        fg_latents = latents[:, engine.fg_index]
        with replaying(engine.layers, ctx):
            t_edit = timed(partial(engine.velocity, fg_latents, engine.fg_ids, text, 0.5, 5.5), device, args.repeats)
        rows.append({
            "fraction": fraction,
            "foreground_tokens": tm.foreground_tokens,
            "actual_fraction": tm.foreground_tokens / tokens,
            "inversion_step_seconds": t_record,
            "edit_step_seconds": t_edit,
            "edit_step_ratio": t_edit / t_full,
            "edit_flops_ratio": flops(tm.foreground_tokens, tokens) / flops_full,
            "kv_cache_bytes": store.nbytes * cached_steps,
            "kv_cache_bytes_one_step_measured": store.nbytes,
        })
        store.clear()
        del store

    # One real inversion + edit loop at fraction 0.25, through the engine (timings include the store).
    tm = token_mask(fraction_mask(canvas, 0.25), canvas.latent_h, canvas.latent_w)
    engine = KVEditEngine(pipe, canvas, tm, device, family=adapter)
    sigmas = list(np.linspace(1.0, 0.0, args.steps + 1))
    store = make_kv_store("device", device, dtype)
    inversion = engine.new_inversion(latents, text, sigmas, 1.5, False, store)
    clock, _ = clock_for(device)
    start = clock()
    engine.extend(inversion, args.skip_steps)
    sync(device)
    inversion_seconds = clock() - start
    start = clock()
    engine.denoise(inversion, text, EditOptions(steps=args.steps, skip_steps=args.skip_steps))
    sync(device)
    edit_seconds = clock() - start
    mem, mem_source = peak_memory(device)
    result = {
        "family": family,
        "transformer": type(model).__name__,
        "preset": preset_name,
        "config": {k: list(v) if isinstance(v, tuple) else v for k, v in random_model.config.items()},
        "image_size": size,
        "image_tokens": tokens,
        "image_rows": engine.image_rows,
        "text_tokens": text_len,
        "layers": layers,
        "hidden": hidden,
        "parameters": sum(p.numel() for p in model.parameters()),
        "full_step_seconds": t_full,
        "full_step_tflop": flops_full / 1e12,
        "achieved_tflops": flops_full / t_full / 1e12,
        "fractions": rows,
        "loop": {"fraction": 0.25, "steps": args.steps, "skip_steps": args.skip_steps,
                 "inversion_seconds": inversion_seconds, "inversion_step_seconds": inversion_seconds / cached_steps,
                 "edit_seconds": edit_seconds, "edit_step_seconds": edit_seconds / cached_steps,
                 "kv_cache_bytes": store.nbytes},
        "peak_memory_bytes": mem,
        "peak_memory_source": mem_source,
    }
    store.clear()
    del model, random_model, pipe, engine, full_engine, inversion, store
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return result


def counted_real_size(fraction_list=FRACTIONS) -> list[dict]:
    """Cache bytes of every registered real model at 1024² (bf16), from its architecture on the
    meta device: per step and for the cached steps of its default edit (steps − skip)."""
    out = []
    for model in REAL_MODELS:
        fp = est.model_footprint(model)
        opts = EditOptions.for_model(model)
        cached = opts.steps - opts.skip_steps
        row = {"model": model, "family": fp.family, "layers": fp.attention_layers, "hidden": fp.hidden,
               "image_tokens": est.image_tokens(fp, 1024, 1024), "steps": opts.steps, "cached_steps": cached, "fractions": []}
        for f in fraction_list:
            size = est.kv_cache_size(fp, "device", 1024, 1024, f, cached, "bf16")
            fp8 = est.kv_cache_size(fp, "fp8", 1024, 1024, f, cached, "bf16")
            row["fractions"].append({"fraction": f, "per_step_bytes": size.per_step, "device_bytes": size.total,
                                     "fp8_bytes": fp8.total, "per_24_steps_bytes": size.per_step * 24})
        out.append(row)
    return out


def run(args) -> dict:
    device = torch.device(args.device)
    if device.type == "cpu" and args.threads:
        torch.set_num_threads(args.threads)
    preset = "full" if args.full_size else args.preset
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    started, load_before = time.time(), load_average()
    results = [run_family(family, preset, args, device, dtype) for family in args.families]
    result = {
        "device": device.type,
        "device_name": device_name(device),
        "cpu_threads": torch.get_num_threads(),
        "clock": clock_for(device)[1],
        "dtype": str(dtype).replace("torch.", ""),
        "preset": preset,
        "steps": args.steps,
        "skip_steps": args.skip_steps,
        "families": results,
        "real_size_cache": counted_real_size(),
        "benchmark_seconds": time.time() - started,
        "load_average_1min": [load_before, load_average()],
        "machine": describe(device, threads=torch.get_num_threads()),
        "cpu_cores": os.cpu_count(),
        "torch": torch.__version__,
    }
    if device.type == "cuda":
        peak = args.peak_tflops or next((v for k, v in PEAK_TFLOPS.items() if k in result["device_name"]), None)
        if peak:
            result["peak_tflops_assumed"] = peak
            for r in results:
                r["compute_bound_seconds"] = r["full_step_tflop"] * 1e12 / (peak * 1e12)
                r["fraction_of_compute_bound"] = r["compute_bound_seconds"] / r["full_step_seconds"]
    return result


def to_markdown(r: dict) -> str:
    gb = 1e9
    lines = [
        f"# KV-Edit benchmark per family ({r['device']}: {r['device_name']}, {r['cpu_threads']} threads)",
        "",
        f"Random-weight transformers, preset `{r['preset']}`, {r['dtype']}, torch {r['torch']}; times are medians, "
        f"in {r['clock']}. One pass per step (a true-CFG model runs two). Whole run: {r['benchmark_seconds']:.0f} s.",
        f"Machine load (1-minute average) at start / end: {r['load_average_1min'][0]:.1f} / {r['load_average_1min'][1]:.1f} "
        f"on {r['cpu_cores']} cores (a shared machine: CPU time of one thread is steadier than wall time, not immune).",
        "",
        "| family | transformer | layers × hidden | image + text tokens | full step (s) | fraction (fg tokens) "
        "| inversion step (s) | edit step (s) | edit / full | FLOP ratio | KV cache, "
        f"{r['steps'] - r['skip_steps']} steps |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for fam in r["families"]:
        for i, row in enumerate(fam["fractions"]):
            head = (f"| {fam['family']} | {fam['transformer']} | {fam['layers']} × {fam['hidden']} "
                    f"| {fam['image_tokens']} + {fam['text_tokens']} | {fam['full_step_seconds']:.3f} ") if i == 0 else "| | | | | "
            lines.append(
                head + f"| {row['fraction']:.2f} ({row['foreground_tokens']}) | {row['inversion_step_seconds']:.3f} "
                f"| {row['edit_step_seconds']:.3f} | {row['edit_step_ratio']:.2f} | {row['edit_flops_ratio']:.2f} "
                f"| {row['kv_cache_bytes'] / gb:.3f} GB |"
            )
    lines += ["", "Real loop at fraction 0.25 (through the engine, device store):", "",
              "| family | steps (skip) | inversion s/step | edit s/step | KV cache | peak memory |", "|---|---|---|---|---|---|"]
    for fam in r["families"]:
        loop = fam["loop"]
        lines.append(f"| {fam['family']} | {loop['steps']} ({loop['skip_steps']}) | {loop['inversion_step_seconds']:.3f} "
                     f"| {loop['edit_step_seconds']:.3f} | {loop['kv_cache_bytes'] / gb:.3f} GB "
                     f"| {fam['peak_memory_bytes'] / gb:.2f} GB ({fam['peak_memory_source']}) |")
    lines += [
        "",
        "KV cache at real size, 1024², bf16, counted from each architecture on the meta device (not measured): "
        "background tokens × recorded layers × (K, V) × hidden × 2 bytes, for the model's default edit "
        "(steps − skipped steps; `EditOptions.for_model`), and for 24 cached steps to compare like with like:",
        "",
        "| model | layers × hidden | default steps (cached) | fraction | per step | default edit (device) | fp8 | 24 steps (device) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for m in r["real_size_cache"]:
        for i, f in enumerate(m["fractions"]):
            head = f"| {m['model']} | {m['layers']} × {m['hidden']} | {m['steps']} ({m['cached_steps']}) " if i == 0 else "| | | "
            lines.append(head + f"| {f['fraction']:.2f} | {f['per_step_bytes'] / gb:.2f} GB | {f['device_bytes'] / gb:.1f} GB "
                         f"| {f['fp8_bytes'] / gb:.1f} GB | {f['per_24_steps_bytes'] / gb:.1f} GB |")
    lines += [
        "",
        "What random weights cannot show: image quality, and how a trained model's attention spreads",
        "(timing and bytes do not depend on the weights). Edit step / full step above the FLOP ratio means",
        "fixed per-step costs (embedders, gathers, launches) matter at this size; at real size the matmuls",
        "dominate and the time ratio approaches the FLOP ratio. Z-Image's noise refiner sees image rows only,",
        "so its FLOP count is approximate.",
    ]
    if r["device"] != "cuda":
        lines += ["", "The GPU path (`--device cuda --full-size`: real-size random bf16, seconds per inversion and edit",
                  "step and peak memory per family) is ready but has not run: no GPU was lent for this run."]
    return "\n".join(lines) + "\n"


def write_results(stem: Path, markdown: str, result: dict) -> None:
    """The benchmark's figures as STEM.md and STEM.json, each written atomically."""
    atomic_write_text(stem.with_suffix(".md"), markdown)
    atomic_write_text(stem.with_suffix(".json"), json.dumps(result, indent=2) + "\n")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--families", nargs="+", choices=FAMILIES, default=list(FAMILIES))
    parser.add_argument("--preset", choices=["tiny", "mid"], default="mid")
    parser.add_argument("--full-size", action="store_true", help="each family's real transformer at 1024² (needs a big GPU)")
    parser.add_argument("--size", type=int, default=None, help="image side in pixels (multiple of 16)")
    parser.add_argument("--text-len", type=int, default=None)
    parser.add_argument("--steps", type=int, default=8, help="steps of the real loop (28 is the UI default)")
    parser.add_argument("--skip-steps", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1, help="CPU threads for torch (1: CPU-time clock, robust on a shared machine; 0: leave torch's default)")
    parser.add_argument("--peak-tflops", type=float, default=None, help="GPU peak for the compute bound")
    parser.add_argument("--out", default=None, help="results stem (default benchmarks/results/kv_edit_<device>)")
    args = parser.parse_args(argv)
    if args.size and args.size % 16:
        parser.error("--size must be a multiple of 16")
    result = run(args)
    text = to_markdown(result)
    print(text)
    write_results(Path(args.out) if args.out else ROOT / "benchmarks" / "results" / f"kv_edit_{result['device']}", text, result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
