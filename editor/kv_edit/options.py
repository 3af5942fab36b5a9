"""The knobs of one KV-Edit, validated once so the engine can trust them."""

from __future__ import annotations

from dataclasses import dataclass

from editor.kv_edit.kv_cache import INVERSION_FREE_MODE, kv_cache_modes
from editor.limits import MAX_SEED
from editor.validation import choice, number, whole
from models.families import FAMILIES
from models.registry import get_spec
from models.vocabulary import CFG, EMBEDDED, EXACT, SPEED_SETTINGS

SKIP_SHARE = 4 / 28  # the KV-Edit paper's default: skip 4 of 28 steps
MAX_KV_STEPS = 1000


@dataclass(frozen=True)
class EditOptions:
    """Options with the official KV-Edit semantics and UI defaults.

    steps: one schedule for inversion *and* denoising, so recorded steps always match
        (the official code's separate inversion step count is not offered).
    skip_steps: how many of the noisiest steps are skipped; the edit starts at schedule index
        skip_steps. Higher keeps more of the source layout. Changing it reuses the inversion.
        None (the default) follows `steps`: 4 of 28, as the paper, and the same share otherwise.
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
    speed: "exact" refreshes the background keys/values at every step; "fast" / "fastest" refresh
        them where an attention drift test says so (keyframes in a stored cache, fewer source
        passes inversion-free; editor.kv_edit.elastic), within a deviation bound.
    """

    steps: int = 28
    skip_steps: int | None = None  # None: follows `steps` (see default_skip_steps)
    inversion_guidance: float = 1.5
    guidance: float = 5.5
    re_init: bool = False
    attn_mask: bool = False
    attn_scale: float = 1.0
    seed: int = 42
    kv_cache: str = "device"
    feather_px: int = 8
    speed: str = EXACT

    def __post_init__(self) -> None:
        whole("steps", self.steps, 1, MAX_KV_STEPS)
        if self.skip_steps is None:
            object.__setattr__(self, "skip_steps", default_skip_steps(self.steps))
        whole("skip_steps", self.skip_steps, 0, self.steps - 1, "skip_steps (at most steps - 1)")
        for name in ("inversion_guidance", "guidance"):
            number(name, getattr(self, name), 0.0, 100.0)
        number("attn_scale", self.attn_scale, 0.0, 100.0)
        whole("seed", self.seed, 0, MAX_SEED)
        whole("feather_px", self.feather_px, 0, 256)
        choice("kv_cache", self.kv_cache, kv_cache_modes(), "KV cache mode")
        choice("speed", self.speed, SPEED_SETTINGS, "speed setting")

    @classmethod
    def for_model(cls, model: str, **overrides) -> "EditOptions":
        """The options with `model`'s defaults (registry), then `overrides`: its step count (skipped
        steps follow it) and guidance as the model reads it. Guidance-embedded models (FLUX.1
        [dev]) keep the official 1.5 / 5.5; true-CFG models invert without CFG (one pass) and edit
        at their default guidance; models without guidance ignore it."""
        spec = get_spec(model)
        defaults: dict = {"steps": spec.default_steps}
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


def default_skip_steps(steps: int) -> int:
    """The official KV-Edit setting skips 4 of 28 steps; other step counts keep that share,
    rounded, and always leave at least one step to run (1 step: skip 0; 4 steps: skip 1)."""
    return min(max(0, round(steps * SKIP_SHARE)), max(0, steps - 1))
