"""An edit session: one image and one mask, inverted once, edited with many target prompts.

The session owns all of its state (no globals), so each user gets their own. Its inversion is
kept per (image, mask, source prompt, steps, inversion guidance, attention mask, KV store, model);
an edit only reads it, so the tenth edit starts from exactly what the first one did.
"""

from __future__ import annotations

import contextlib
import hashlib
import resource
import threading
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from PIL import Image

from editor.digests import array_digest
from editor.errors import InputError
from editor.images import as_mask, load_image
from editor.kv_edit.diffusers_private import execution_device
from editor.kv_edit.elastic import ElasticPolicy, KeyframeStore
from editor.kv_edit.engine import (
    Conditioning,
    Inversion,
    KVEditEngine,
    Progress,
)
from editor.kv_edit.families import Canvas, FamilyAdapter, Prompt, adapter_for
from editor.kv_edit.kv_cache import INVERSION_FREE_MODE, make_kv_store
from editor.kv_edit.masks import blend_weights, paste_back, token_mask, working_size
from editor.kv_edit.options import EditOptions
from models.memory.prompt_cache import PromptEmbeddingCache
from models.prompt_length import prompt_token_count, truncation_note


@dataclass(frozen=True)
class EditResult:
    image: Image.Image  # RGB, the input's size; pixels outside the mask are the input's, bit for bit
    report: dict[str, Any]
    decoded: Image.Image | None = None  # the whole decoded picture before paste-back (inspection)


def _adapter_state(module) -> str:
    """A fingerprint of the LoRA (PEFT) adapters in `module`: which are active, their scales, and
    which are merged into the weights. Empty without adapters."""
    parts = []
    for name, layer in module.named_modules():
        scaling = getattr(layer, "scaling", None)
        if isinstance(scaling, dict) and hasattr(layer, "active_adapters"):
            parts.append((name, tuple(layer.active_adapters), tuple(sorted(scaling.items())),
                          tuple(getattr(layer, "merged_adapters", ())), bool(getattr(layer, "disable_adapters", False))))
    return hashlib.sha256(repr(parts).encode()).hexdigest() if parts else ""


class _PeakMemory:
    """Peak memory over a call: CUDA allocator peak on a GPU, else the process's RSS peak."""

    def __init__(self, device: torch.device):
        self.cuda = device.type == "cuda"
        self.device = device
        if self.cuda:
            torch.cuda.reset_peak_memory_stats(device)

    def read(self) -> tuple[int, str]:
        if self.cuda:
            return int(torch.cuda.max_memory_allocated(self.device)), "torch.cuda.max_memory_allocated"
        # ru_maxrss is in KiB on Linux and cannot be reset: it is the peak since the process started.
        return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024, "process RSS peak (CPU, since process start)"


