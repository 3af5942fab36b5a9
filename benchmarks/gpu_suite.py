"""GPU suite: the product's speed and memory figures at real size, in one run of at most 8 minutes.

    bash benchmarks/gpu_suite.sh              # CUDA: real-size transformers, random bf16 weights
    bash benchmarks/gpu_suite.sh --dry-run    # the same code on the CPU at tiny size (CI runs it)

For each model family with a real architecture in `models/memory/model_configs.py` (the first
registered model per family), the transformer is built with random bf16 weights (no download) and
measured, section by section:

  kv-edit     seconds per inversion step and per edit step for each KV store (device, cpu with
              prefetch, fp8) and whether every store gives the device store's edit; the
              inversion-free mode with and without elastic refresh; keyframes in the device store
              (bytes, deviation) at each speed setting. (Families the KV-Edit engine runs.)
  generate    seconds per step for each speed setting (exact / fast / fastest: step caches only)
              and the deviation of the final latent from exact.
  memory      peak accelerator memory of one full step per plan (weights resident or group
              offload; MLP whole or in token slices) against the planner's estimate.
  compile     regional torch.compile: time to compile, seconds per step compiled against plain,
              for exact and for the speed settings (which compile on CUDA).

Sections run family by family, cheapest first, with compilation last; a section that would not
finish inside the time budget is skipped and marked so. Results are rewritten after every section
(`benchmarks/results/gpu_<machine>.md` and `.json`), so a run cut short still leaves its figures.
Random weights: times, bytes and memory are real; deviations are not those of trained models.
"""

from __future__ import annotations

import argparse
import gc
import json
import re
import sys
import time
import traceback
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Callable

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
from peak_memory import PeakMemory  # noqa: E402
from random_models import SCALED, RandomModel, build, families_with_full_config, generate, kv_edit_setup, shifted_sigmas  # noqa: E402

from benchmarks import machine  # noqa: E402
from editor.atomic import atomic_write_text  # noqa: E402
from models.memory import estimator as est  # noqa: E402
from models.memory.chunking import set_feature_chunking  # noqa: E402
from models.speed import compiled_blocks, plan_speed, speed_applied  # noqa: E402
from models.vocabulary import SPEED_SETTINGS, TEXT2IMG  # noqa: E402

KV_EDIT_FAMILIES = ("flux", "flux2", "z-image")  # families the KV-Edit engine runs (one adapter each)
KV_STORES = ("device", "cpu", "fp8")


@dataclass(frozen=True)
class Settings:
    """Sizes and step counts of one suite run."""

    scale: str  # "full" on a GPU, "tiny" for the dry run
    device: torch.device
    dtype: torch.dtype
    size: int  # image side for KV-Edit and generation
    memory_sizes: tuple[int, ...]  # image sides for the peak-memory plans
    kv_steps: int
    kv_skip: int
    mask_fraction: float
    generation_steps: int
    compile_backend: str  # "inductor" on CUDA; "eager" in the dry run (tracing only, no toolchain)
    compile_settings: tuple[str, ...]  # speed settings timed compiled
    compile_families: int  # how many families the compile section runs for
    budget_seconds: float


def settings_for(dry_run: bool, budget_seconds: float) -> Settings:
    if dry_run:
        # Tracing with the "eager" backend checks the compile path; on a CPU its timing means nothing,
        # so only the first family's exact setting is compiled (re-tracing for each hook costs seconds).
        return Settings("tiny", torch.device("cpu"), torch.float32, 128, (128,), 4, 1, 0.25, 12, "eager",
                        ("exact",), 1, budget_seconds)
    # 12 cached steps keep the FLUX.1 device store at 1024² (25.8 GB) inside an 80 GB card.
    return Settings("full", torch.device("cuda"), torch.bfloat16, 1024, (1024, 2048), 16, 4, 0.25, 28, "inductor",
                    SPEED_SETTINGS, 99, budget_seconds)


