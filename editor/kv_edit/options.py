"""The knobs of one KV-Edit, validated once so the engine can trust them."""

from __future__ import annotations

import math
from dataclasses import dataclass

from editor.errors import InputError
from editor.kv_edit.kv_cache import INVERSION_FREE_MODE, kv_cache_modes
from models.families import FAMILIES
from models.registry import get_spec
from models.vocabulary import CFG, EMBEDDED


@dataclass(frozen=True)
class EditOptions:
    """Options with the official KV-Edit semantics and UI defaults.

    steps: one schedule for inversion *and* denoising, so recorded steps always match
        (the official code's separate inversion step count is not offered).
    skip_steps: how many of the noisiest steps are skipped; the edit starts at schedule index
        skip_steps. Higher keeps more of the source layout. Changing it reuses the inversion.
    inversion_guidance / guidance: the guidance value for the source (inversion) and target
        (denoising) passes; for guidance-distilled models it is the model input.
    re_init: the foreground restarts from seeded noise blended with the source latent instead of
        from the inverted latent (bigger changes, e.g. replacing an object).
    attn_mask: during inversion, background and foreground tokens do not attend to each other,
        so the recorded background carries no trace of the object (needed to remove objects).
    attn_scale: additive bias on the background keys while denoising (more background context).
    seed: drives every random draw (re_init noise, inversion-free noise).
    kv_cache: where recorded keys/values live: "device", or a memory-saving store
        ("cpu", "fp8", "int8" when available), or "none" for the inversion-free mode that keeps
        only one step alive (no inversion pass, more work per edit).
    feather_px: width, in pixels, of the blend band just *inside* the mask edge that hides the seam
        between generated and original pixels (pixels outside the mask are never touched).
    """

    steps: int = 28
    skip_steps: int = 4
    inversion_guidance: float = 1.5
    guidance: float = 5.5
    re_init: bool = False
    attn_mask: bool = False
    attn_scale: float = 1.0
    seed: int = 42
    kv_cache: str = "device"
    feather_px: int = 8

    def __post_init__(self) -> None:
        if isinstance(self.steps, bool) or not isinstance(self.steps, int) or self.steps < 1:
            raise InputError(f"steps must be a whole number of at least 1; got {self.steps!r}.")
        if self.steps > 1000:
            raise InputError(f"steps must be at most 1000; got {self.steps}.")
        if isinstance(self.skip_steps, bool) or not isinstance(self.skip_steps, int):
            raise InputError(f"skip_steps must be a whole number; got {self.skip_steps!r}.")
        if not 0 <= self.skip_steps < self.steps:
            raise InputError(
                f"skip_steps must be between 0 and steps - 1 ({self.steps - 1}); got {self.skip_steps}."
            )
        for name in ("inversion_guidance", "guidance", "attn_scale"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise InputError(f"{name} must be a finite number; got {value!r}.")
            if value < 0:
                raise InputError(f"{name} must not be negative; got {value}.")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or not 0 <= self.seed < 2**63:
            raise InputError(f"seed must be a whole number between 0 and 2^63 - 1; got {self.seed!r}.")
        if isinstance(self.feather_px, bool) or not isinstance(self.feather_px, int) or not 0 <= self.feather_px <= 256:
            raise InputError(f"feather_px must be a whole number between 0 and 256; got {self.feather_px!r}.")
        modes = kv_cache_modes()
        if self.kv_cache not in modes:
            raise InputError(f"Unknown KV cache mode '{self.kv_cache}'. Choose one of: {', '.join(modes)}.")

    @classmethod
    def for_model(cls, model: str, **overrides) -> "EditOptions":
        """The options with `model`'s defaults (registry), then `overrides`: its step count, the
        official ratio of skipped steps (4 of 28), and guidance as the model reads it. Guidance-
        embedded models (FLUX.1 [dev]) keep the official 1.5 / 5.5; true-CFG models invert without
        CFG (one pass) and edit at their default guidance; models without guidance ignore it."""
        spec = get_spec(model)
        steps = int(overrides.get("steps", spec.default_steps))
        defaults = {"steps": steps, "skip_steps": min(steps - 1, round(steps * 4 / 28))}
        if spec.guidance_kind == CFG:
            defaults.update(inversion_guidance=FAMILIES[spec.family].cfg_above, guidance=spec.default_guidance)
        elif spec.guidance_kind != EMBEDDED:
            defaults.update(inversion_guidance=spec.default_guidance, guidance=spec.default_guidance)
        return cls(**{**defaults, **overrides})

    @property
    def inversion_free(self) -> bool:
        return self.kv_cache == INVERSION_FREE_MODE

    @property
    def denoise_steps(self) -> int:
        """How many transformer steps an edit runs (and how many steps the cache holds)."""
        return self.steps - self.skip_steps
