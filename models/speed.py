"""Speed settings (exact / fast / fastest): reuse work across denoising steps, compile on CUDA.

A setting is data: per model family, which of diffusers' step-cache hooks to use and with which
parameters. The hooks skip work on steps where the transformer's output is predictable:

    first-block  runs the first block; when its residual moved less than `threshold` (relative
                 mean absolute change) since the last full step, the other blocks are skipped and
                 their cached residual is added instead.
    taylorseer   full steps every `interval` steps; in between, outputs are predicted by a Taylor
                 expansion over the step index (order `order`): the model's output with every
                 block skipped ("whole model"), or each attention module's output only.
    magcache     skips steps while the accumulated error of the model's residual-magnitude ratios
                 stays under `threshold` (the ratios are calibrated per model: diffusers ships
                 FLUX.1's, so it is offered for FLUX.1 only).

The table below was chosen by measurement (`benchmarks/speed_bench.py`, results in
`benchmarks/results/speed_cpu.md`): time ratio and deviation from the exact result on mid-size
random-weight transformers of each family. Random weights do not drift like trained ones, so the
choice is provisional until `benchmarks/gpu_suite.sh` runs on real weights.

"exact" is the plain model, bit for bit. On CUDA "fast" and "fastest" also compile the transformer's repeated blocks with
`torch.compile` (regional compilation: one block compiled, reused by every block of its kind);
the compiled code is kept on the blocks and in torch's on-disk cache, so later runs and restarts
reuse it. It is switched off again after each run, because KV-Edit swaps attention processors and
token counts per pass, which would recompile every time. On the CPU compilation is skipped: it
needs a C++ toolchain at run time and costs tens of seconds per shape, more than it saves there.

KV-Edit: the step caches do not apply to the KV-Edit loops. They skip whole blocks (first-block,
magcache) or attention modules (taylorseer), so an inversion step would record no keys/values for
the skipped layers and an edit step would read none. `plan_speed(..., task="kv-edit")` says so;
KV-Edit's own speed comes from its elastic cache refresh.

    plan = plan_speed("fast", "flux", task="text2img", steps=28, device="cuda")
    with speed_applied(pipe.transformer, plan):
        pipe(...)
    report["speed"] = plan.report()
"""

from __future__ import annotations

import os
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Iterator, Literal

import torch

from models.vocabulary import EXACT, FAST, FASTEST, KV_EDIT, SPEED_SETTINGS

CacheKind = Literal["first-block", "taylorseer", "magcache"]

# The hook names diffusers registers per kind (diffusers is pinned below 0.43; a test pins them).
_HOOK_NAMES: MappingProxyType[str, tuple[str, ...]] = MappingProxyType({
    "first-block": ("fbc_leader_block_hook", "fbc_block_hook"),
    "taylorseer": ("taylorseer_cache",),
    "magcache": ("mag_cache_leader_block_hook", "mag_cache_block_hook"),
})
_ALL_HOOK_NAMES = tuple(name for names in _HOOK_NAMES.values() for name in names)


# TaylorSeer over the whole model: every block is skipped on predicted steps and the model's output
# layer is predicted instead (diffusers' "lite" mode, written out for families its patterns miss).
# Attention-only: each attention module's output is predicted; the rest still runs.
_TAYLORSEER_WHOLE = MappingProxyType({
    "flux": ((r"^(transformer_blocks|single_transformer_blocks)\.\d+$",), (r"^proj_out$",)),
    "flux2": ((r"^(transformer_blocks|single_transformer_blocks)\.\d+$",), (r"^proj_out$",)),
    "z-image": ((r"^layers\.\d+$",), (r"^all_final_layer\.[^.]+$",)),
})
_TAYLORSEER_ATTENTION = MappingProxyType({
    "flux": (r"^(transformer_blocks|single_transformer_blocks)\.\d+\.attn$",),
    "flux2": (r"^(transformer_blocks|single_transformer_blocks)\.\d+\.attn$",),
    "z-image": (r"^layers\.\d+\.attention$",),
})


