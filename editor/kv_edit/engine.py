"""The KV-Edit loops on a diffusers FluxPipeline: inversion, cached-KV denoising, inversion-free.

Schedule and indexing. `sigmas[0] = 1` (noise) ... `sigmas[steps] = 0` (clean), the same shifted
schedule FluxPipeline uses. Denoising step k goes from sigmas[k] to sigmas[k+1], for
k = skip_steps .. steps-1. Inversion walks the same intervals upward: inversion step k evaluates
the model at (x(sigmas[k+1]), sigmas[k+1]) and moves to sigmas[k]. Denoising step k replays the
background keys/values recorded by inversion step k, the evaluation that crossed the same interval
(as the official code pairs them), and re-blends the foreground tokens' unmasked latent pixels with
the inverted latent at its own noise level, x(sigmas[k]).

All latents are kept in float32 (the model runs in its own dtype); that keeps Euler updates from
accumulating bf16 rounding over dozens of steps at no real cost.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch
from diffusers import FlowMatchEulerDiscreteScheduler
from diffusers.pipelines.flux.pipeline_flux import FluxPipeline, calculate_shift, retrieve_timesteps
from torch import Tensor

from editor.kv_edit.attention import KVContext, background_key_bias, count_layers, recording, replaying, separation_mask
from editor.kv_edit.kv_cache import DeviceKVStore, KVStore
from editor.kv_edit.masks import TokenMask
from models.memory.prompt_cache import encode_flux_prompt
from models.registry import MODELS

Progress = Callable[[str, int, int], None]

# The T5 encoder FLUX uses was trained with at most 512 tokens; FluxPipeline refuses more.
T5_LIMIT = 512


def text_length(pipe, model_name: str | None) -> int:
    """T5 tokens the model was trained with: from the model registry when the model is known
    (512 for dev, 256 for schnell), otherwise from the pipeline's own tokenizer."""
    spec = MODELS.get(model_name or "")
    if spec is not None and spec.family == "flux":
        return spec.max_sequence_length
    tokenizer_limit = getattr(getattr(pipe, "tokenizer_2", None), "model_max_length", T5_LIMIT)
    return int(min(tokenizer_limit, T5_LIMIT))


@dataclass(frozen=True)
class Prompt:
    """A prompt encoded for the transformer."""

    text: str
    embeds: Tensor  # [1, text_len, joint_attention_dim]
    pooled: Tensor  # [1, pooled_projection_dim]
    text_ids: Tensor  # [text_len, 3]

    @property
    def length(self) -> int:
        return int(self.embeds.shape[1])


def execution_device(pipe) -> torch.device:
    return torch.device(pipe._execution_device)


def encode_prompt(pipe, text: str, max_sequence_length: int, device, dtype, *, cache=None, model_name: str = "",
                  encode_device=None) -> Prompt:
    """Encode `text` for the transformer. The text encoders visit `encode_device` (default: `device`)
    only for this call; with a `PromptEmbeddingCache` a prompt seen before runs no encoder at all."""
    embeds, pooled, text_ids = encode_flux_prompt(
        pipe, text, max_sequence_length, device, cache=cache, model_name=model_name, encode_device=encode_device
    )
    return Prompt(text, embeds.to(dtype=dtype), pooled.to(dtype=dtype), text_ids)


def flux_sigmas(scheduler_config, steps: int, image_tokens: int, device) -> list[float]:
    """The sigma schedule FluxPipeline would use for this many steps and image tokens (shifted by
    image size when the scheduler shifts dynamically), with the final 0. Uses a private scheduler
    so the pipeline's own scheduler is never touched (other users may be running it)."""
    scheduler = FlowMatchEulerDiscreteScheduler.from_config(scheduler_config)
    sigmas = np.linspace(1.0, 1 / steps, steps)
    if getattr(scheduler.config, "use_flow_sigmas", False):
        sigmas = None
    mu = calculate_shift(
        image_tokens,
        scheduler.config.get("base_image_seq_len", 256),
        scheduler.config.get("max_image_seq_len", 4096),
        scheduler.config.get("base_shift", 0.5),
        scheduler.config.get("max_shift", 1.15),
    )
    retrieve_timesteps(scheduler, steps, device, sigmas=sigmas, mu=mu)
    return [float(s) for s in scheduler.sigmas.cpu().tolist()]


