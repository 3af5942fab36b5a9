"""The knobs of one KV-Edit, validated once so the engine can trust them."""

from __future__ import annotations

from dataclasses import dataclass

from editor.errors import InputError
from editor.kv_edit.kv_cache import INVERSION_FREE_MODE, kv_cache_modes
from editor.options import EDIT_OPTIONS, check_all, default_skip_steps, edit_option_defaults
from editor.validation import choice, whole
from models.vocabulary import EXACT

__all__ = ["EditOptions", "default_skip_steps"]


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
        # The one declaration's limits (editor/options.py), then what only the engine knows: the
        # skipped steps leave one to run, and the stores this machine has ("auto" is resolved).
        check_all(EDIT_OPTIONS, self)
        for name in ("steps", "inversion_guidance", "guidance"):  # the engine runs on resolved values
            if getattr(self, name) is None:
                raise InputError(f"{name} needs a value.", key="bad_number", field=name, name=name, low="0",
                                 high="-", value="None")
        if self.skip_steps is None:
            object.__setattr__(self, "skip_steps", default_skip_steps(self.steps))
        whole("skip_steps", self.skip_steps, 0, self.steps - 1, "skip_steps (at most steps - 1)")
        choice("kv_cache", self.kv_cache, kv_cache_modes(), "KV cache mode")

    @classmethod
    def for_model(cls, model: str, **overrides) -> "EditOptions":
        """The options with `model`'s defaults (`editor.options.edit_option_defaults`), then
        `overrides`; skipped steps follow an overridden step count unless given."""
        d = edit_option_defaults(model)
        if "steps" in overrides and "skip_steps" not in overrides:
            d["skip_steps"] = None
        d["kv_cache"] = cls.kv_cache
        return cls(**{**{k: v for k, v in d.items() if k in _FIELDS}, **overrides})

    @property
    def inversion_free(self) -> bool:
        return self.kv_cache == INVERSION_FREE_MODE

    @property
    def denoise_steps(self) -> int:
        """How many transformer steps an edit runs (and how many steps the cache holds)."""
        return self.steps - self.skip_steps


_FIELDS = {f for f in EditOptions.__dataclass_fields__}
