"""What a front end may ask the Studio for: typed requests, checked when they are made.

Like a typed port, a request refuses a bad value at construction (wrong type, out of range, NaN,
too long) with one `InputError` naming the field, before it reaches a queue, a model or a disk.
What needs the machine (is the model here? does the mask fit the photo?) is checked by the Studio
as the first step of the job.

Each request is plain data, so it can cross a process boundary (a serving replica) as it is:
images are paths, bytes, arrays or PIL images.

The generation and ad requests are the domain's own (`editor.generate.GenerateRequest`,
`editor.ad.AdRequest`); they are re-exported here so callers import every request from one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from editor.ad.cutout import remover_names
from editor.ad.workflow import AdRequest
from editor.generate import GenerateRequest
from editor.kv_edit.options import EditOptions
from editor.limits import MAX_NAME_CHARS, MAX_PROMPT_CHARS
from editor.options import (
    EDIT_OPTIONS,
    GENERATE_OPTIONS,
    KV_CACHE_CHOICES,
    check_all,
    edit_option_defaults,
    option_named,
)
from editor.validation import choice, text
from models.registry import ModelSpec
from models.vocabulary import AUTO, EXACT

__all__ = ["KV_CACHE_CHOICES", "AdBatchRequest", "AdRequest", "CutoutRequest", "EditRequest", "GenerateRequest",
           "InvertRequest", "edit_defaults"]

def edit_defaults(spec: ModelSpec) -> dict[str, Any]:
    """Starting values of every edit option for `spec` (`editor.options.edit_option_defaults`)."""
    return edit_option_defaults(spec.name)


@dataclass(frozen=True)
class InvertRequest:
    """Invert a photo under a source prompt, ahead of its edits (the following edits of the same
    photo and mask reuse it). Fields left None take the model's defaults."""

    image: Any  # path, bytes, PIL image or array
    mask: Any  # float32 H×W in [0, 1] (1 = regenerate), or a mask image/file
    source_prompt: str = ""
    model: str = AUTO
    steps: int | None = None
    skip_steps: int | None = None  # None: follows the step count (4 of 28)
    inversion_guidance: float | None = None
    guidance: float | None = None
    re_init: bool = False
    attn_mask: bool = False
    attn_scale: float = 1.0
    seed: int = 42
    kv_cache: str = AUTO  # AUTO: the memory plan chooses
    feather_px: int = 8
    style: str | None = None  # a LoRA style; None means none is active for this job
    style_weight: float | None = None
    # The English the model gets instead of its translation of `source_prompt`, as the user
    # corrected it (models that need English, no translator model); None: translate.
    source_english: str | None = None
    speed: str = EXACT  # fast / fastest: elastic refresh of the background keys/values (models/speed.py)

    def __post_init__(self):
        if self.image is None:
            from editor.errors import InputError

            raise InputError("Upload a photo first.", key="no_image", field="image")
        text("source_prompt", self.source_prompt, MAX_PROMPT_CHARS, "source prompt")
        if self.source_english is not None:
            text("source_english", self.source_english, MAX_PROMPT_CHARS, "source prompt in English")
        text("model", self.model, MAX_NAME_CHARS, "model")
        check_all(EDIT_OPTIONS, self)
        if self.style is not None:
            text("style", self.style, 64, "style")
        option_named(GENERATE_OPTIONS, "style_weight").check(self.style_weight)

    def options(self, spec: ModelSpec, kv_cache: str) -> EditOptions:
        """The engine's options for `spec`: what the request gives, the model's defaults for the rest."""
        d = edit_defaults(spec)
        return EditOptions(
            steps=self.steps or d["steps"],
            skip_steps=self.skip_steps,
            inversion_guidance=d["inversion_guidance"] if self.inversion_guidance is None else self.inversion_guidance,
            guidance=d["guidance"] if self.guidance is None else self.guidance,
            re_init=self.re_init,
            attn_mask=self.attn_mask,
            attn_scale=self.attn_scale,
            seed=self.seed,
            kv_cache=kv_cache,
            feather_px=self.feather_px,
            speed=self.speed,
        )


@dataclass(frozen=True)
class EditRequest(InvertRequest):
    """Regenerate the painted region of a photo to match `target_prompt`; every other pixel stays."""

    target_prompt: str = ""
    target_english: str | None = None  # the user's corrected English for `target_prompt` (see source_english)

    def __post_init__(self):
        super().__post_init__()
        text("target_prompt", self.target_prompt, MAX_PROMPT_CHARS, "target prompt", required=True)
        if self.target_english is not None:
            text("target_english", self.target_english, MAX_PROMPT_CHARS, "target prompt in English")


@dataclass(frozen=True)
class CutoutRequest:
    """Cut the product out of a photo; optional brush strokes paint product in (`add`) or out."""

    image: Any
    remover: str = AUTO
    add: Any = None  # H×W in [0, 1] at the photo's size, or a mask image
    remove: Any = None

    def __post_init__(self):
        if self.image is None:
            from editor.errors import InputError

            raise InputError("Upload a product photo first.", key="no_product", field="image")
        text("remover", self.remover, MAX_NAME_CHARS, "cut-out method")
        choice("remover", self.remover, remover_names(), "cut-out method")


@dataclass(frozen=True)
class AdBatchRequest:
    """Ads for many products at once: every format of `template` for every product photo.

    products: photo files, zips of photos, or (file name, bytes) pairs. The copy is the template's
    (headline, sub-line, price, ...) for every product, or a CSV (path, bytes or text) with a row
    per product: a `file` column naming the photo and the copy columns (English or Korean headers).
    template: an AdRequest without a product: formats, background, brand, layouts, scale, ...
    """

    products: tuple
    template: AdRequest
    copy_csv: Any = None

    def __post_init__(self):
        from editor.errors import InputError

        if not self.products:
            raise InputError("Upload product photos (or a zip of them) first.", key="batch_no_products",
                             field="products")
        if not isinstance(self.template, AdRequest):
            raise InputError("A batch needs the ad settings it applies to every product.", key="batch_no_template",
                             field="template")
