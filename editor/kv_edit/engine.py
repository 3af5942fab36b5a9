"""The KV-Edit loops, shared by every model family: inversion, cached-KV denoising, inversion-free.

Everything family-specific (latent packing and normalisation, position ids, prompts, schedule
shift, guidance, the model call, which attention processors to wrap) goes through the pipeline's
`FamilyAdapter` (`editor.kv_edit.families`); this module only moves latents.

Schedule and indexing. `sigmas[0] = 1` (noise) ... `sigmas[steps] = 0` (clean), the family
pipeline's own shifted schedule. Denoising step k goes from sigmas[k] to sigmas[k+1], for
k = skip_steps .. steps-1. Inversion walks the same intervals upward: inversion step k evaluates
the model at (x(sigmas[k+1]), sigmas[k+1]) and moves to sigmas[k]. Denoising step k replays the
background keys/values recorded by inversion step k, the evaluation that crossed the same interval
(as the official code pairs them), and re-blends the foreground tokens' unmasked latent pixels with
the inverted latent at its own noise level, x(sigmas[k]).

Guidance. One model evaluation is one pass, or two with true classifier-free guidance (a family
whose guidance is "cfg", at a guidance value that turns it on): the prompt's pass and the
unconditional pass, mixed by the adapter. Which background keys/values the unconditional pass
attends to is `unconditional_kv` (docs/kv_edit_families.md has the measurements):
- REUSE_CONDITIONAL (default): the conditional branch's; inversion records one branch.
- RECORD_BOTH: inversion also runs and records an unconditional pass per step (twice the
  inversion work and cache, for CFG-capable models).

All latents are kept in float32 (the model runs in its own dtype); that keeps Euler updates from
accumulating bf16 rounding over dozens of steps at no real cost.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

import torch
from torch import Tensor

from editor.kv_edit.attention import KVContext, background_key_bias, recording, replaying
from editor.kv_edit.diffusers_private import execution_device
from editor.kv_edit.elastic import ElasticPolicy, InversionFreeRefresh, KeyframeObserver, KeyframeStore, keyframed
from editor.kv_edit.families import Canvas, FamilyAdapter, Prompt, adapter_for
from editor.kv_edit.kv_cache import DeviceKVStore, KVStore
from editor.kv_edit.masks import TokenMask
from models.vocabulary import CFG

Progress = Callable[[str, int, int], None]

REUSE_CONDITIONAL = "reuse-conditional"
RECORD_BOTH = "record-both"
UNCONDITIONAL_KV = (REUSE_CONDITIONAL, RECORD_BOTH)


def text_length(pipe, model_name: str | None) -> int:
    """Text tokens the model was trained with: from the registry when the model is known (FLUX.1:
    512 for dev, 256 for schnell), otherwise what the family's pipeline allows."""
    return adapter_for(pipe, model_name or "").text_length()


@dataclass(frozen=True)
class Conditioning:
    """What one model evaluation reads: the prompt, and for true CFG the unconditional prompt.
    `unconditional` is None when no unconditional pass runs."""

    prompt: Prompt
    unconditional: Prompt | None = None

    @property
    def text(self) -> str:
        return self.prompt.text


def seeded_noise(shape, seed: int, device) -> Tensor:
    """Noise drawn on the CPU from `seed` so the same seed gives the same picture on any device."""
    generator = torch.Generator(device="cpu").manual_seed(seed)
    return torch.randn(shape, generator=generator, dtype=torch.float32).to(device)


@dataclass
class Inversion:
    """One recorded inversion: the latents along the trajectory and the background K/V per step
    (`unconditional_store`: the unconditional branch's, when recorded).

    Created for one (image, mask, source prompt, steps, guidance, model); `extend` goes deeper
    (a smaller skip_steps) by appending steps, never rewriting recorded ones. Edits only read it.
    """

    source: Conditioning
    sigmas: list[float]
    guidance: float
    attn_mask: bool
    store: KVStore
    latents: dict[int, Tensor]  # schedule index k -> x(sigmas[k]), float32 [1, tokens, C*4]
    unconditional_store: KVStore | None = None
    seconds: float = 0.0
    transformer_calls: int = 0

    @property
    def steps(self) -> int:
        return len(self.sigmas) - 1

    @property
    def top(self) -> int:
        """The noisiest schedule index reached so far (steps when nothing was inverted yet)."""
        return min(self.latents)

    @property
    def clean(self) -> Tensor:
        return self.latents[self.steps]

    @property
    def nbytes(self) -> int:
        extra = self.unconditional_store.nbytes if self.unconditional_store is not None else 0
        return self.store.nbytes + extra

    def clear(self) -> None:
        self.store.clear()
        if self.unconditional_store is not None:
            self.unconditional_store.clear()