class EditSession:
    """KV-Edit for one image and mask on one pipeline of any family KV-Edit supports
    (`editor.kv_edit.families`: FLUX.1, FLUX.2 [klein], Z-Image).

    pipe: the family's text-to-image pipeline (any checkpoint of the family, LoRA included).
    image: path, bytes, PIL image or array, any size. mask: float32 H×W in [0, 1] (1 = regenerate),
    or anything `editor.images.load_mask` reads. lock: optional lock held while the shared pipeline
    runs (e.g. the model manager's), because attention processors are swapped during a run.
    prompt_cache: a `models.memory.PromptEmbeddingCache` to share encoded prompts with other
    sessions on the same model (the model manager owns one per loaded family); by default the
    session keeps its own. text_encoder_device: where prompts are encoded (the memory plan may
    keep the text encoders on the CPU); by default the compute device. The encoders visit it only
    while encoding, so they do not hold accelerator memory during the edit.
    """

    def __init__(self, pipe, image, mask, model_name: str = "tiny", *, lock=None, prompt_cache=None,
                 text_encoder_device=None):
        loaded = load_image(image)
        self.pipe = pipe
        self.model_name = model_name
        self.width, self.height = loaded.size
        self._rgb = loaded.rgb
        self._mask, mask_notes = as_mask(mask, loaded.size)
        self.notes = tuple(loaded.notes) + tuple(mask_notes)
        if loaded.alpha is not None:
            self.notes += ("the image's transparency is not used: editing works on its colours",)
        self.family: FamilyAdapter = adapter_for(pipe, model_name)
        work_w, work_h = working_size(self.width, self.height, 2 * pipe.vae_scale_factor)
        self.canvas: Canvas = self.family.canvas(work_w, work_h)
        self.token_mask = token_mask(self._mask, self.canvas.latent_h, self.canvas.latent_w)
        self._image_key = array_digest(self._rgb)
        self._mask_key = array_digest(self._mask)
        self._pipe_lock = lock if lock is not None else contextlib.nullcontext()
        self.prompt_cache = prompt_cache if prompt_cache is not None else PromptEmbeddingCache()
        self.text_encoder_device = text_encoder_device
        self._lock = threading.RLock()
        self._engine: KVEditEngine | None = None
        self._clean: tuple[tuple, torch.Tensor] | None = None  # (model key, packed source latent)
        self._inversion: tuple[tuple, Inversion] | None = None  # at most one: they are large
        self._last_source: str | None = None

    # -- public API ---------------------------------------------------------------------------

    @property
    def mask_is_empty(self) -> bool:
        return self.token_mask.foreground_tokens == 0

    @property
    def inversion(self) -> Inversion | None:
        """The recorded inversion (read it, don't change it)."""
        return self._inversion[1] if self._inversion else None

    def invert(self, source_prompt: str, opts: EditOptions, progress: Progress | None = None) -> dict[str, Any]:
        """Invert the image under `source_prompt` (or reuse the inversion already made for it)."""
        source_prompt = self._check_prompt(source_prompt, "source")
        with self._lock, self._pipe_lock:
            self._last_source = source_prompt
            if opts.inversion_free or self.mask_is_empty:
                return {"reused_inversion": False, "inversion_seconds": 0.0, "transformer_calls": 0}
            return self._ensure_inversion(source_prompt, opts, progress)

    def edit(self, target_prompt: str, opts: EditOptions, progress: Progress | None = None, source_prompt: str | None = None,
             paste: bool = True) -> EditResult:
        """Regenerate the masked region to match `target_prompt`; everything outside stays.
        `paste=False`: the caller pastes `decoded` itself (the Studio pastes into the whole photo,
        once), and `image` is the decoded picture too."""
        target_prompt = self._check_prompt(target_prompt, "target")
        if source_prompt is None:
            source_prompt = self._last_source
        if source_prompt is None:
            raise InputError("Describe the photo as it is now (the source prompt) before editing.")
        source_prompt = self._check_prompt(source_prompt, "source")
        with self._lock, self._pipe_lock:
            self._last_source = source_prompt
            return self._edit(source_prompt, target_prompt, opts, progress, paste)

    def release(self) -> None:
        """Free the recorded keys/values and the encoded source now (e.g. before retrying with less
        memory, or when the session is dropped); the next call records them again."""
        with self._lock:
            if self._inversion is not None:
                self._inversion[1].clear()
            self._inversion = None
            self._clean = None

    # -- internals ----------------------------------------------------------------------------

    @staticmethod
    def _check_prompt(prompt, which: str) -> str:
        if not isinstance(prompt, str):
            raise InputError(f"The {which} prompt must be text.")
        return prompt.strip()

    def _model_key(self) -> tuple:
        # The transformer object stands for its base weights (another checkpoint is another
        # object); LoRA adapters change it in place, so their state is part of the key too.
        return (self.model_name, id(self.pipe.transformer), id(self.pipe.vae), _adapter_state(self.pipe.transformer))

    def _get_engine(self) -> KVEditEngine:
        device = execution_device(self.pipe)
        if self._engine is None or self._engine.transformer is not self.pipe.transformer or self._engine.device != device:
            self._engine = KVEditEngine(self.pipe, self.canvas, self.token_mask, device, family=self.family)
        return self._engine

    def _source_latent(self) -> torch.Tensor:
        key = self._model_key()
        if self._clean is None or self._clean[0] != key:
            rgb = self._rgb
            if (self.canvas.width, self.canvas.height) != (self.width, self.height):
                rgb = np.asarray(Image.fromarray(rgb).resize((self.canvas.width, self.canvas.height), Image.LANCZOS))
            self._clean = (key, self.family.encode_image(rgb, self.canvas, self._get_engine().device))
        return self._clean[1]

    def _prompt(self, text: str) -> Prompt:
        engine = self._get_engine()
        return self.family.encode_prompt(text, engine.device, engine.dtype, cache=self.prompt_cache,
                                         encode_device=self.text_encoder_device)

    def _conditioning(self, text: str, guidance: float, *, recording: bool = False) -> Conditioning:
        """The prompt, with the unconditional prompt when this evaluation runs a CFG pass."""
        wanted = self._get_engine().wants_unconditional(guidance, recording=recording)
        return Conditioning(self._prompt(text), self._prompt(self.family.unconditional_prompt) if wanted else None)

    def _inversion_key(self, source_prompt: str, opts: EditOptions) -> tuple:
        # The store keeps background tokens only, so the mask is part of the key even without attn_mask.
        return (
            self._image_key,
            self._mask_key,
            source_prompt,
            opts.steps,
            float(opts.inversion_guidance),
            bool(opts.attn_mask),
            opts.kv_cache,
            opts.speed,  # keyframes kept by an elastic speed setting
            self._model_key(),
        )

    def _ensure_inversion(self, source_prompt: str, opts: EditOptions, progress: Progress | None) -> dict[str, Any]:
        key = self._inversion_key(source_prompt, opts)
        engine = self._get_engine()
        if self._inversion is not None and self._inversion[0] != key:
            self._inversion[1].clear()  # free it before recording the next one
            self._inversion = None
        reused = self._inversion is not None
        if self._inversion is None:
            sigmas = self.family.sigmas(opts.steps, self.canvas.tokens, engine.device)
            inversion = engine.new_inversion(
                self._source_latent(), self._conditioning(source_prompt, opts.inversion_guidance, recording=True),
                sigmas, opts.inversion_guidance, opts.attn_mask,
                make_kv_store(opts.kv_cache, engine.device, engine.dtype),
                make_kv_store(opts.kv_cache, engine.device, engine.dtype),
                policy=ElasticPolicy.for_speed(opts.speed, stored=True),
            )
            self._inversion = (key, inversion)
        inversion = self._inversion[1]
        # A smaller skip_steps than before only needs the missing noisier steps.
        run = engine.extend(inversion, opts.skip_steps, progress)
        return {
            "reused_inversion": reused and run.transformer_calls == 0,
            "inversion_seconds": run.seconds,
            "transformer_calls": run.transformer_calls,
        }

    def _edit(self, source_prompt: str, target_prompt: str, opts: EditOptions, progress: Progress | None,
              paste: bool = True) -> EditResult:
        started = time.perf_counter()
        engine = self._get_engine()
        peak = _PeakMemory(engine.device)
        report = self._base_report(opts)
        report.update(source_prompt=source_prompt, target_prompt=target_prompt)
        self._note_prompt_lengths(report, source_prompt, target_prompt)
        if self.mask_is_empty:
            report.update(mode="unchanged (empty mask)", reused_inversion=False, inversion_seconds=0.0,
                          denoise_seconds=0.0, decode_seconds=0.0, kv_cache_bytes=0, transformer_calls=0)
            image = Image.fromarray(self._rgb.copy(), "RGB")
            return EditResult(image, self._finish(report, peak, started), None)

        target = self._conditioning(target_prompt, opts.guidance)
        if opts.inversion_free:
            sigmas = self.family.sigmas(opts.steps, self.canvas.tokens, engine.device)
            source = self._conditioning(source_prompt, opts.inversion_guidance, recording=True)
            latent, run = engine.edit_without_inversion(self._source_latent(), source, target, sigmas, opts, progress)
            report.update(mode="inversion-free", kv_cache_mode=INVERSION_FREE_MODE, reused_inversion=False,
                          inversion_seconds=0.0,
                          transformer_calls=run.transformer_calls, cached_steps=1 if run.kv_cache_bytes else 0)
            if "elastic" in run.extra:
                report["elastic_refresh"] = run.extra["elastic"]
        else:
            info = self._ensure_inversion(source_prompt, opts, progress)
            latent, run = engine.denoise(self.inversion, target, opts, progress)
            # The store's own mode: "fp8" becomes "int8" where the device has no float8.
            report.update(mode="kv-edit", kv_cache_mode=self.inversion.store.mode,
                          reused_inversion=info["reused_inversion"],
                          inversion_seconds=info["inversion_seconds"],
                          transformer_calls=info["transformer_calls"] + run.transformer_calls,
                          cached_steps=len(self.inversion.store.steps()))
            if isinstance(self.inversion.store, KeyframeStore):
                # Layer numbers as text: a report is JSON (the app's JSON view refuses number keys).
                frames = {str(layer): steps for layer, steps in self.inversion.store.keyframes().items()}
                report["elastic_keyframes"] = {"keyframes": frames,
                                               "kept_share": self.inversion.store.kept_share()}
        report.update(denoise_seconds=run.seconds, kv_cache_bytes=run.kv_cache_bytes)

        decode_start = time.perf_counter()
        generated = self.family.decode(latent, self.canvas)
        if generated.shape[:2] != (self.height, self.width):
            generated = np.asarray(Image.fromarray(generated).resize((self.width, self.height), Image.LANCZOS))
        decoded = Image.fromarray(generated, "RGB")
        image = Image.fromarray(paste_back(self._rgb, generated, blend_weights(self._mask, opts.feather_px)), "RGB") \
            if paste else decoded
        report["decode_seconds"] = time.perf_counter() - decode_start
        return EditResult(image, self._finish(report, peak, started), decoded)

    def _note_prompt_lengths(self, report: dict[str, Any], source_prompt: str, target_prompt: str) -> None:
        limit = self.family.text_length()
        for which, text in (("source", source_prompt), ("target", target_prompt)):
            tokens = prompt_token_count(self.pipe, text)
            report[f"{which}_prompt_tokens"] = tokens
            note = truncation_note(which, tokens, limit)
            if note:
                report["notes"].append(note)

    def _base_report(self, opts: EditOptions) -> dict[str, Any]:
        # Which model and under which licence is the job's to say (editor/studio), once.
        tm = self.token_mask
        return {
            "family": self.family.family,
            "guidance_kind": self.family.guidance_kind,
            "width": self.width,
            "height": self.height,
            "working_width": self.canvas.width,
            "working_height": self.canvas.height,
            "image_tokens": tm.image_tokens,
            "foreground_tokens": tm.foreground_tokens,
            "background_tokens": tm.background_tokens,
            "text_tokens": self.family.text_length(),
            "layers": self._get_engine().n_layers,
            "steps": opts.steps,
            "skip_steps": opts.skip_steps,
            "denoise_steps": opts.denoise_steps,
            "inversion_guidance": opts.inversion_guidance,
            "guidance": opts.guidance,
            "re_init": opts.re_init,
            "attn_mask": opts.attn_mask,
            "attn_scale": opts.attn_scale,
            "seed": opts.seed,
            "feather_px": opts.feather_px,
            "kv_cache_requested": opts.kv_cache,
            "speed": opts.speed,
            "kv_cache_mode": opts.kv_cache,  # replaced by the store's real mode once one is made
            "device": str(self._get_engine().device),
            "dtype": str(self._get_engine().dtype).replace("torch.", ""),
            "notes": list(self.notes),
        }

    @staticmethod
    def _finish(report: dict[str, Any], peak: _PeakMemory, started: float) -> dict[str, Any]:
        report["peak_memory_bytes"], report["peak_memory_source"] = peak.read()
        report["total_seconds"] = time.perf_counter() - started
        return report
