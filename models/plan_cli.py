"""`python -m models plan`: the bytes each part of a run needs under each plan, and the pick.

    python -m models plan --model flux-dev --size 1024x1024 --steps 28 --mask 0.25
    python -m models plan --model flux-dev --size 1024x1024 --steps 28 --mask 0.25 --gpu-gb 24 --ram-gb 64

Everything is computed from the model architecture on the meta device: no weights needed.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys

from models.errors import IntactError
from models.families import supports
from models.memory import estimator as est
from models.memory import planner
from models.registry import get_spec
from models.speed import kv_refresh
from models.vocabulary import EXACT, SPEED_SETTINGS

GB = est.GB


def parse_size(text: str) -> tuple[int, int]:
    match = re.fullmatch(r"\s*(\d+)\s*[x×X*]\s*(\d+)\s*", text)
    if not match:
        raise argparse.ArgumentTypeError(f"size must look like 1024x1024; got '{text}'")
    width, height = int(match.group(1)), int(match.group(2))
    if not (16 <= width <= 8192 and 16 <= height <= 8192):
        raise argparse.ArgumentTypeError(f"width and height must be between 16 and 8192; got {width}x{height}")
    return width, height


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0.0 <= value <= 1.0:  # NaN fails this too
        raise argparse.ArgumentTypeError(f"mask must be a fraction between 0 and 1; got {text[:40]!r}")
    return value


MAX_BUDGET_GB = 100_000  # far above any machine; beyond it a budget is a typo


def _gigabytes(text: str) -> float:
    """A memory budget in GB: a finite number from 0 to MAX_BUDGET_GB (inf, NaN and negatives refused)."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0.0 <= value <= MAX_BUDGET_GB:
        raise argparse.ArgumentTypeError(f"a memory budget is a number of GB from 0 to {MAX_BUDGET_GB}; got {text[:40]!r}")
    return value


def _whole(low: int, high: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = low - 1
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be a whole number from {low} to {high}; got {text[:40]!r}")
        return value

    return parse


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "plan",
        help="memory each part needs under each plan, and the plan picked for a budget (no weights needed)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--model", default="flux-dev", help="model name (see `list`)")
    p.add_argument("--size", type=parse_size, default=(1024, 1024), help="WIDTHxHEIGHT, e.g. 1024x1024")
    p.add_argument("--steps", type=_whole(1, 1000), default=28)
    p.add_argument("--skip-steps", type=_whole(0, 999), default=0,
                   help="KV-Edit skipped steps; the cache holds steps - skip (default 0: the worst case; edits default to 4)")
    p.add_argument("--mask", type=_fraction, default=0.25, help="fraction of the image regenerated (0..1)")
    p.add_argument("--images", type=_whole(1, 64), default=1, help="pictures generated in one batch")
    p.add_argument("--speed", choices=SPEED_SETTINGS, default=EXACT,
                   help="speed setting; for KV-Edit fast/fastest keep keyframes only (a share of the steps)")
    p.add_argument("--task", choices=planner.TASKS, default=None, help="default: kv-edit (every image model runs it)")
    p.add_argument("--dtype", choices=sorted(est.DTYPE_BYTES), default=None, help="compute dtype (default bf16 on GPU)")
    p.add_argument("--gpu-gb", type=_gigabytes, default=None, help="free accelerator memory in GB (0 = CPU only)")
    p.add_argument("--ram-gb", type=_gigabytes, default=None, help="free RAM in GB")
    p.add_argument("--profile", choices=sorted(planner.PROFILES), default=None, help="a named machine budget")
    p.add_argument(
        "--quantizers",
        default=None,
        help="weight quantizers to consider, comma-separated (nf4,int8) or 'none'; default: those installed",
    )
    p.add_argument("--all", action="store_true", help="also list plans that encode prompts on the CPU")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=run)


def _gb(n: int) -> str:
    return f"{n / GB:.2f}"


def _budgets(args) -> list[planner.MemoryBudget]:
    if args.profile:
        return [planner.PROFILES[args.profile]]
    if args.gpu_gb is not None or args.ram_gb is not None:
        here = planner.detect_budget()
        gpu = int(args.gpu_gb * GB) if args.gpu_gb is not None else here.gpu_free
        ram = int(args.ram_gb * GB) if args.ram_gb is not None else here.ram_free
        return [planner.MemoryBudget(gpu, ram, "given budget")]
    return [planner.detect_budget(), *planner.PROFILES.values()]