@dataclass
class Suite:
    settings: Settings
    out: Path
    started: float = field(default_factory=time.perf_counter)
    sections: list[dict] = field(default_factory=list)
    # Budget each section needs at least, in seconds on the GPU (the dry run needs none).
    floor: dict = field(default_factory=lambda: {"kv-edit": 40, "generate": 30, "memory": 60, "compile": 120})

    def left(self) -> float:
        return self.settings.budget_seconds - (time.perf_counter() - self.started)

    def run(self, family: str, name: str, body: Callable[[], dict]) -> None:
        need = 0 if self.settings.scale != "full" else self.floor[name]
        entry = {"family": family, "section": name}
        if self.left() < need:
            entry["skipped"] = f"time budget: {self.left():.0f} s left, the section needs about {need} s"
        else:
            start = time.perf_counter()
            try:
                entry.update(body())
            except torch.OutOfMemoryError as exc:
                entry["error"] = "out of memory: " + str(exc).splitlines()[0][:160]
            except Exception as exc:  # one failing section must not lose the others' figures
                entry["error"] = f"{type(exc).__name__}: {str(exc)[:300]}"
                entry["traceback"] = traceback.format_exc(limit=6)
            entry["seconds"] = time.perf_counter() - start
            _free(self.settings.device)
        self.sections.append(entry)
        self.write()

    def write(self) -> None:
        result = {"machine": machine_name(self.settings), "device_name": device_name(self.settings.device),
                  "machine_description": machine.describe(self.settings.device, threads=torch.get_num_threads()),
                  "settings": {k: str(v) for k, v in vars(self.settings).items()},
                  "torch": torch.__version__, "elapsed_seconds": time.perf_counter() - self.started,
                  "sections": self.sections}
        atomic_write_text(self.out.with_suffix(".json"), json.dumps(result, indent=2, default=str) + "\n")
        atomic_write_text(self.out.with_suffix(".md"), to_markdown(result))


def device_name(device: torch.device) -> str:
    return machine.device_name(device)


def machine_name(settings: Settings) -> str:
    if settings.scale != "full":
        return "dry-run"
    return re.sub(r"[^a-z0-9]+", "-", device_name(settings.device).lower()).strip("-")


def _free(device: torch.device) -> None:
    gc.collect()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.empty_cache()


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _relative_rms(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.float() - b.float()).pow(2).mean().sqrt() / b.float().pow(2).mean().sqrt().clamp_min(1e-12))


# --- sections ----------------------------------------------------------------------------------