@dataclass(frozen=True)
class StepCache:
    """One diffusers step-cache hook with its parameters.

    min_steps: below this many denoising steps the hook is not used (a 4-step distilled model has
    no predictable steps to skip; the hook's warm-up alone would be most of the run)."""

    kind: CacheKind
    threshold: float = 0.0  # first-block, magcache
    interval: int = 0  # taylorseer: a full step every `interval` steps
    order: int = 1  # taylorseer
    whole_model: bool = True  # taylorseer: predict the output and skip every block (else attention only)
    warmup: int = 0  # full steps first (taylorseer; magcache: its retention share is warmup / steps)
    max_skip: int = 0  # magcache: most consecutive skipped steps
    min_steps: int = 8

    def label(self) -> str:
        if self.kind == "first-block":
            return f"first-block cache (threshold {self.threshold:g})"
        if self.kind == "taylorseer":
            what = "whole model" if self.whole_model else "attention"
            return f"TaylorSeer {what} (full step every {self.interval}, order {self.order}, {self.warmup} warm-up)"
        return f"MagCache (threshold {self.threshold:g}, at most {self.max_skip} skipped in a row, {self.warmup} warm-up)"

    def diffusers_config(self, family: str, steps: int):
        """The diffusers config object for a run of `steps` denoising steps on `family`."""
        from diffusers.hooks import FirstBlockCacheConfig, MagCacheConfig, TaylorSeerCacheConfig

        if self.kind == "first-block":
            return FirstBlockCacheConfig(threshold=self.threshold)
        if self.kind == "taylorseer":
            if self.whole_model:
                skip, predict = _TAYLORSEER_WHOLE[family]
            else:
                skip, predict = (), _TAYLORSEER_ATTENTION[family]
            return TaylorSeerCacheConfig(
                cache_interval=self.interval,
                disable_cache_before_step=self.warmup,
                max_order=self.order,
                taylor_factors_dtype=torch.float32,  # differences of bf16 features lose most of their bits
                skip_predict_identifiers=list(skip) or None,
                cache_identifiers=list(predict),
            )
        from diffusers.hooks.mag_cache import FLUX_MAG_RATIOS

        return MagCacheConfig(
            threshold=self.threshold,
            max_skip_steps=self.max_skip,
            retention_ratio=self.warmup / max(1, steps),
            num_inference_steps=steps,
            mag_ratios=FLUX_MAG_RATIOS,
        )


# family -> setting -> step cache ("exact" is never listed: it is no cache). A setting missing for a
# family runs exactly and says so. Chosen by `benchmarks/speed_bench.py` (results/speed_cpu.md): the
# fastest candidate whose final latent deviates from exact by at most 1e-2 (fast) / 3e-2 (fastest),
# relative RMS, on mid-size random weights at the family's usual step count:
#   flux     whole-model TaylorSeer every 5 (0.29 of the block matmuls, 9.9e-3) / every 6 (0.25, 1.9e-2);
#            first-block cache 0.05 reached 0.61 at the same deviation, MagCache 0.06 0.54 at 1.3e-2.
#   flux2    every 6 (0.25, 8.5e-3) / every 8 (0.21, 1.4e-2); diffusers' first-block cache fails on its
#            blocks (head and tail return different types) and MagCache has no FLUX.2 ratios.
#   z-image  8-step Turbo: nothing stays under 1e-2; attention-only TaylorSeer every 2 (0.86, 2.1e-2)
#            for fastest. Its blocks take `x`, not `hidden_states`: first-block and MagCache fail.
SPEED_TABLE: MappingProxyType[str, MappingProxyType[str, StepCache]] = MappingProxyType({
    "flux": MappingProxyType({
        FAST: StepCache("taylorseer", interval=5, order=2, warmup=3, min_steps=12),
        FASTEST: StepCache("taylorseer", interval=6, order=2, warmup=3, min_steps=12),
    }),
    "flux2": MappingProxyType({
        FAST: StepCache("taylorseer", interval=6, order=2, warmup=3, min_steps=12),
        FASTEST: StepCache("taylorseer", interval=8, order=2, warmup=3, min_steps=12),
    }),
    "z-image": MappingProxyType({
        FASTEST: StepCache("taylorseer", interval=2, order=1, warmup=2, whole_model=False, min_steps=8),
    }),
})