def _quantizers(text: str | None) -> tuple[str, ...] | None:
    if text is None:
        return None
    if text.strip().lower() in ("", "none"):
        return ()
    names = tuple(q.strip() for q in text.split(",") if q.strip())
    unknown = [q for q in names if q not in est.WEIGHT_QUANT_BYTES]
    if unknown:
        raise IntactError(f"Unknown weight quantizer(s): {', '.join(unknown)}. Known: {', '.join(est.WEIGHT_QUANT_BYTES)}.")
    return names


def summary(model: str, width: int, height: int, steps: int, skip: int, mask: float, task: str, dtype: str,
            images: int = 1, speed: str = EXACT) -> dict:
    fp = est.model_footprint(model)
    out = {
        "model": model,
        "width": width,
        "height": height,
        "steps": steps,
        "cached_steps": steps - skip,
        "mask_fraction": mask,
        "dtype": dtype,
        "components": {
            c.name: {"class": c.class_name, "parameters": c.parameters, "bytes": c.weight_bytes(dtype)}
            for c in fp.components
        },
        "image_tokens": est.image_tokens(fp, width, height),
        "text_tokens": fp.text_tokens,
        "attention_layers": fp.attention_layers,
        "heads": fp.heads,
        "head_dim": fp.head_dim,
        "images": images,
        "transformer_activation_bytes": est.transformer_activation_bytes(fp, width, height, dtype, images=images),
        "transformer_activation_bytes_chunked": est.transformer_activation_bytes(
            fp, width, height, dtype, est.FEATURE_CHUNKS, images),
        "feature_chunks": est.FEATURE_CHUNKS,
        "vae_working_bytes": est.vae_activation_bytes(fp, width, height, dtype),
        "vae_working_bytes_tiled": est.vae_activation_bytes(fp, width, height, dtype, tiled=True),
        "text_encoder_activation_bytes": est.text_encoder_activation_bytes(fp, dtype),
    }
    if task == "kv-edit":
        n_bg = est.background_tokens(fp, width, height, mask)
        out["background_tokens"] = n_bg
        out["kv_bytes_per_step_all_image_tokens"] = est.kv_bytes_per_step(fp, out["image_tokens"], est.dtype_bytes(dtype))
        out["kv_cache"] = {
            mode: {"per_step": size.per_step, "steps_held": size.steps, "total": size.total}
            for mode in planner.KV_MODES
            for size in [est.kv_cache_size(fp, mode, width, height, mask, steps - skip, dtype)]
        }
        refresh = kv_refresh(speed)
        if refresh is not None:
            out["speed"] = speed
            out["keyframe_share"] = refresh.keyframe_share
            out["kv_cache_elastic"] = {
                mode: {"per_step": size.per_step, "steps_held": size.steps, "total": size.total}
                for mode in planner.KV_MODES
                for size in [est.kv_cache_size(fp, mode, width, height, mask, steps - skip, dtype,
                                               keyframe_share=refresh.keyframe_share)]
            }
    return out