def kv_edit_section(model: RandomModel, s: Settings) -> dict:
    """Inversion and edit per store, the same-edit check, and the inversion-free mode (any family)."""
    from editor.kv_edit.elastic import ElasticPolicy
    from editor.kv_edit.kv_cache import make_kv_store
    from editor.kv_edit.kv_stores import CpuKVStore
    from editor.kv_edit.options import EditOptions

    setup = kv_edit_setup(model, s.size, s.mask_fraction)
    engine, source, target, clean = setup.engine, setup.source, setup.target, setup.clean
    sigmas = shifted_sigmas(s.kv_steps)
    opts = EditOptions(steps=s.kv_steps, skip_steps=s.kv_skip)
    steps = s.kv_steps - s.kv_skip
    engine.velocity(clean, engine.image_ids, source, 0.5, 1.5)  # warm-up: kernel selection, allocator growth
    rows, edits = [], {}
    for mode in KV_STORES:
        store = make_kv_store(mode, s.device, s.dtype)
        inversion = engine.new_inversion(clean, source, sigmas, 1.5, False, store)
        start = time.perf_counter()
        engine.extend(inversion, s.kv_skip)
        _sync(s.device)
        invert = time.perf_counter() - start
        start = time.perf_counter()
        out, _ = engine.denoise(inversion, target, opts)
        _sync(s.device)
        edit = time.perf_counter() - start
        row = {"mode": mode, "store": store.mode, "inversion_step_seconds": invert / steps, "edit_step_seconds": edit / steps,
               "cache_bytes": store.nbytes}
        if isinstance(store, CpuKVStore):
            row["prefetched_reads"], row["on_demand_reads"] = store.stats.prefetched_reads, store.stats.on_demand_reads
        edits[mode] = out[:, engine.fg_index].float()
        store.clear()
        del inversion, store
        _free(s.device)
        rows.append(row)
    for row, mode in zip(rows, KV_STORES):
        row["identical_to_device"] = bool(torch.equal(edits[mode], edits["device"]))
        row["relative_rms_vs_device"] = _relative_rms(edits[mode], edits["device"])
    free_opts = replace(opts, kv_cache="none")
    start = time.perf_counter()
    free_out, run = engine.edit_without_inversion(clean, source, target, sigmas, free_opts)
    _sync(s.device)
    free = [{"mode": "inversion-free", "edit_step_seconds": (time.perf_counter() - start) / steps,
             "source_passes_per_step": 1.0, "cache_bytes": run.kv_cache_bytes,
             "relative_rms_vs_exact_free": 0.0}]
    for setting in SPEED_SETTINGS[1:]:  # elastic refresh at each speed setting's threshold
        policy = ElasticPolicy.for_speed(setting, stored=False)
        start = time.perf_counter()
        out, run = engine.edit_without_inversion(clean, source, target, sigmas, free_opts, policy=policy)
        _sync(s.device)
        report = run.extra["elastic"]
        free.append({"mode": f"inversion-free, elastic ({setting}, threshold {policy.threshold:g})",
                     "edit_step_seconds": (time.perf_counter() - start) / steps,
                     "source_passes_per_step": report["source_passes_per_step"], "cache_bytes": run.kv_cache_bytes,
                     "first_layers": [r["from_layer"] for r in report["refreshes"]],
                     "relative_rms_vs_exact_free": _relative_rms(out[:, engine.fg_index], free_out[:, engine.fg_index])})
    keyframes = []
    for setting in SPEED_SETTINGS[1:]:  # keyframes in the device store at each speed setting
        policy = ElasticPolicy.for_speed(setting, stored=True)
        inversion = engine.new_inversion(clean, source, sigmas, 1.5, False, make_kv_store("device", s.device, s.dtype),
                                         policy=policy)
        start = time.perf_counter()
        engine.extend(inversion, s.kv_skip)
        _sync(s.device)
        invert = time.perf_counter() - start
        out, _ = engine.denoise(inversion, target, opts)
        keyframes.append({"setting": setting, "threshold": policy.threshold, "share_cap": policy.keyframe_share,
                          "inversion_step_seconds": invert / steps, "cache_bytes": inversion.store.nbytes,
                          "bytes_ratio": inversion.store.nbytes / max(1, rows[0]["cache_bytes"]),
                          "relative_rms_vs_device": _relative_rms(out[:, engine.fg_index].float(), edits["device"])})
        inversion.clear()
        _free(s.device)
    return {"size": s.size, "mask_fraction": s.mask_fraction, "cached_steps": steps, "stores": rows,
            "inversion_free": free, "keyframes": keyframes}


def generation_section(model: RandomModel, s: Settings) -> dict:
    """Seconds per step and deviation from exact for each speed setting (step caches, no compile)."""
    sigmas = shifted_sigmas(s.generation_steps)
    x = model.noise(s.size, seed=0)
    generate(model, x, sigmas[:2])  # warm-up: kernel selection, allocator growth
    rows, exact = [], None
    for setting in SPEED_SETTINGS:
        plan = replace(plan_speed(setting, model.family, task=TEXT2IMG, steps=s.generation_steps, device=s.device),
                       compile=False)
        _sync(s.device)
        start = time.perf_counter()
        with speed_applied(model.transformer, plan):
            out = generate(model, x, sigmas)
        _sync(s.device)
        seconds = time.perf_counter() - start
        exact = out if exact is None else exact
        rows.append({"setting": setting, "step_cache": plan.report()["step_cache"], "not_applied": list(plan.not_applied),
                     "step_seconds": seconds / s.generation_steps, "relative_rms_vs_exact": _relative_rms(out, exact)})
    for row in rows:
        row["time_ratio"] = row["step_seconds"] / rows[0]["step_seconds"]
    return {"size": s.size, "steps": s.generation_steps, "settings": rows}


