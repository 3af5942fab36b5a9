"""KV-Edit benchmark: what inversion costs, what an edit costs per foreground fraction, how big the cache is.

    python benchmarks/kv_edit_bench.py                       # mid-size random FLUX on CPU (default)
    python benchmarks/kv_edit_bench.py --preset tiny         # the tiny test model's transformer
    python benchmarks/kv_edit_bench.py --device cuda --full-size   # FLUX.1 shape, random bf16, 1024²

Random weights throughout (timing does not depend on them). Measured with the real engine code:
a plain forward pass (a normal FLUX step), a recording pass (an inversion step), and a
foreground-only pass that reads the recorded background K/V (an edit step) for foreground
fractions 0.1 / 0.25 / 0.5 / 1.0; then one real inversion + edit loop at fraction 0.25.
FLOPs are counted analytically (matmuls only); at FLUX.1 size and 1024² a full step is 74.4 TFLOP.
Results go to benchmarks/results/kv_edit_<device>.md and .json.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import statistics
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from diffusers import FluxTransformer2DModel  # noqa: E402

from editor.atomic import atomic_write_text  # noqa: E402
from editor.kv_edit.attention import KVContext, background_key_bias, recording, replaying  # noqa: E402
from editor.kv_edit.engine import Canvas, Conditioning, KVEditEngine, Prompt  # noqa: E402
from editor.kv_edit.kv_cache import make_kv_store  # noqa: E402
from editor.kv_edit.masks import token_mask  # noqa: E402
from editor.kv_edit.options import EditOptions  # noqa: E402

FRACTIONS = (0.1, 0.25, 0.5, 1.0)

PRESETS = {
    # The tiny test model's transformer (models/tiny.py).
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

# Dense bf16 tensor-core peak, for the compute bound on known GPUs (TFLOP/s).
PEAK_TFLOPS = {"H100": 989.0, "H200": 989.0, "A100": 312.0, "L40S": 362.0, "RTX 4090": 165.0}


def step_flops(cfg: dict, text: int, image_queries: int, keys_image: int) -> float:
    """Matmul FLOPs of one transformer pass: every block projects (text + image_queries) tokens
    (24·d² per token: QKV, output and MLP) and attends from those queries to text + keys_image keys."""
    d = cfg["num_attention_heads"] * cfg["attention_head_dim"]
    blocks = cfg["num_layers"] + cfg["num_single_layers"]
    queries = text + image_queries
    keys = text + keys_image
    return blocks * (24 * d * d * queries + 4 * queries * keys * d)


def flux1_cache_bytes(fraction: float, steps: int, all_tokens: bool = False) -> int:
    """Bytes of recorded K/V for FLUX.1 at 1024² in bf16: background tokens × 57 layers × (K, V) ×
    3072 × 2 bytes × steps (every token when `all_tokens`, as the official code keeps)."""
    tokens = 4096 if all_tokens else round(4096 * (1 - fraction))
    return tokens * 57 * 2 * 3072 * 2 * steps


def build_model(cfg: dict, device: torch.device, dtype: torch.dtype) -> FluxTransformer2DModel:
    torch.manual_seed(0)
    default = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        with torch.device("meta"):
            model = FluxTransformer2DModel(patch_size=1, guidance_embeds=True, **cfg)
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
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024, "process RSS peak (CPU)"


def run(args) -> dict:
    device = torch.device(args.device)
    if device.type == "cpu" and args.threads:
        torch.set_num_threads(args.threads)
    preset = PRESETS["full" if args.full_size else args.preset]
    cfg = preset["config"]
    size = args.size or preset["size"]
    text_len = args.text_len or preset["text"]
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    model = build_model(cfg, device, dtype)
    n_layers = cfg["num_layers"] + cfg["num_single_layers"]
    hidden = cfg["num_attention_heads"] * cfg["attention_head_dim"]
    canvas = Canvas(width=size, height=size, latent_h=size // 8, latent_w=size // 8, channels=cfg["in_channels"] // 4)
    tokens = canvas.tokens
    g = torch.Generator().manual_seed(1)
    prompt = Conditioning(Prompt(
        "benchmark",
        torch.randn(1, text_len, cfg["joint_attention_dim"], generator=g).to(device, dtype),
        torch.randn(1, cfg["pooled_projection_dim"], generator=g).to(device, dtype),
        torch.zeros(text_len, 3, device=device),
    ))
    latents = torch.randn(1, tokens, cfg["in_channels"], generator=g).to(device)
    pipe = SimpleNamespace(transformer=model)
    bytes_per = torch.finfo(dtype).bits // 8
    cached_steps = args.steps - args.skip_steps

    # A plain FLUX step (stock processors) is the reference for every ratio.
    full_engine = KVEditEngine(pipe, canvas, token_mask(np.ones((size, size), np.float32), canvas.latent_h, canvas.latent_w), device)
    full_step = lambda: full_engine.velocity(latents, full_engine.image_ids, prompt, 0.5, 3.5)  # noqa: E731
    timed(full_step, device, repeats=1, warmup=2)  # first passes pay for allocator growth and kernel selection
    t_full = timed(full_step, device, args.repeats)
    flops_full = step_flops(cfg, text_len, tokens, tokens)

    rows = []
    for fraction in FRACTIONS:
        tm = token_mask(fraction_mask(canvas, fraction), canvas.latent_h, canvas.latent_w)
        engine = KVEditEngine(pipe, canvas, tm, device)
        store = make_kv_store("device", device, dtype)
        ctx = KVContext(store=store, background_index=engine.bg_index, image_rows=engine.image_rows, n_layers=n_layers)

        with recording(model, ctx):  # installed once per loop in the engine too
            t_record = timed(lambda: engine.velocity(latents, engine.image_ids, prompt, 0.5, 1.5), device, args.repeats)
        replay_ctx = KVContext(store=store, background_index=engine.bg_index, image_rows=engine.image_rows, n_layers=n_layers)
        replay_ctx.key_bias = background_key_bias(text_len, tm.foreground_tokens, tm.background_tokens, 1.0, dtype, device)
        fg_latents = latents[:, engine.fg_index]

        with replaying(model, replay_ctx):
            t_edit = timed(lambda: engine.velocity(fg_latents, engine.fg_ids, prompt, 0.5, 5.5), device, args.repeats)
        flops_edit = step_flops(cfg, text_len, tm.foreground_tokens, tokens)
        rows.append({
            "fraction": fraction,
            "foreground_tokens": tm.foreground_tokens,
            "actual_fraction": tm.foreground_tokens / tokens,
            "inversion_step_seconds": t_record,
            "edit_step_seconds": t_edit,
            "edit_step_ratio": t_edit / t_full,
            "edit_flops_ratio": flops_edit / flops_full,
            "kv_cache_bytes": tm.background_tokens * n_layers * 2 * hidden * bytes_per * cached_steps,
            "kv_cache_bytes_one_step_measured": store.nbytes,
        })
        store.clear()
        del store

    # One real inversion + edit loop at fraction 0.25, through the engine (timings include the store).
    tm = token_mask(fraction_mask(canvas, 0.25), canvas.latent_h, canvas.latent_w)
    engine = KVEditEngine(pipe, canvas, tm, device)
    sigmas = list(np.linspace(1.0, 0.0, args.steps + 1))
    store = make_kv_store("device", device, dtype)
    inversion = engine.new_inversion(latents, prompt, sigmas, 1.5, False, store)
    clock, clock_name = clock_for(device)
    start = clock()
    engine.extend(inversion, args.skip_steps)
    sync(device)
    inversion_seconds = clock() - start
    opts = EditOptions(steps=args.steps, skip_steps=args.skip_steps)
    start = clock()
    engine.denoise(inversion, prompt, opts)
    sync(device)
    edit_seconds = clock() - start
    mem, mem_source = peak_memory(device)
    loop = {
        "fraction": 0.25,
        "steps": args.steps,
        "skip_steps": args.skip_steps,
        "inversion_seconds": inversion_seconds,
        "edit_seconds": edit_seconds,
        "kv_cache_bytes": store.nbytes,
    }

    result = {
        "device": device.type,
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or platform.machine(),
        "cpu_threads": torch.get_num_threads(),
        "clock": clock_name,
        "preset": "full" if args.full_size else args.preset,
        "config": cfg,
        "dtype": str(dtype).replace("torch.", ""),
        "image_size": size,
        "image_tokens": tokens,
        "text_tokens": text_len,
        "layers": n_layers,
        "full_step_seconds": t_full,
        "full_step_tflop": flops_full / 1e12,
        "achieved_tflops": flops_full / t_full / 1e12,
        "fractions": rows,
        "loop": loop,
        "peak_memory_bytes": mem,
        "peak_memory_source": mem_source,
        "torch": torch.__version__,
    }
    if device.type == "cuda":
        name = result["device_name"]
        peak = args.peak_tflops or next((v for k, v in PEAK_TFLOPS.items() if k in name), None)
        if peak:
            result["peak_tflops_assumed"] = peak
            result["compute_bound_seconds"] = flops_full / (peak * 1e12)
            result["fraction_of_compute_bound"] = result["compute_bound_seconds"] / t_full
    return result


def to_markdown(r: dict) -> str:
    gb = 1e9
    lines = [
        f"# KV-Edit benchmark ({r['device']}: {r['device_name']}, {r['cpu_threads']} threads)",
        "",
        f"Random-weight FLUX transformer, preset `{r['preset']}` ({r['layers']} attention layers, "
        f"hidden {r['config']['num_attention_heads'] * r['config']['attention_head_dim']}), {r['dtype']}, "
        f"{r['image_size']}² image = {r['image_tokens']} image tokens + {r['text_tokens']} text tokens. torch {r['torch']}.",
        f"Times are medians, in {r['clock']}.",
        "",
        f"Full step (plain FLUX forward): **{r['full_step_seconds']:.3f} s**, {r['full_step_tflop']:.2f} TFLOP "
        f"→ {r['achieved_tflops']:.3f} TFLOP/s achieved.",
    ]
    if "compute_bound_seconds" in r:
        lines.append(
            f"Compute bound at {r['peak_tflops_assumed']:.0f} TFLOP/s: {r['compute_bound_seconds']:.3f} s/step; "
            f"measured step reaches {100 * r['fraction_of_compute_bound']:.0f}% of it."
        )
    lines += [
        "",
        "| foreground fraction | fg tokens | inversion step (s) | edit step (s) | edit / full step | FLOP ratio | KV cache for "
        f"{r['loop']['steps'] - r['loop']['skip_steps']} steps |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in r["fractions"]:
        lines.append(
            f"| {row['fraction']:.2f} ({row['actual_fraction']:.3f}) | {row['foreground_tokens']} | {row['inversion_step_seconds']:.3f} "
            f"| {row['edit_step_seconds']:.3f} | {row['edit_step_ratio']:.2f} | {row['edit_flops_ratio']:.2f} "
            f"| {row['kv_cache_bytes'] / gb:.3f} GB |"
        )
    loop = r["loop"]
    lines += [
        "",
        f"Real loop at fraction 0.25, {loop['steps']} steps, skip {loop['skip_steps']}: inversion {loop['inversion_seconds']:.2f} s, "
        f"edit {loop['edit_seconds']:.2f} s, KV cache {loop['kv_cache_bytes'] / gb:.3f} GB on the device.",
        f"Peak memory: {r['peak_memory_bytes'] / gb:.2f} GB ({r['peak_memory_source']}).",
        "",
        "KV cache at FLUX.1 size (1024², bf16, 57 layers × hidden 3072, 28 steps with skip 4 → 24 cached steps), "
        "counted, not measured; the official code keeps all 4096 tokens for 28 steps: "
        f"{flux1_cache_bytes(1.0, 28, all_tokens=True) / gb:.1f} GB:",
        "",
        "| foreground fraction | background tokens | KV cache (device store) |",
        "|---|---|---|",
        *[f"| {f:.2f} | {round(4096 * (1 - f))} | {flux1_cache_bytes(f, 24) / gb:.1f} GB |" for f in FRACTIONS],
        "",
        "Edit step / full step above the FLOP ratio means fixed per-step costs (embedders, gathers, launches)",
        "matter at this size; at FLUX.1 size the matmuls dominate and the time ratio approaches the FLOP ratio.",
    ]
    return "\n".join(lines) + "\n"


def write_results(stem: Path, markdown: str, result: dict) -> None:
    """The benchmark's figures as STEM.md and STEM.json, each written atomically."""
    atomic_write_text(stem.with_suffix(".md"), markdown)
    atomic_write_text(stem.with_suffix(".json"), json.dumps(result, indent=2) + "\n")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--preset", choices=["tiny", "mid"], default="mid")
    parser.add_argument("--full-size", action="store_true", help="FLUX.1 shape at 1024² (needs a big GPU)")
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