def _print_text(info: dict, plans: list[planner.MemoryPlan], picks: list[planner.MemoryPlan], task: str) -> None:
    spec = get_spec(info["model"])
    print(
        f"{info['model']} ({spec.title}) {info['width']}x{info['height']}, {info['steps']} steps"
        + (f" ({info['cached_steps']} cached), {info['mask_fraction']:.0%} regenerated" if task == "kv-edit" else "")
        + f", {info['dtype']}; sizes in GB (10^9 bytes), from the architecture on the meta device"
    )
    parts = "; ".join(
        f"{name} {c['class']} {c['parameters'] / 1e9:.2f}B params = {_gb(c['bytes'])}" for name, c in info["components"].items()
    )
    print(f"weights: {parts}")
    tokens = f"tokens: {info['image_tokens']} image"
    if task == "kv-edit":
        tokens += f" ({info['background_tokens']} background)"
    print(tokens + f" + {info['text_tokens']} text; {info['attention_layers']} attention layers x {info['heads']} heads x {info['head_dim']}")
    if task == "kv-edit":
        kv = info["kv_cache"]
        print(
            f"K/V per step: {_gb(kv['device']['per_step'])} for the background "
            f"({_gb(info['kv_bytes_per_step_all_image_tokens'])} for all image tokens); held: "
            + ", ".join(f"{m} {_gb(v['total'])}" for m, v in kv.items())
        )
        if "kv_cache_elastic" in info:
            kf = info["kv_cache_elastic"]
            print(
                f"K/V with speed {info['speed']} (keyframes, at most {info['keyframe_share']:.0%} of the steps; "
                "inversion-free keeps block inputs too): " + ", ".join(f"{m} {_gb(v['total'])}" for m, v in kf.items())
            )
    print(
        f"activations: transformer pass {_gb(info['transformer_activation_bytes'])} "
        f"(MLP in {info['feature_chunks']} slices {_gb(info['transformer_activation_bytes_chunked'])}), "
        f"VAE {_gb(info['vae_working_bytes'])} "
        f"(tiled {_gb(info['vae_working_bytes_tiled'])}), text encoder {_gb(info['text_encoder_activation_bytes'])}"
    )
    print()
    columns = [
        ("transformer_weights_on_gpu", "weights GPU"),
        ("text_encoders_on_gpu_while_encoding", "text enc GPU"),
        ("kv_cache_on_gpu", "K/V GPU"),
        ("kv_cache_in_ram", "K/V RAM"),
        ("transformer_activations", "activ."),
        ("vae_working", "VAE work"),
    ]
    if task != "kv-edit":
        columns = [c for c in columns if not c[0].startswith("kv_")]
    header = f"{'plan (fastest first)':<62}" + "".join(f"{title:>13}" for _, title in columns) + f"{'GPU peak':>11}{'RAM peak':>11}"
    print(header)
    for p in plans:
        d = p.parts_dict
        row = f"{p.name:<62}" + "".join(f"{_gb(d.get(key, 0)):>13}" for key, _ in columns)
        print(row + f"{_gb(p.gpu_bytes):>11}{_gb(p.ram_bytes):>11}")
    print()
    for pick in picks:
        label = pick.budget.label or "budget"
        mark = "picks" if pick.fits else "NOTHING FITS"
        print(f"[{label}] {mark}: {pick.name}\n    {pick.explanation}")


def run(args) -> int:
    try:
        spec = get_spec(args.model)
        if spec.kind != "diffusion":
            raise IntactError(f"'{args.model}' is a {spec.kind} model; plans are for image generators.")
        task = args.task or ("kv-edit" if supports(spec, "kv-edit") else "generate")
        width, height = args.size
        quantizers = _quantizers(args.quantizers)
        budgets = _budgets(args)
        picks = []
        for budget in budgets:
            picks.append(
                planner.plan_memory(
                    args.model, width, height, args.steps, args.mask, budget.gpu_free, budget.ram_free,
                    skip_steps=args.skip_steps, task=task, dtype=args.dtype, weight_quantizers=quantizers,
                    budget_label=budget.label, images=args.images, speed=args.speed,
                )
            )
        # The table shows GPU plans even for a CPU-only budget (it is about the model, not the machine).
        table_budget = budgets[0] if budgets[0].has_accelerator else planner.PROFILES["h100-80gb"]
        plans = planner.evaluate_plans(
            args.model, width, height, args.steps, args.mask, table_budget,
            skip_steps=args.skip_steps, task=task, dtype=args.dtype,
            weight_quantizers=quantizers, images=args.images, speed=args.speed,
        )
        if not args.all:
            plans = [p for p in plans if p.text_encoders == "device"]
        dtype = plans[0].dtype
        info = summary(args.model, width, height, args.steps, args.skip_steps, args.mask, task, dtype, args.images,
                       args.speed)
    except (IntactError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        info["plans"] = [
            {"name": p.name, "gpu_bytes": p.gpu_bytes, "ram_bytes": p.ram_bytes, "parts": p.parts_dict} for p in plans
        ]
        info["picks"] = [
            {"budget": p.budget.label, "gpu_free": p.budget.gpu_free, "ram_free": p.budget.ram_free, "fits": p.fits,
             "plan": p.name, "explanation": p.explanation}
            for p in picks
        ]
        print(json.dumps(info, ensure_ascii=False, indent=2))
        return 0
    _print_text(info, plans, picks, task)
    return 0