def footprint(model: RandomModel) -> est.ModelFootprint:
    """What the estimator needs about this transformer, counted from the module itself."""
    cfg = model.config
    if model.family == "z-image":
        heads, head_dim = cfg["n_heads"], cfg["dim"] // cfg["n_heads"]
        layers = cfg["n_layers"] + 2 * cfg["n_refiner_layers"]
    else:
        heads, head_dim = cfg["num_attention_heads"], cfg["attention_head_dim"]
        layers = cfg["num_layers"] + cfg["num_single_layers"]
    return est.ModelFootprint(
        model=f"random-{model.family}-{model.scale}", family=model.family,
        components=(est.count_component("transformer", model.transformer),), attention_layers=layers,
        heads=heads, head_dim=head_dim, text_tokens=model.text_tokens, token_pixels=16, vae_channels=(128,),
        vae_sample_size=1024, text_encoders=())


def memory_section(model: RandomModel, s: Settings) -> dict:
    """Peak memory of one full step per plan, measured and estimated (transformer part of the plan)."""
    fp = footprint(model)
    dtype = est.dtype_name(s.dtype)
    weights = fp.component("transformer").weight_bytes(dtype)
    rows = []
    # Chunking first, then offloading: group offload must wrap the chunked blocks (as place_pipeline does).
    for chunks in (1, est.FEATURE_CHUNKS):
        set_feature_chunking(model.transformer, chunks)
        for offload in ("none", "group"):
            if offload == "group":
                model.transformer.enable_group_offload(
                    onload_device=s.device, offload_device=torch.device("cpu"), offload_type="block_level",
                    num_blocks_per_group=1, use_stream=s.device.type == "cuda", record_stream=s.device.type == "cuda",
                    low_cpu_mem_usage=False)
            try:
                for size in s.memory_sizes:
                    x = model.noise(size, seed=0)
                    model.velocity(x, 0.5)  # warm-up (group offload learns its order on the first pass)
                    _free(s.device)
                    start = time.perf_counter()
                    with PeakMemory(s.device) as peak:
                        model.velocity(x, 0.5)
                    seconds = time.perf_counter() - start
                    estimate = est.transformer_activation_bytes(fp, size, size, dtype, chunks)
                    if offload == "group":  # what group offload keeps on the device comes on top
                        estimate += fp.component("transformer").group_resident_bytes(dtype)
                    rows.append({"offload": offload, "feature_chunks": chunks, "size": size, "step_seconds": seconds,
                                 "peak_bytes_above_resident": peak.bytes, "estimated_bytes": estimate})
            finally:
                if offload == "group":
                    from models.memory.offload import _remove_group_offload

                    _remove_group_offload(model.transformer)
                    model.transformer.to(s.device)
    set_feature_chunking(model.transformer, 1)
    rows.sort(key=lambda row: (row["offload"] != "none", row["feature_chunks"], row["size"]))
    return {"weights_bytes": weights, "plans": rows}


