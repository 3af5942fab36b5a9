"""Choosing how to run a model in the memory a machine has.

A plan combines six choices. Candidates are tried from the fastest to the cheapest and the first
one whose estimated peak fits both the free accelerator memory and the free RAM wins:

    weight quantization   none, then NF4 / int8 where bitsandbytes / torchao are installed
      text encoders       on the accelerator while encoding, then (last resort) on the CPU
        offload           none (all resident) > model CPU offload > group offload with streams
          K/V cache       device > cpu (pinned, prefetched) > fp8 > none (inversion-free)
            MLP           all tokens at once > in token slices (feature chunking)
              VAE         full > tiled (and sliced)

The order encodes cost: tiling the VAE costs a fraction of one decode and chunking the blocks'
MLPs a few percent of each step (same numbers), so both are tried before a slower cache; a slower
cache costs less than streaming 24 GB of weights every step, so every cache is tried before
offloading more; quantizing weights changes the pictures, so it comes last. The
`cpu` cache ranks above `fp8` because its copies overlap compute (50 ms per step over PCIe against
93 ms of compute on an H100, slower GPUs hide it more) and it is exact.

Estimates come from `estimator.py` (exact parameter bytes, estimated activations) plus headroom
for allocator fragmentation and library workspaces.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, replace
from types import MappingProxyType

import torch

from models.families import supports
from models.memory import estimator as est
from models.registry import get_spec
from models.speed import kv_refresh as speed_refresh
from models.vocabulary import ELASTIC, EVERY_STEP, EXACT, KV_CACHE_MODES, KV_EDIT, OFFLOAD_MODES, PLAN_KINDS

GiB = 2**30
GB = est.GB

# Fastest -> cheapest. int8 is not offered on its own: an fp8 store becomes int8 by itself where
# the device has no float8, and the estimate is the same to within its per-token scales.
KV_MODES = tuple(mode for mode in KV_CACHE_MODES if mode != "int8")
TEXT_ENCODER_PLACES = ("device", "cpu")  # where prompts are encoded: the compute device, or the CPU
TASKS = PLAN_KINDS

# Allocator fragmentation, cuBLAS/attention workspaces: a share of the peak plus a fixed amount.
GPU_HEADROOM_SHARE = 0.05
GPU_HEADROOM_BYTES = int(0.75 * GB)
# The Python process itself: torch, diffusers, transformers, gradio, tokenizers.
RAM_BASE_BYTES = 3 * GB
RAM_HEADROOM_SHARE = 0.05

OFFLOAD_WORDS = {"none": "weights on the GPU", "model": "model CPU offload", "group": "group offload (streamed)"}
KV_WORDS = {
    "device": "K/V cache on the GPU",
    "cpu": "K/V cache in pinned RAM (prefetched)",
    "fp8": "K/V cache in fp8 on the GPU",
    "int8": "K/V cache in int8 on the GPU",
    "none": "inversion-free (no K/V cache)",
}


@dataclass(frozen=True)
class MemoryBudget:
    gpu_free: int  # bytes free on the accelerator; 0 = no accelerator
    ram_free: int  # bytes of RAM available
    label: str = ""

    @property
    def has_accelerator(self) -> bool:
        return self.gpu_free > 0


# Free memory as torch reports it on an idle card (after the CUDA context), and a typical host.
PROFILES = MappingProxyType(
    {
        "h100-80gb": MemoryBudget(int(78.5 * GiB), 200 * GB, "H100 80 GB, 200 GB RAM"),
        "l4-24gb": MemoryBudget(int(21.5 * GiB), 64 * GB, "L4 24 GB, 64 GB RAM"),
        "gpu-12gb": MemoryBudget(int(11.0 * GiB), 32 * GB, "12 GB GPU, 32 GB RAM"),
        "cpu-only": MemoryBudget(0, 64 * GB, "no GPU, 64 GB RAM"),
    }
)


@dataclass(frozen=True)
class MemoryPlan:
    """How to run one job. `explanation` is the one line shown in the CLI report and UI status."""

    model: str
    task: str
    kv_cache: str | None  # "device" | "cpu" | "fp8" | "none"; None when the task caches nothing
    offload: str  # "none" | "model" | "group"
    vae_tiling: bool
    text_encoders: str  # where prompts are encoded: "device" (the compute device) | "cpu"
    weight_quantization: str | None  # None | "nf4" | "int8"
    device: str  # "cuda" | "cpu"
    dtype: str  # compute dtype name
    gpu_bytes: int  # estimated peak on the accelerator, headroom included (0 without one)
    ram_bytes: int  # estimated peak RAM
    budget: MemoryBudget
    parts: tuple[tuple[str, int], ...]  # what the peaks are made of, for reports
    fits: bool
    feature_chunks: int = 1  # token slices for the blocks' MLPs (models/memory/chunking.py); 1 = none
    kv_refresh: str = EVERY_STEP  # "elastic": the speed setting keeps keyframes / refreshes by drift
    explanation: str = ""
    fallback: "MemoryPlan | None" = None  # the next cheaper plan that fits, for out-of-memory retries

    @property
    def vae_slicing(self) -> bool:
        # Slicing only splits batches; it is free, so it goes with tiling.
        return self.vae_tiling

    @property
    def name(self) -> str:
        elastic = self.kv_refresh == ELASTIC and self.kv_cache is not None
        bits = [f"offload={self.offload}", f"kv={self.kv_cache or '-'}" + ("/elastic" if elastic else "")]
        if self.feature_chunks > 1:
            bits.append(f"mlp=chunks{self.feature_chunks}")
        bits.append("vae=tiled" if self.vae_tiling else "vae=full")
        if self.text_encoders != "device":
            bits.append(f"text={self.text_encoders}")
        if self.weight_quantization:
            bits.append(f"weights={self.weight_quantization}")
        return " ".join(bits)

    def describe(self) -> str:
        words = [OFFLOAD_WORDS[self.offload] if self.device == "cuda" else "everything in RAM (CPU)"]
        if self.weight_quantization:
            words.append(f"{self.weight_quantization.upper()} weights")
        if self.kv_cache is not None:
            kv = KV_WORDS[self.kv_cache]
            words.append(kv if self.device == "cuda" else kv.replace(" on the GPU", " in RAM"))
            if self.kv_refresh == ELASTIC:
                words.append("elastic refresh" if self.kv_cache == "none" else "keyframes only")
        if self.feature_chunks > 1:
            words.append(f"MLP in {self.feature_chunks} token slices")
        words.append("tiled VAE" if self.vae_tiling else "full VAE")
        if self.device == "cuda" and self.text_encoders == "cpu":
            words.append("text encoders on the CPU")
        return ", ".join(words)

    @property
    def parts_dict(self) -> dict[str, int]:
        return dict(self.parts)

    def require_fit(self) -> "MemoryPlan":
        """The plan itself, or an IntactError saying why nothing fits."""
        if not self.fits:
            from models.errors import IntactError

            raise IntactError(self.explanation)
        return self


@dataclass(frozen=True)
class _Candidate:
    weight_quantization: str | None
    text_encoders: str
    offload: str
    kv_cache: str | None
    vae_tiling: bool
    feature_chunks: int = 1


def available_weight_quantizers() -> tuple[str, ...]:
    """Weight quantizers diffusers can use here: NF4 needs bitsandbytes and CUDA; int8 needs torchao."""
    found = []
    if torch.cuda.is_available() and importlib.util.find_spec("bitsandbytes") is not None:
        found.append("nf4")
    if importlib.util.find_spec("torchao") is not None:
        found.append("int8")
    return tuple(found)


def detect_budget(device: torch.device | str | None = None) -> MemoryBudget:
    """Free accelerator memory and available RAM right now."""
    gpu = 0
    if torch.cuda.is_available() and (device is None or torch.device(device).type == "cuda"):
        free, _total = torch.cuda.mem_get_info(torch.device(device) if device is not None else None)
        gpu = int(free)
    return MemoryBudget(gpu, available_ram(), "this machine")


def available_ram() -> int:
    try:
        import psutil

        return int(psutil.virtual_memory().available)
    except ImportError:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    return 0


def candidates(task: str, accelerator: bool, weight_quantizers: tuple[str, ...]) -> list[_Candidate]:
    """Every plan worth trying, fastest first (see the module docstring for the order)."""
    kv_modes: tuple[str | None, ...] = KV_MODES if task == KV_EDIT else (None,)
    chunkings = (1, est.FEATURE_CHUNKS)
    if not accelerator:
        # On the CPU, "cpu" storage is "device" storage and there is nothing to offload to.
        kv = tuple(m for m in kv_modes if m != "cpu")
        return [_Candidate(None, "device", "none", k, t, c) for k in kv for c in chunkings for t in (False, True)]
    out = []
    for wq in (None, *weight_quantizers):
        for te in TEXT_ENCODER_PLACES:
            for offload in OFFLOAD_MODES:
                for kv in kv_modes:
                    for chunks in chunkings:
                        for tiling in (False, True):
                            out.append(_Candidate(wq, te, offload, kv, tiling, chunks))
    return out


@dataclass(frozen=True)
class _Need:
    gpu: int
    ram: int
    parts: tuple[tuple[str, int], ...]


def _estimate(
    fp: est.ModelFootprint,
    c: _Candidate,
    width: int,
    height: int,
    cached_steps: int,
    mask_fraction: float,
    dtype: str,
    accelerator: bool,
    images: int = 1,
    keyframe_share: float | None = None,
) -> _Need:
    wq = c.weight_quantization
    transformer = fp.component("transformer").weight_bytes(dtype, wq)
    text = est.weights_bytes(fp, fp.text_encoder_names, dtype, wq)
    largest_text = max((fp.component(n).weight_bytes(dtype, wq) for n in fp.text_encoder_names), default=0)
    vae = fp.component("vae").weight_bytes(dtype)
    act_t = est.transformer_activation_bytes(fp, width, height, dtype, c.feature_chunks, images)
    act_v = est.vae_activation_bytes(fp, width, height, dtype, tiled=c.vae_tiling, images=images)
    act_te = est.text_encoder_activation_bytes(fp, dtype)
    if c.kv_cache is None:
        kv = est.KVCacheSize("-", 0, 0, 0, 0)
    else:
        kv = est.kv_cache_size(fp, c.kv_cache, width, height, mask_fraction, cached_steps, dtype, accelerator,
                               keyframe_share)

    if not accelerator:
        weights = transformer + text + vae
        work = max(kv.on_device + act_t, kv.on_device + act_v, act_te)
        ram = int((RAM_BASE_BYTES + weights + work) * (1 + RAM_HEADROOM_SHARE))
        parts = (
            ("weights", weights),
            ("kv_cache", kv.on_device),
            ("transformer_activations", act_t),
            ("vae_working", act_v),
            ("text_encoder_activations", act_te),
        )
        return _Need(0, ram, parts)

    if c.offload == "group":
        resident_t = fp.component("transformer").group_resident_bytes(dtype, wq)
    else:
        resident_t = transformer
    te_on_gpu = c.text_encoders == "device"
    if c.offload == "none":
        encode = transformer + vae + (text + act_te if te_on_gpu else 0)
        vae_encode = transformer + vae + act_v
        denoise = transformer + vae + kv.on_device + act_t
        decode = transformer + vae + kv.on_device + act_v
    elif c.offload == "model":
        # One component at a time; the VAE may stay next to the transformer (it is small).
        encode = (largest_text + act_te) if te_on_gpu else 0
        vae_encode = vae + act_v
        denoise = transformer + vae + kv.on_device + act_t
        decode = vae + kv.on_device + act_v
    else:  # group: transformer streamed block by block, VAE resident, text encoders moved on to encode
        encode = vae + (text + act_te if te_on_gpu else 0)
        vae_encode = vae + act_v
        denoise = resident_t + vae + kv.on_device + act_t
        decode = vae + kv.on_device + act_v
    peak = max(encode, vae_encode, denoise, decode)
    gpu = int(peak * (1 + GPU_HEADROOM_SHARE)) + GPU_HEADROOM_BYTES

    # RAM: weights pass through RAM when loading; afterwards it holds what is offloaded.
    load = transformer + text + vae
    if c.offload == "none":
        run = text + kv.in_ram
    elif c.offload == "model":
        run = transformer + text + vae + kv.in_ram
    else:
        run = transformer + text + kv.in_ram
    if not te_on_gpu:
        run += act_te
    ram = int((RAM_BASE_BYTES + max(load, run)) * (1 + RAM_HEADROOM_SHARE))
    parts = (
        ("transformer_weights_on_gpu", resident_t),
        ("text_encoders_on_gpu_while_encoding", text if te_on_gpu else 0),
        ("vae_weights", vae),
        ("kv_cache_on_gpu", kv.on_device),
        ("kv_cache_in_ram", kv.in_ram),
        ("transformer_activations", act_t),
        ("vae_working", act_v),
        ("text_encoder_activations", act_te),
        ("weights_in_ram_after_loading", run - kv.in_ram - (0 if te_on_gpu else act_te)),
    )
    return _Need(gpu, ram, parts)


def _gb(n: int) -> str:
    return f"{n / GB:.1f} GB"


def evaluate_plans(
    model: str,
    width: int,
    height: int,
    steps: int,
    mask_fraction: float,
    budget: MemoryBudget,
    *,
    skip_steps: int = 0,
    task: str = KV_EDIT,
    dtype: torch.dtype | str | None = None,
    weight_quantizers: tuple[str, ...] | None = None,
    images: int = 1,
    speed: str = EXACT,
) -> list[MemoryPlan]:
    """Every candidate plan, fastest first, with its estimated needs and whether it fits `budget`
    (no explanations, no fallbacks: `plan_memory` adds those to the one it picks)."""
    if task not in TASKS:
        raise ValueError(f"unknown task '{task}'; known: {', '.join(TASKS)}")
    if width <= 0 or height <= 0 or steps <= 0:
        raise ValueError("width, height and steps must be positive")
    if not 0 <= skip_steps < steps:
        raise ValueError(f"skip_steps must be between 0 and steps - 1; got {skip_steps}")
    if isinstance(images, bool) or not isinstance(images, int) or images < 1:
        raise ValueError(f"images must be a whole number of at least 1; got {images!r}")
    spec = get_spec(model)
    if task == KV_EDIT and not supports(spec, KV_EDIT):
        from models.errors import IntactError

        raise IntactError(f"'{model}' ({spec.title}) cannot run KV-Edit.")
    accelerator = budget.has_accelerator
    dtype_name = est.dtype_name(dtype) if dtype is not None else ("bf16" if accelerator else "fp32")
    if weight_quantizers is None:
        weight_quantizers = available_weight_quantizers() if accelerator else ()
    fp = est.model_footprint(model)
    refresh = speed_refresh(speed) if task == KV_EDIT else None
    share = refresh.keyframe_share if refresh is not None else None
    plans = []
    for c in candidates(task, accelerator, tuple(weight_quantizers)):
        need = _estimate(fp, c, width, height, steps - skip_steps, mask_fraction, dtype_name, accelerator, images, share)
        plans.append(
            MemoryPlan(
                model=model,
                task=task,
                kv_cache=c.kv_cache,
                offload=c.offload,
                vae_tiling=c.vae_tiling,
                text_encoders=c.text_encoders,
                weight_quantization=c.weight_quantization,
                device="cuda" if accelerator else "cpu",
                dtype=dtype_name,
                gpu_bytes=need.gpu,
                ram_bytes=need.ram,
                budget=budget,
                parts=need.parts,
                fits=need.ram <= budget.ram_free and (not accelerator or need.gpu <= budget.gpu_free),
                feature_chunks=c.feature_chunks,
                kv_refresh=ELASTIC if refresh is not None else EVERY_STEP,
            )
        )
    return plans


def plan_memory(
    model: str,
    width: int,
    height: int,
    steps: int,
    mask_fraction: float,
    gpu_free_bytes: int | None,
    ram_free_bytes: int,
    *,
    skip_steps: int = 0,
    task: str = KV_EDIT,
    dtype: torch.dtype | str | None = None,
    weight_quantizers: tuple[str, ...] | None = None,
    budget_label: str = "",
    images: int = 1,
    speed: str = EXACT,
) -> MemoryPlan:
    """The fastest plan that fits, with its cheaper fallbacks chained in `fallback`.

    gpu_free_bytes: free accelerator memory; 0 or None means no accelerator (everything in RAM).
        Plan before loading the model, or add back what it already holds.
    steps / skip_steps: KV-Edit caches `steps - skip_steps` steps (0 skipped = the worst case).
    dtype: compute dtype; default bf16 with an accelerator, fp32 without (as `models.loading`).
    weight_quantizers: quantizers to consider; default: the installed ones.
    images: pictures made in one batch (generation): activations grow with it, a sliced VAE does not.
    speed: the speed setting; for KV-Edit "fast"/"fastest" keep keyframes only (models/speed.py
        KV_EDIT_REFRESH), so a stored cache is counted at its keyframe share.
    When nothing fits, the returned plan has `fits=False` and says what is missing.
    """
    budget = MemoryBudget(int(gpu_free_bytes or 0), int(ram_free_bytes), budget_label)
    accelerator = budget.has_accelerator
    plans = evaluate_plans(
        model,
        width,
        height,
        steps,
        mask_fraction,
        budget,
        skip_steps=skip_steps,
        task=task,
        dtype=dtype,
        weight_quantizers=weight_quantizers,
        images=images,
        speed=speed,
    )

    job = f"{model} {width}x{height}, {steps} steps" + (f", {mask_fraction:.0%} mask" if task == KV_EDIT else "")
    if speed != EXACT:
        job += f", speed {speed}"
    have = (f"{_gb(budget.gpu_free)} GPU / " if accelerator else "no GPU, ") + f"{_gb(budget.ram_free)} RAM free"
    fitting = [i for i, p in enumerate(plans) if p.fits]
    if not fitting:
        def overshoot(p: MemoryPlan) -> int:
            return max(0, p.gpu_bytes - budget.gpu_free) * accelerator + max(0, p.ram_bytes - budget.ram_free)

        best = min(plans, key=overshoot)
        need = (f"{_gb(best.gpu_bytes)} GPU and " if accelerator else "") + f"{_gb(best.ram_bytes)} RAM"
        return replace(
            best,
            explanation=f"{job}: no plan fits ({have}); the smallest ({best.describe()}) needs {need}. "
            f"Use a smaller image or fewer steps, or free memory.",
        )

    def explained(p: MemoryPlan, first_index: int) -> str:
        need = (f"{_gb(p.gpu_bytes)} GPU, " if accelerator else "") + f"{_gb(p.ram_bytes)} RAM"
        line = f"{job}: {p.describe()} — needs {need} ({have})"
        if first_index > 0:
            fastest = plans[0]
            short = "GPU" if accelerator and fastest.gpu_bytes > budget.gpu_free else "RAM"
            amount = fastest.gpu_bytes if short == "GPU" else fastest.ram_bytes
            line += f"; faster plans do not fit (the fastest needs {_gb(amount)} {short})"
        return line

    # Chain the fallbacks from the cheapest end: each fallback needs strictly less GPU (or RAM).
    chosen = fitting[0]
    chain: list[int] = [chosen]
    for i in fitting[1:]:
        last = plans[chain[-1]]
        if (accelerator and plans[i].gpu_bytes < last.gpu_bytes) or (not accelerator and plans[i].ram_bytes < last.ram_bytes):
            chain.append(i)
    fallback: MemoryPlan | None = None
    for i in reversed(chain):
        fallback = replace(plans[i], explanation=explained(plans[i], i), fallback=fallback)
    return fallback  # the chosen plan: the chain starts with it


def plan_for_profile(model: str, width: int, height: int, steps: int, mask_fraction: float, profile: str, **kw) -> MemoryPlan:
    try:
        budget = PROFILES[profile]
    except KeyError:
        raise ValueError(f"unknown profile '{profile}'; known: {', '.join(PROFILES)}") from None
    return plan_memory(
        model, width, height, steps, mask_fraction, budget.gpu_free, budget.ram_free, budget_label=budget.label, **kw
    )


def plan_for_this_machine(model: str, width: int, height: int, steps: int, mask_fraction: float, **kw) -> MemoryPlan:
    budget = detect_budget()
    return plan_memory(
        model, width, height, steps, mask_fraction, budget.gpu_free, budget.ram_free, budget_label=budget.label, **kw
    )