@dataclass
class EngineRun:
    """What one call did, for the report."""

    transformer_calls: int = 0
    seconds: float = 0.0
    kv_cache_bytes: int = 0
    extra: dict = field(default_factory=dict)


class KVEditEngine:
    """Runs KV-Edit loops on one pipeline for one image geometry and mask. Holds no global state;
    the attention processors it installs are removed again before any call returns."""

    def __init__(self, pipe, canvas: Canvas, mask: TokenMask, device=None, *, family: FamilyAdapter | None = None,
                 unconditional_kv: str = REUSE_CONDITIONAL):
        if unconditional_kv not in UNCONDITIONAL_KV:
            raise ValueError(f"unconditional_kv must be one of {', '.join(UNCONDITIONAL_KV)}")
        self.pipe = pipe
        self.family = family if family is not None else adapter_for(pipe)
        self.transformer = pipe.transformer
        self.device = torch.device(device) if device is not None else execution_device(pipe)
        self.dtype = self.transformer.dtype
        self.canvas = canvas
        self.mask = mask
        self.unconditional_kv = unconditional_kv
        # The attention layers to record and replay, found once: installing processors reads this map.
        self.layers = self.family.kv_layers(self.transformer)
        self.n_layers = len(self.layers)
        # Rows of a full pass's image block: the tokens, then any padding rows (background).
        self.image_ids = self.family.image_ids(canvas, self.device)
        self.image_rows = len(self.image_ids)
        padding = torch.arange(mask.image_tokens, self.image_rows, device=self.device)
        self.fg_index = mask.foreground_index(self.device)
        self.bg_index = torch.cat([mask.background_index(self.device), padding])
        self.fg_ids = self.image_ids[self.fg_index]
        # Latent-pixel mask of the foreground tokens, [1, n_fg, C*4]: 1 where a latent pixel may change.
        self.fg_pixel_mask = self.family.pixel_mask(mask, canvas, self.device)[:, self.fg_index]
        fg_rows = torch.zeros(self.image_rows, dtype=torch.bool, device=self.device)
        fg_rows[self.fg_index] = True
        self.fg_rows = fg_rows

    # -- conditioning and model calls ------------------------------------------------------------

    def wants_unconditional(self, guidance: float, *, recording: bool = False) -> bool:
        """Whether an evaluation runs the unconditional pass: when `guidance` turns CFG on, or, while
        recording with RECORD_BOTH, whenever the family has CFG (its keys/values are kept for edits)."""
        if self.family.cfg_active(guidance):
            return True
        return recording and self.unconditional_kv == RECORD_BOTH and self.family.guidance_kind == CFG

    def velocity(self, latents: Tensor, ids: Tensor, text: Conditioning, sigma: float, guidance: float,
                 ctx: KVContext | None = None, stores: tuple[KVStore | None, KVStore | None] = (None, None)) -> Tensor:
        """The flow velocity of one evaluation (both CFG passes when `text` has the unconditional
        prompt; mixed only when `guidance` turns CFG on). `stores`: the (conditional,
        unconditional) stores the installed processors record to or read from."""
        def one_pass(prompt: Prompt, store: KVStore | None, next_step: int | None) -> Tensor:
            if ctx is not None:
                ctx.store, ctx.next_step = store, next_step
            return self.family.predict(latents, ids, prompt, sigma, guidance)

        following = ctx.next_step if ctx is not None else None
        if text.unconditional is None:
            return one_pass(text.prompt, stores[0], following)
        # The unconditional pass of the same step reads next, so an offloading store prefetches for it.
        v = one_pass(text.prompt, stores[0], ctx.step if ctx is not None else None)
        v_uncond = one_pass(text.unconditional, stores[1], following)
        return self.family.combine(v, v_uncond, guidance) if self.family.cfg_active(guidance) else v

    def _calls(self, text: Conditioning) -> int:
        return 1 if text.unconditional is None else 2

    def _context(self, store: KVStore | None) -> KVContext:
        return KVContext(store=store, background_index=self.bg_index, image_rows=self.image_rows,
                         n_layers=self.n_layers, image_first=self.family.image_first)

    def _separated(self, ctx: KVContext, attn_mask: bool) -> KVContext:
        if attn_mask and 0 < self.mask.background_tokens < self.mask.image_tokens:
            ctx.foreground = self.fg_rows
        return ctx

    def _biased(self, ctx: KVContext, attn_scale: float) -> KVContext:
        ctx.key_bias = background_key_bias(0, 0, len(self.bg_index), attn_scale, self.dtype, self.device)
        return ctx

    def _unconditional_store(self, conditional: KVStore, unconditional: KVStore | None) -> KVStore:
        """Where the unconditional pass reads its background keys/values."""
        return unconditional if self.unconditional_kv == RECORD_BOTH and unconditional is not None else conditional

    # -- inversion ----------------------------------------------------------------------------

    def new_inversion(self, clean: Tensor, source: Conditioning, sigmas: list[float], guidance: float, attn_mask: bool,
                      store: KVStore, unconditional_store: KVStore | None = None,
                      policy: ElasticPolicy | None = None) -> Inversion:
        """An empty inversion. `unconditional_store` is used when `source` has an unconditional
        pass and the engine records both branches. With an elastic `policy` the stores keep
        keyframes only (editor.kv_edit.elastic)."""
        if self.unconditional_kv != RECORD_BOTH or source.unconditional is None:
            unconditional_store = None
        policy = policy or ElasticPolicy()
        return Inversion(source, sigmas, guidance, attn_mask, keyframed(store, policy), {len(sigmas) - 1: clean},
                         unconditional_store=keyframed(unconditional_store, policy))

    def extend(self, inversion: Inversion, to_index: int, progress: Progress | None = None) -> EngineRun:
        """Invert from the current top down to schedule index `to_index`, recording as it goes."""
        run = EngineRun()
        todo = list(range(inversion.top - 1, to_index - 1, -1))
        if not todo:
            return run
        start = time.perf_counter()
        ctx = self._separated(self._context(inversion.store), inversion.attn_mask)
        if isinstance(inversion.store, KeyframeStore):
            ctx.record_observer = KeyframeObserver(inversion.store.policy, self.fg_index)
            for store in (inversion.store, inversion.unconditional_store):
                if store is not None:
                    store.plan(inversion.steps - to_index)
        stores = (inversion.store, inversion.unconditional_store)  # None: the pass records nothing
        sigmas = inversion.sigmas
        x = inversion.latents[inversion.top]
        with recording(self.layers, ctx):
            for done, k in enumerate(todo, start=1):
                ctx.step = k
                v = self.velocity(x, self.image_ids, inversion.source, sigmas[k + 1], inversion.guidance, ctx, stores)
                x = x + (sigmas[k] - sigmas[k + 1]) * v
                inversion.latents[k] = x
                run.transformer_calls += self._calls(inversion.source)
                if progress is not None:
                    progress("invert", done, len(todo))
        run.seconds = time.perf_counter() - start
        inversion.seconds += run.seconds
        inversion.transformer_calls += run.transformer_calls
        run.kv_cache_bytes = inversion.nbytes
        return run

    # -- editing with the recorded cache ------------------------------------------------------

    def denoise(self, inversion: Inversion, target: Conditioning, opts, progress: Progress | None = None) -> tuple[Tensor, EngineRun]:
        """Edit the foreground; returns the full clean packed latent (background = source latent)."""
        run = EngineRun()
        start = time.perf_counter()
        sigmas, skip, steps = inversion.sigmas, opts.skip_steps, inversion.steps
        fg, m = self.fg_index, self.fg_pixel_mask
        if opts.re_init:
            noise = seeded_noise(inversion.clean.shape, opts.seed, self.device)
            x = (inversion.clean * (1 - sigmas[skip]) + noise * sigmas[skip])[:, fg]
        else:
            x = inversion.latents[skip][:, fg]
        ctx = self._biased(self._context(inversion.store), opts.attn_scale)
        stores = (inversion.store, self._unconditional_store(inversion.store, inversion.unconditional_store))
        inversion.store.prefetch(skip, 0)
        with replaying(self.layers, ctx):
            for k in range(skip, steps):
                ctx.step, ctx.next_step = k, (k + 1 if k + 1 < steps else None)
                # Unmasked latent pixels inside foreground tokens follow the source at this noise level.
                x = inversion.latents[k][:, fg] * (1 - m) + x * m
                v = self.velocity(x, self.fg_ids, target, sigmas[k], opts.guidance, ctx, stores)
                x = x + (sigmas[k + 1] - sigmas[k]) * v
                run.transformer_calls += self._calls(target)
                if progress is not None:
                    progress("edit", k - skip + 1, steps - skip)
        out = inversion.clean.clone()
        out[:, fg] = out[:, fg] * (1 - m) + x * m
        run.seconds = time.perf_counter() - start
        run.kv_cache_bytes = inversion.nbytes
        return out, run

    # -- inversion-free (FlowEdit-style) ------------------------------------------------------

    def _one_step_cache(self, source: Conditioning) -> tuple[KVStore, KVStore | None]:
        """The stores the source passes record one step into: the conditional branch's, and the
        unconditional branch's when both are recorded."""
        both = self.unconditional_kv == RECORD_BOTH and source.unconditional is not None
        return DeviceKVStore(self.device, self.dtype), (DeviceKVStore(self.device, self.dtype) if both else None)

    def edit_without_inversion(self, clean: Tensor, source: Conditioning, target: Conditioning, sigmas: list[float], opts,
                               progress: Progress | None = None, policy: ElasticPolicy | None = None,
                               ) -> tuple[Tensor, EngineRun]:
        """Per step: one full source pass on the noised source (recording a one-step cache) and one
        foreground-only target pass; the foreground moves by the difference of the two velocities.
        Memory for the cache is one step, whatever the number of steps. With an elastic `policy`
        (default: the one `opts.speed` stands for) source passes run only where the drift test
        asks (editor.kv_edit.elastic)."""
        policy = policy if policy is not None else ElasticPolicy.for_speed(opts.speed, stored=False)
        run, start = EngineRun(), time.perf_counter()
        skip, steps = opts.skip_steps, len(sigmas) - 1
        fg, m = self.fg_index, self.fg_pixel_mask
        noise = seeded_noise(clean.shape, opts.seed, self.device)
        store, unconditional_store = self._one_step_cache(source)
        source_ctx = self._separated(self._context(store), opts.attn_mask)
        refresh = InversionFreeRefresh(self, source, source_ctx, (store, unconditional_store), policy,
                                       opts.inversion_guidance)
        target_ctx = refresh.watched(self._biased(self._context(store), opts.attn_scale))
        target_stores = (store, self._unconditional_store(store, unconditional_store))
        clean_fg = clean[:, fg]
        z_fg = clean_fg.clone()
        for k in range(skip, steps):
            sigma = sigmas[k]
            z_source = (1 - sigma) * clean + sigma * noise
            z_target = z_source[:, fg] - clean_fg + z_fg
            v_source_fg = refresh.source_velocity(k, sigma, z_source)  # a source pass, part of one, or extrapolated
            target_ctx.step = refresh.key(k)
            with replaying(self.layers, target_ctx), refresh.target_pass(sigma):
                v_target = self.velocity(z_target, self.fg_ids, target, sigma, opts.guidance, target_ctx, target_stores)
            z_fg = z_fg + (sigmas[k + 1] - sigma) * (v_target - v_source_fg) * m
            run.transformer_calls += self._calls(target)
            refresh.decide(sigmas[k + 1])
            if progress is not None:
                progress("edit", k - skip + 1, steps - skip)
        run.transformer_calls += refresh.transformer_calls
        run.kv_cache_bytes = refresh.peak_bytes
        report = refresh.close()
        if report is not None:
            run.extra["elastic"] = report
        out = clean.clone()
        out[:, fg] = z_fg
        run.seconds = time.perf_counter() - start
        return out, run