def compile_section(model: RandomModel, s: Settings) -> dict:
    """Regional compilation: compile time, then seconds per step compiled vs plain, per setting."""
    sigmas = shifted_sigmas(s.generation_steps)
    x = model.noise(s.size, seed=0)
    rows = []
    plain = {}
    for setting in s.compile_settings:
        plan = replace(plan_speed(setting, model.family, task=TEXT2IMG, steps=s.generation_steps, device=s.device),
                       compile=False)
        start = time.perf_counter()
        with speed_applied(model.transformer, plan):
            generate(model, x, sigmas)
        _sync(s.device)
        plain[setting] = (time.perf_counter() - start) / s.generation_steps
    with compiled_blocks(model.transformer, backend=s.compile_backend) as blocks:
        start = time.perf_counter()
        model.velocity(x, sigmas[0])  # first call compiles
        _sync(s.device)
        compile_seconds = time.perf_counter() - start
    for setting in s.compile_settings:
        plan = replace(plan_speed(setting, model.family, task=TEXT2IMG, steps=s.generation_steps, device=s.device),
                       compile=True)
        with speed_applied(model.transformer, plan, backend=s.compile_backend):
            generate(model, x, sigmas[:3])  # recompiles for the hooks happen here, not in the timing
            _sync(s.device)
            start = time.perf_counter()
            generate(model, x, sigmas)
            _sync(s.device)
        compiled = (time.perf_counter() - start) / s.generation_steps
        rows.append({"setting": setting, "plain_step_seconds": plain[setting], "compiled_step_seconds": compiled,
                     "gain": plain[setting] / compiled})
    return {"backend": s.compile_backend, "blocks_compiled": blocks, "first_call_seconds": compile_seconds,
            "settings": rows}


# --- the run -----------------------------------------------------------------------------------


def families(s: Settings) -> list[str]:
    if s.scale == "full":
        return list(families_with_full_config())
    return list(SCALED)


def run_suite(s: Settings, out: Path) -> Suite:
    suite = Suite(s, out)
    suite.write()
    built = []
    for family in families(s):
        try:
            model = build(family, s.scale, s.device, s.dtype)
        except torch.OutOfMemoryError as exc:
            suite.sections.append({"family": family, "section": "build", "error": str(exc).splitlines()[0][:160]})
            continue
        built.append(family)
        if family in KV_EDIT_FAMILIES:
            suite.run(family, "kv-edit", partial(kv_edit_section, model, s))
        suite.run(family, "generate", partial(generation_section, model, s))
        suite.run(family, "memory", partial(memory_section, model, s))
        del model  # one real-size model on the device at a time; building one again takes seconds
        _free(s.device)
    for family in built[: s.compile_families]:  # compilation last: the slowest and least certain section
        model = build(family, s.scale, s.device, s.dtype)
        suite.run(family, "compile", partial(compile_section, model, s))
        del model
        _free(s.device)
    return suite


# --- the report --------------------------------------------------------------------------------


def _gb(n) -> str:
    return "-" if n is None else (f"{n / 1e9:.2f} GB" if n >= 1e8 else f"{n / 1e6:.1f} MB")