@dataclass(frozen=True)
class Canvas:
    """Geometry of one working-size image on FLUX's grids."""

    width: int  # working size (multiple of 2 × vae scale factor)
    height: int
    latent_h: int
    latent_w: int
    channels: int  # VAE latent channels (16 for FLUX.1, 4 for the tiny model)

    @property
    def tokens(self) -> int:
        return (self.latent_h // 2) * (self.latent_w // 2)

    def image_ids(self, device) -> Tensor:
        # float32 on purpose: RoPE reads them as floats, and bf16 loses integers above 256.
        return FluxPipeline._prepare_latent_image_ids(1, self.latent_h // 2, self.latent_w // 2, device, torch.float32)


def canvas_for(pipe, width: int, height: int) -> Canvas:
    scale = pipe.vae_scale_factor
    if width % (2 * scale) or height % (2 * scale):
        raise ValueError(f"working size {width}×{height} must be a multiple of {2 * scale}")
    channels = pipe.transformer.config.in_channels // 4
    return Canvas(width, height, height // scale, width // scale, channels)


def encode_image(pipe, rgb: np.ndarray, canvas: Canvas, device) -> Tensor:
    """RGB uint8 at working size -> packed clean latent, float32 [1, tokens, channels * 4].
    The distribution's mode, not a sample: the same image always gives the same latent."""
    vae = pipe.vae
    x = torch.from_numpy(np.array(rgb, dtype=np.uint8)).permute(2, 0, 1)[None].to(device=device, dtype=vae.dtype)
    x = x / 127.5 - 1.0
    with torch.no_grad():
        latent = vae.encode(x).latent_dist.mode()
    latent = (latent.float() - vae.config.shift_factor) * vae.config.scaling_factor
    return FluxPipeline._pack_latents(latent, 1, canvas.channels, canvas.latent_h, canvas.latent_w)


def decode_latents(pipe, packed: Tensor, canvas: Canvas) -> np.ndarray:
    """Packed latent -> RGB uint8 at working size."""
    vae = pipe.vae
    latent = FluxPipeline._unpack_latents(packed, canvas.height, canvas.width, pipe.vae_scale_factor)
    latent = latent / vae.config.scaling_factor + vae.config.shift_factor
    with torch.no_grad():
        image = vae.decode(latent.to(dtype=vae.dtype), return_dict=False)[0]
    image = ((image.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return image[0].permute(1, 2, 0).cpu().numpy()


def seeded_noise(shape, seed: int, device) -> Tensor:
    """Noise drawn on the CPU from `seed` so the same seed gives the same picture on any device."""
    generator = torch.Generator(device="cpu").manual_seed(seed)
    return torch.randn(shape, generator=generator, dtype=torch.float32).to(device)


@dataclass
class Inversion:
    """One recorded inversion: the latents along the trajectory and the background K/V per step.

    Created for one (image, mask, source prompt, steps, guidance, model); `extend` goes deeper
    (a smaller skip_steps) by appending steps, never rewriting recorded ones. Edits only read it.
    """

    source: Prompt
    sigmas: list[float]
    guidance: float
    attn_mask: bool
    store: KVStore
    latents: dict[int, Tensor]  # schedule index k -> x(sigmas[k]), float32 [1, tokens, C*4]
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

    def __init__(self, pipe, canvas: Canvas, mask: TokenMask, device=None):
        self.pipe = pipe
        self.transformer = pipe.transformer
        self.device = torch.device(device) if device is not None else execution_device(pipe)
        self.dtype = self.transformer.dtype
        self.canvas = canvas
        self.mask = mask
        self.n_layers = count_layers(self.transformer)
        self.image_ids = canvas.image_ids(self.device)
        self.fg_index = mask.foreground_index(self.device)
        self.bg_index = mask.background_index(self.device)
        self.fg_ids = self.image_ids[self.fg_index]
        # Latent-pixel mask of the foreground tokens, [1, n_fg, C*4]: 1 where a latent pixel may change.
        self.fg_pixel_mask = mask.packed(canvas.channels, self.device)[:, self.fg_index]
        self.fg_bool = torch.from_numpy(mask.tokens).to(self.device)

    # -- model calls ---------------------------------------------------------------------------

    def _guidance(self, value: float) -> Tensor | None:
        if not self.transformer.config.guidance_embeds:
            return None  # e.g. FLUX.1-schnell: guidance is not a model input
        return torch.full((1,), float(value), device=self.device, dtype=torch.float32)

    def velocity(self, latents: Tensor, ids: Tensor, prompt: Prompt, sigma: float, guidance: float) -> Tensor:
        with torch.no_grad():
            out = self.transformer(
                hidden_states=latents.to(self.dtype),
                encoder_hidden_states=prompt.embeds,
                pooled_projections=prompt.pooled,
                timestep=torch.full((1,), sigma, device=self.device, dtype=self.dtype),
                img_ids=ids,
                txt_ids=prompt.text_ids,
                guidance=self._guidance(guidance),
                return_dict=False,
            )[0]
        return out.float()

    def _context(self, store: KVStore, prompt_len: int) -> KVContext:
        return KVContext(store=store, text_len=prompt_len, background_index=self.bg_index, n_layers=self.n_layers)

    # -- inversion ----------------------------------------------------------------------------

    def new_inversion(self, clean: Tensor, source: Prompt, sigmas: list[float], guidance: float, attn_mask: bool, store: KVStore) -> Inversion:
        return Inversion(source, sigmas, guidance, attn_mask, store, {len(sigmas) - 1: clean})

    def extend(self, inversion: Inversion, to_index: int, progress: Progress | None = None) -> EngineRun:
        """Invert from the current top down to schedule index `to_index`, recording as it goes."""
        run = EngineRun()
        todo = list(range(inversion.top - 1, to_index - 1, -1))
        if not todo:
            return run
        start = time.perf_counter()
        ctx = self._context(inversion.store, inversion.source.length)
        if inversion.attn_mask and 0 < self.mask.background_tokens < self.mask.image_tokens:
            ctx.attention_mask = separation_mask(inversion.source.length, self.fg_bool)
        sigmas = inversion.sigmas
        x = inversion.latents[inversion.top]
        with recording(self.transformer, ctx):
            for done, k in enumerate(todo, start=1):
                ctx.step = k
                v = self.velocity(x, self.image_ids, inversion.source, sigmas[k + 1], inversion.guidance)
                x = x + (sigmas[k] - sigmas[k + 1]) * v
                inversion.latents[k] = x
                run.transformer_calls += 1
                if progress is not None:
                    progress("invert", done, len(todo))
        run.seconds = time.perf_counter() - start
        inversion.seconds += run.seconds
        inversion.transformer_calls += run.transformer_calls
        run.kv_cache_bytes = inversion.store.nbytes
        return run

    # -- editing with the recorded cache ------------------------------------------------------

    def denoise(self, inversion: Inversion, target: Prompt, opts, progress: Progress | None = None) -> tuple[Tensor, EngineRun]:
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
        ctx = self._context(inversion.store, target.length)
        ctx.key_bias = background_key_bias(
            target.length, len(fg), self.mask.background_tokens, opts.attn_scale, self.dtype, self.device
        )
        inversion.store.prefetch(skip, 0)
        with replaying(self.transformer, ctx):
            for k in range(skip, steps):
                ctx.step, ctx.next_step = k, (k + 1 if k + 1 < steps else None)
                # Unmasked latent pixels inside foreground tokens follow the source at this noise level.
                x = inversion.latents[k][:, fg] * (1 - m) + x * m
                v = self.velocity(x, self.fg_ids, target, sigmas[k], opts.guidance)
                x = x + (sigmas[k + 1] - sigmas[k]) * v
                run.transformer_calls += 1
                if progress is not None:
                    progress("edit", k - skip + 1, steps - skip)
        out = inversion.clean.clone()
        out[:, fg] = out[:, fg] * (1 - m) + x * m
        run.seconds = time.perf_counter() - start
        run.kv_cache_bytes = inversion.store.nbytes
        return out, run

    # -- inversion-free (FlowEdit-style) ------------------------------------------------------

    def edit_without_inversion(self, clean: Tensor, source: Prompt, target: Prompt, sigmas: list[float], opts, progress: Progress | None = None) -> tuple[Tensor, EngineRun]:
        """Per step: one full source pass on the noised source (recording a one-step cache) and one
        foreground-only target pass; the foreground moves by the difference of the two velocities.
        Memory for the cache is one step, whatever the number of steps."""
        run = EngineRun()
        start = time.perf_counter()
        skip, steps = opts.skip_steps, len(sigmas) - 1
        fg, m = self.fg_index, self.fg_pixel_mask
        noise = seeded_noise(clean.shape, opts.seed, self.device)
        store = DeviceKVStore(self.device, self.dtype)
        source_ctx = self._context(store, source.length)
        if opts.attn_mask and 0 < self.mask.background_tokens < self.mask.image_tokens:
            source_ctx.attention_mask = separation_mask(source.length, self.fg_bool)
        target_ctx = self._context(store, target.length)
        target_ctx.key_bias = background_key_bias(
            target.length, len(fg), self.mask.background_tokens, opts.attn_scale, self.dtype, self.device
        )
        clean_fg = clean[:, fg]
        z_fg = clean_fg.clone()
        peak_bytes = 0
        for k in range(skip, steps):
            sigma = sigmas[k]
            z_source = (1 - sigma) * clean + sigma * noise
            z_target = z_source[:, fg] - clean_fg + z_fg
            store.clear()
            source_ctx.step = target_ctx.step = k
            with recording(self.transformer, source_ctx):
                v_source = self.velocity(z_source, self.image_ids, source, sigma, opts.inversion_guidance)
            peak_bytes = max(peak_bytes, store.nbytes)
            with replaying(self.transformer, target_ctx):
                v_target = self.velocity(z_target, self.fg_ids, target, sigma, opts.guidance)
            z_fg = z_fg + (sigmas[k + 1] - sigma) * (v_target - v_source[:, fg]) * m
            run.transformer_calls += 2
            if progress is not None:
                progress("edit", k - skip + 1, steps - skip)
        store.clear()
        out = clean.clone()
        out[:, fg] = z_fg
        run.seconds = time.perf_counter() - start
        run.kv_cache_bytes = peak_bytes
        return out, run