@dataclass(frozen=True)
class ElasticRefresh:
    """What a speed setting means for KV-Edit (editor/kv_edit/elastic.py). The two drift tests
    differ (inversion-free: how far the foreground's read of the cache moved; keyframes: how far
    replaying a keyframe moves it), so each has its threshold. `keyframe_share`: the most keyframes
    a stored cache keeps per layer, as a share of its steps (the planner counts it at that share)."""

    refresh_threshold: float  # inversion-free
    keyframe_threshold: float  # stored cache
    keyframe_share: float


# setting -> elastic refresh for KV-Edit ("exact" refreshes every step and layer). Chosen by
# `benchmarks/elastic_bench.py` (results/elastic_cpu.md: mid-size random FLUX.1, 512², 28 steps) by
# deviation bound: the largest thresholds whose edit stays within the fp8 store's accepted 3.8e-3
# relative RMS (fast) or 1e-2 (fastest); the caps are the keyframe shares measured there.
#   inversion-free 0.03: 0.50 source passes per step, 3.1e-3;  0.05: 0.33, 6.6e-3
#   keyframes      0.05: 0.50 of the bytes, 3.6e-3;            0.1:  0.33, 9.8e-3
KV_EDIT_REFRESH: MappingProxyType[str, ElasticRefresh] = MappingProxyType({
    FAST: ElasticRefresh(refresh_threshold=0.03, keyframe_threshold=0.05, keyframe_share=0.5),
    FASTEST: ElasticRefresh(refresh_threshold=0.05, keyframe_threshold=0.1, keyframe_share=0.35),
})


def kv_refresh(setting: str) -> ElasticRefresh | None:
    """The elastic refresh of a speed setting for KV-Edit; None for exact (every step, every layer)."""
    if setting not in SPEED_SETTINGS:
        raise ValueError(f"unknown speed setting '{setting}'; known: {', '.join(SPEED_SETTINGS)}")
    return KV_EDIT_REFRESH.get(setting)


@dataclass(frozen=True)
class SpeedPlan:
    """A speed setting resolved for one run: what will be applied and, for the rest, why not."""

    setting: str
    family: str
    task: str
    steps: int
    cache: StepCache | None
    compile: bool
    not_applied: tuple[str, ...] = field(default=())  # one plain sentence per thing left out

    @property
    def exact(self) -> bool:
        return self.cache is None

    def report(self) -> dict:
        return {
            "setting": self.setting,
            "step_cache": None if self.cache is None else self.cache.label(),
            "compiled": self.compile,
            "not_applied": list(self.not_applied),
        }


def plan_speed(setting: str, family: str, *, task: str, steps: int, device: torch.device | str) -> SpeedPlan:
    """What `setting` means for one run of `task` with `steps` denoising steps on `device`."""
    if setting not in SPEED_SETTINGS:
        raise ValueError(f"unknown speed setting '{setting}'; known: {', '.join(SPEED_SETTINGS)}")
    if setting == EXACT:
        return SpeedPlan(setting, family, task, steps, None, False)
    notes: list[str] = []
    cache = SPEED_TABLE.get(family, {}).get(setting)
    if task == KV_EDIT:
        notes.append("step caches do not apply to KV-Edit: skipped layers would record and read no keys/values")
        cache = None
    elif cache is None:
        notes.append(f"no step cache keeps the {family} family within the '{setting}' deviation bound")
    elif steps < cache.min_steps:
        notes.append(f"{steps} steps are too few to skip any (a step cache needs at least {cache.min_steps})")
        cache = None
    compile_ = torch.device(device).type == "cuda" and task != KV_EDIT
    if torch.device(device).type != "cuda":
        notes.append("torch.compile runs on CUDA only")
    elif task == KV_EDIT:
        notes.append("torch.compile is not used for KV-Edit: its passes change attention processors and token counts")
    return SpeedPlan(setting, family, task, steps, cache, compile_, tuple(notes))


# --- applying a plan ---------------------------------------------------------------------------


def _registries(module: torch.nn.Module):
    for sub in module.modules():
        registry = getattr(sub, "_diffusers_hook", None)
        if registry is not None:
            yield registry