def to_markdown(r: dict) -> str:
    st = r["settings"]
    lines = [
        f"# GPU suite: {r['device_name']} ({r['machine']})",
        "",
        f"Scale `{st['scale']}`, {st['dtype'].replace('torch.', '')} random weights, torch {r['torch']}; KV-Edit and "
        f"generation at {st['size']}², KV-Edit {st['kv_steps']} steps with {st['kv_skip']} skipped, mask "
        f"{st['mask_fraction']}; generation {st['generation_steps']} steps. Elapsed {r['elapsed_seconds']:.0f} s.",
        "Random weights: seconds, bytes and memory are real; deviations are not those of trained models.",
    ]
    for sec in r["sections"]:
        lines += ["", f"## {sec['family']}: {sec['section']}"]
        if "skipped" in sec or "error" in sec:
            lines += ["", f"{'Skipped' if 'skipped' in sec else 'Failed'}: {sec.get('skipped') or sec.get('error')}"]
            continue
        lines += ["", f"(section took {sec['seconds']:.1f} s)", ""]
        if sec["section"] == "kv-edit":
            lines += ["| store | inversion s/step | edit s/step | cache | same edit as device | rel. RMS vs device |",
                      "|---|---|---|---|---|---|"]
            for row in sec["stores"]:
                lines.append(f"| {row['store']} | {row['inversion_step_seconds']:.4f} | {row['edit_step_seconds']:.4f} "
                             f"| {_gb(row['cache_bytes'])} | {'identical' if row['identical_to_device'] else 'no'} "
                             f"| {row['relative_rms_vs_device']:.2e} |")
            lines += ["", "| edit mode | edit s/step | source passes / step | cache alive | rel. RMS vs exact inversion-free |",
                      "|---|---|---|---|---|"]
            for row in sec["inversion_free"]:
                lines.append(f"| {row['mode']} | {row['edit_step_seconds']:.4f} | {row['source_passes_per_step']:.2f} "
                             f"| {_gb(row['cache_bytes'])} | {row['relative_rms_vs_exact_free']:.2e} |")
            lines += ["", "| keyframes (device store) | threshold | cap | inversion s/step | cache | bytes / every step | rel. RMS vs device |",
                      "|---|---|---|---|---|---|---|"]
            for row in sec["keyframes"]:
                lines.append(f"| {row['setting']} | {row['threshold']:g} | {row['share_cap']:.2f} | {row['inversion_step_seconds']:.4f} "
                             f"| {_gb(row['cache_bytes'])} | {row['bytes_ratio']:.3f} | {row['relative_rms_vs_device']:.2e} |")
        elif sec["section"] == "generate":
            lines += ["| setting | step cache | s/step | time / exact | rel. RMS vs exact | not applied |",
                      "|---|---|---|---|---|---|"]
            for row in sec["settings"]:
                lines.append(f"| {row['setting']} | {row['step_cache'] or '-'} | {row['step_seconds']:.4f} "
                             f"| {row['time_ratio']:.2f} | {row['relative_rms_vs_exact']:.2e} | {'; '.join(row['not_applied']) or '-'} |")
        elif sec["section"] == "memory":
            lines += [f"Transformer weights {_gb(sec['weights_bytes'])}. Peak = one full step, above what was resident "
                      "before it; estimate = the planner's activations (+ what group offload keeps on the device).", "",
                      "| offload | MLP slices | size | s/step | peak measured | estimated | measured / estimated |",
                      "|---|---|---|---|---|---|---|"]
            for row in sec["plans"]:
                lines.append(f"| {row['offload']} | {row['feature_chunks']} | {row['size']}² | {row['step_seconds']:.3f} "
                             f"| {_gb(row['peak_bytes_above_resident'])} | {_gb(row['estimated_bytes'])} "
                             f"| {row['peak_bytes_above_resident'] / max(1, row['estimated_bytes']):.2f} |")
        elif sec["section"] == "compile":
            lines += [f"Backend `{sec['backend']}`, {sec['blocks_compiled']} blocks; first call (compiling) "
                      f"{sec['first_call_seconds']:.1f} s.", "",
                      "| setting | plain s/step | compiled s/step | gain |", "|---|---|---|---|"]
            for row in sec["settings"]:
                lines.append(f"| {row['setting']} | {row['plain_step_seconds']:.4f} | {row['compiled_step_seconds']:.4f} "
                             f"| {row['gain']:.2f}× |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dry-run", action="store_true", help="CPU, tiny sizes: checks the suite itself")
    parser.add_argument("--budget", type=float, default=450.0, help="seconds for all sections (GPU)")
    parser.add_argument("--out", default=None, help="results stem (default benchmarks/results/gpu_<machine>)")
    args = parser.parse_args(argv)
    if not args.dry_run and not torch.cuda.is_available():
        print("error: no CUDA device here; use --dry-run to check the suite on the CPU", file=sys.stderr)
        return 2
    s = settings_for(args.dry_run, args.budget)
    out = Path(args.out) if args.out else ROOT / "benchmarks" / "results" / f"gpu_{machine_name(s)}"
    suite = run_suite(s, out)
    print(out.with_suffix(".md").read_text())
    failed = [x for x in suite.sections if "error" in x]
    return 1 if failed and args.dry_run else 0


if __name__ == "__main__":
    raise SystemExit(main())
