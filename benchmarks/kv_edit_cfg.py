"""True CFG in KV-Edit: where the unconditional pass gets its background keys/values, measured.

    python benchmarks/kv_edit_cfg.py            # the tiny FLUX.2 [klein] and Z-Image backends on CPU

Two policies (editor/kv_edit/engine.py):
- reuse-conditional: inversion records the conditional branch only; the edit's unconditional pass
  attends to those keys/values.
- record-both: inversion also runs an unconditional pass per step and records it; the edit's
  unconditional pass attends to its own branch's keys/values.

Cost: inversion passes, seconds and cache bytes per policy. Difference: the edited latent of one
policy against the other; and, per edit step, each policy's foreground velocities against an
"oracle" that runs both CFG passes over *all* tokens (background at the inverted latent of that
step, foreground at the edit's current state) with plain attention, i.e. what the unconditional
pass would see without a cache. Random weights: the numbers say how the two policies differ on
these architectures, not how strongly real weights condition the background on the prompt.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks.machine import describe, device_name  # noqa: E402
from editor.atomic import atomic_write_text  # noqa: E402
from editor.kv_edit.attention import replaying  # noqa: E402
from editor.kv_edit.engine import RECORD_BOTH, REUSE_CONDITIONAL, Conditioning, KVEditEngine  # noqa: E402
from editor.kv_edit.families import adapter_for  # noqa: E402
from editor.kv_edit.kv_cache import DeviceKVStore  # noqa: E402
from editor.kv_edit.masks import token_mask  # noqa: E402
from editor.kv_edit.options import EditOptions  # noqa: E402
from models.tiny import build_tiny_pipeline  # noqa: E402

CASES = (("tiny-flux2", 4.0), ("tiny-zimage", 2.0))  # (model, edit guidance that turns CFG on)
PROMPTS = (("a white cup on a table", "a red cup on a table"), ("a dog on the grass", "a cat on the grass"),
           ("a bowl of noodles", "a plate of cake"))


def photo(size: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size]
    base = np.stack([xx * 255 / size, yy * 255 / size, (xx + yy) * 127 / size], axis=2)
    return np.clip(base + rng.normal(0, 12, (size, size, 3)), 0, 255).astype(np.uint8)


def rel(a: torch.Tensor, b: torch.Tensor) -> float:
    """Relative RMS of a against reference b."""
    return float((a - b).pow(2).mean().sqrt() / b.pow(2).mean().sqrt().clamp_min(1e-12))


def run_case(name: str, guidance: float, args) -> dict:
    pipe = build_tiny_pipeline(name)
    family = adapter_for(pipe, name)
    canvas = family.canvas(args.size, args.size)
    pixels = np.zeros((args.size, args.size), np.float32)
    lo, hi = args.size // 4, 3 * args.size // 4
    pixels[lo:hi, lo:hi] = 1.0  # the middle quarter of the picture
    mask = token_mask(pixels, canvas.latent_h, canvas.latent_w)
    opts = EditOptions(steps=args.steps, skip_steps=args.skip, guidance=guidance,
                       inversion_guidance=family.models_family.cfg_above)
    sigmas = family.sigmas(args.steps, canvas.tokens, "cpu")
    empty = family.encode_prompt("", "cpu", torch.float32)
    rows = []
    for index, (source_text, target_text) in enumerate(PROMPTS):
        clean = family.encode_image(photo(args.size, index), canvas, "cpu")
        source = family.encode_prompt(source_text, "cpu", torch.float32)
        target = Conditioning(family.encode_prompt(target_text, "cpu", torch.float32), empty)
        per_policy = {}
        for policy in (REUSE_CONDITIONAL, RECORD_BOTH):
            engine = KVEditEngine(pipe, canvas, mask, "cpu", family=family, unconditional_kv=policy)
            text = Conditioning(source, empty if engine.wants_unconditional(opts.inversion_guidance, recording=True) else None)
            inversion = engine.new_inversion(clean, text, sigmas, opts.inversion_guidance, False,
                                             DeviceKVStore("cpu", torch.float32), DeviceKVStore("cpu", torch.float32))
            start = time.perf_counter()
            run = engine.extend(inversion, args.skip)
            inversion_seconds = time.perf_counter() - start
            start = time.perf_counter()
            edited, _ = engine.denoise(inversion, target, opts)
            edit_seconds = time.perf_counter() - start
            per_policy[policy] = dict(engine=engine, inversion=inversion, edited=edited, passes=run.transformer_calls,
                                      inversion_seconds=inversion_seconds, edit_seconds=edit_seconds)
        both = per_policy[RECORD_BOTH]
        errors = oracle_errors(both["engine"], both["inversion"], target, opts)
        fg = both["engine"].fg_index
        rows.append({
            "prompts": [source_text, target_text],
            "inversion_passes": {p: v["passes"] for p, v in per_policy.items()},
            "inversion_seconds": {p: v["inversion_seconds"] for p, v in per_policy.items()},
            "edit_seconds": {p: v["edit_seconds"] for p, v in per_policy.items()},
            "cache_bytes": {p: v["inversion"].nbytes for p, v in per_policy.items()},
            "edited_latent_rel_rms_between_policies": rel(per_policy[REUSE_CONDITIONAL]["edited"][:, fg], both["edited"][:, fg]),
            **errors,
        })
    mean = {key: float(np.mean([r[key] for r in rows])) for key in rows[0] if isinstance(rows[0][key], float)}
    return {"model": name, "guidance": guidance, "steps": args.steps, "skip_steps": args.skip,
            "size": args.size, "image_tokens": canvas.tokens, "foreground_tokens": mask.foreground_tokens,
            "layers": len(family.kv_layers(pipe.transformer)), "rows": rows, "mean": mean}


def oracle_errors(engine: KVEditEngine, inversion, target: Conditioning, opts) -> dict:
    """Per edit step (on the record-both trajectory), the foreground velocities of each policy's
    unconditional pass and of the guided mix, against both passes over all tokens."""
    family, fg, m = engine.family, engine.fg_index, engine.fg_pixel_mask
    sigmas = inversion.sigmas
    x = inversion.latents[opts.skip_steps][:, fg]
    ctx = engine._context(inversion.store)
    errors = {"uncond_reuse_vs_oracle": [], "uncond_record_vs_oracle": [], "guided_reuse_vs_oracle": [],
              "guided_record_vs_oracle": [], "cond_cached_vs_oracle": [], "uncond_reuse_vs_record": []}
    for k in range(opts.skip_steps, inversion.steps):
        sigma = sigmas[k]
        x = inversion.latents[k][:, fg] * (1 - m) + x * m
        ctx.step = k
        with replaying(engine.layers, ctx):
            ctx.store = inversion.store
            cond = family.predict(x, engine.fg_ids, target.prompt, sigma, opts.guidance)
            uncond_reuse = family.predict(x, engine.fg_ids, target.unconditional, sigma, opts.guidance)
            ctx.store = inversion.unconditional_store
            uncond_record = family.predict(x, engine.fg_ids, target.unconditional, sigma, opts.guidance)
        full = inversion.latents[k].clone()
        full[:, fg] = x
        cond_oracle = family.predict(full, engine.image_ids, target.prompt, sigma, opts.guidance)[:, fg]
        uncond_oracle = family.predict(full, engine.image_ids, target.unconditional, sigma, opts.guidance)[:, fg]
        guided_oracle = family.combine(cond_oracle, uncond_oracle, opts.guidance)
        errors["cond_cached_vs_oracle"].append(rel(cond, cond_oracle))
        errors["uncond_reuse_vs_record"].append(rel(uncond_reuse, uncond_record))
        errors["uncond_reuse_vs_oracle"].append(rel(uncond_reuse, uncond_oracle))
        errors["uncond_record_vs_oracle"].append(rel(uncond_record, uncond_oracle))
        errors["guided_reuse_vs_oracle"].append(rel(family.combine(cond, uncond_reuse, opts.guidance), guided_oracle))
        errors["guided_record_vs_oracle"].append(rel(family.combine(cond, uncond_record, opts.guidance), guided_oracle))
        v = family.combine(cond, uncond_record, opts.guidance)
        x = x + (sigmas[k + 1] - sigma) * v
    return {key: float(np.mean(values)) for key, values in errors.items()}


def to_markdown(result: dict) -> str:
    lines = [
        f"# True CFG in KV-Edit: unconditional background K/V ({result['machine']})",
        "",
        f"Tiny random-weight backends, fp32 CPU, torch {result['torch']}, {result['threads']} thread(s); "
        f"mean of {len(PROMPTS)} prompt pairs and pictures. `python benchmarks/kv_edit_cfg.py`.",
        "",
        "| model | guidance | inversion passes reuse / record | inversion s reuse / record | cache bytes reuse / record "
        "| uncond. velocity, reuse vs record | edited latent, reuse vs record | cond. cached vs oracle "
        "| uncond. reuse vs oracle | uncond. record vs oracle | guided reuse vs oracle | guided record vs oracle |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for case in result["cases"]:
        r0, mean = case["rows"][0], case["mean"]
        passes = r0["inversion_passes"]
        seconds = {p: np.mean([r["inversion_seconds"][p] for r in case["rows"]]) for p in passes}
        lines.append(
            f"| {case['model']} | {case['guidance']} | {passes[REUSE_CONDITIONAL]} / {passes[RECORD_BOTH]} "
            f"| {seconds[REUSE_CONDITIONAL]:.3f} / {seconds[RECORD_BOTH]:.3f} "
            f"| {r0['cache_bytes'][REUSE_CONDITIONAL]} / {r0['cache_bytes'][RECORD_BOTH]} "
            f"| {mean['uncond_reuse_vs_record']:.4f} | {mean['edited_latent_rel_rms_between_policies']:.4f} "
            f"| {mean['cond_cached_vs_oracle']:.4f} "
            f"| {mean['uncond_reuse_vs_oracle']:.4f} | {mean['uncond_record_vs_oracle']:.4f} "
            f"| {mean['guided_reuse_vs_oracle']:.4f} | {mean['guided_record_vs_oracle']:.4f} |"
        )
    lines += [
        "",
        "Differences are relative RMS over the foreground tokens (velocities: mean over the edit steps).",
        "Oracle: both CFG passes over all tokens with plain attention, background at the inverted latent of",
        "the step, foreground at the edit's current state. 'cond. cached' is the conditional pass every policy",
        "shares (its distance to the oracle is KV-Edit's own approximation: the background was recorded next",
        "to the source foreground). Random weights do not show how strongly a trained model conditions the",
        "background on the prompt; the GPU suite with real weights should repeat this.",
    ]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=128, help="picture side in pixels (multiple of 16)")
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--skip", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "kv_edit_cfg_cpu"))
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    result = {
        "machine": device_name("cpu"),
        "machine_description": describe("cpu", threads=torch.get_num_threads()),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "cases": [run_case(name, guidance, args) for name, guidance in CASES],
    }
    text = to_markdown(result)
    print(text)
    stem = Path(args.out)
    atomic_write_text(stem.with_suffix(".md"), text)
    atomic_write_text(stem.with_suffix(".json"), json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