def active_step_caches(transformer: torch.nn.Module) -> list[str]:
    """Names of the step-cache hooks installed anywhere in `transformer` (none outside a run)."""
    return sorted({name for r in _registries(transformer) for name in r.hooks if name in _ALL_HOOK_NAMES})


def _remove_step_cache(transformer: torch.nn.Module) -> None:
    from diffusers.models.cache_utils import CacheMixin

    if isinstance(transformer, CacheMixin) and transformer.is_cache_enabled:
        transformer.disable_cache()
    for registry in list(_registries(transformer)):
        for name in _ALL_HOOK_NAMES:
            registry.remove_hook(name, recurse=False)
    from diffusers.hooks import HookRegistry

    HookRegistry.check_if_exists_or_initialize(transformer).invalidate_child_registries_cache()


@contextmanager
def _step_cache(transformer: torch.nn.Module, cache: StepCache, family: str, steps: int) -> Iterator[None]:
    from diffusers.hooks import apply_first_block_cache, apply_mag_cache, apply_taylorseer_cache
    from diffusers.hooks.hooks import CacheContext, _set_cache_context
    from diffusers.models.cache_utils import CacheMixin

    if active_step_caches(transformer):
        raise RuntimeError("a step cache is already installed on this transformer")
    config = cache.diffusers_config(family, steps)
    try:
        if isinstance(transformer, CacheMixin):
            transformer.enable_cache(config)
        else:  # e.g. Z-Image: no CacheMixin, the same hooks applied directly
            apply = {"first-block": apply_first_block_cache, "taylorseer": apply_taylorseer_cache,
                     "magcache": apply_mag_cache}[cache.kind]
            apply(transformer, config)
        # Pipelines that name their passes (FluxPipeline: "cond"/"uncond") replace this context per
        # call; pipelines that do not (Z-Image) keep this one for the whole run.
        _set_cache_context(transformer, CacheContext("generate"))
        yield
    finally:
        _set_cache_context(transformer, None)
        _remove_step_cache(transformer)


def _repeated_blocks(transformer: torch.nn.Module) -> list[torch.nn.Module]:
    names = set(getattr(transformer, "_repeated_blocks", ()) or ())
    return [m for m in transformer.modules() if type(m).__name__ in names]


def _compile_cache_dir() -> None:
    """Keep inductor's compiled kernels next to the models (persistent on a Space), unless set."""
    if "TORCHINDUCTOR_CACHE_DIR" not in os.environ:
        from models.locate import models_dir

        os.environ["TORCHINDUCTOR_CACHE_DIR"] = str(models_dir() / ".torch-compile-cache")


@contextmanager
def compiled_blocks(transformer: torch.nn.Module, **compile_kwargs) -> Iterator[int]:
    """Run the transformer's repeated blocks compiled inside the block; plain again afterwards.

    The compiled callables stay on the blocks (`_intact_compiled`), so the next run reuses them
    without recompiling. Yields the number of blocks compiled (0 when the model lists none)."""
    blocks = _repeated_blocks(transformer)
    if compile_kwargs.get("backend", "inductor") == "inductor":
        _compile_cache_dir()
    try:
        for block in blocks:
            compiled = getattr(block, "_intact_compiled", None)
            if compiled is None:
                block.compile(**compile_kwargs)
                block._intact_compiled = block._compiled_call_impl
            else:
                block._compiled_call_impl = compiled
        yield len(blocks)
    finally:
        for block in blocks:
            block._compiled_call_impl = None


@contextmanager
def speed_applied(transformer: torch.nn.Module, plan: SpeedPlan, **compile_kwargs) -> Iterator[SpeedPlan]:
    """Apply `plan` to `transformer` for the duration of the block; removed again on every exit
    (errors and cancellation included), so the shared transformer is exact for the next user."""
    with ExitStack() as stack:
        if plan.compile:
            stack.enter_context(compiled_blocks(transformer, **compile_kwargs))
        if plan.cache is not None:
            stack.enter_context(_step_cache(transformer, plan.cache, plan.family, plan.steps))
        yield plan
