"""Text-to-image, image-to-image and inpaint on the resident model family: the domain part of a generation.

`GenerateRequest` is checked when it is made (bad values never reach a pipeline).
`resolve_settings` turns it into what the pipeline gets (request > preset > model defaults, Korean
translated when the model needs it, style trigger words); `run_generation` calls the task
pipeline. The job around it (memory plan, LoRA state for this request, saving) is the Studio's.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from PIL import Image

from editor.errors import InputError
from editor.limits import MAX_NAME_CHARS, MAX_PROMPT_CHARS
from editor.options import GENERATE_OPTIONS, check_all
from editor.presets import MAX_SIDE, MIN_SIDE, SIDE_MULTIPLE, get_preset
from editor.translate import Translation, Translator
from editor.validation import text
from models.families import cfg_active
from models.prompt_length import prompt_token_count
from models.registry import MODELS, ModelSpec
from models.speed import plan_speed, speed_applied
from models.vocabulary import AUTO, EXACT, IMG2IMG, INPAINT, TEXT2IMG

# progress(stage, step, total); stage is "generate". Raising inside it cancels the run.
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class GenerateRequest:
    prompt: str
    model: str = AUTO  # AUTO: the best model here for the task
    preset: str | None = None
    image: Any = None  # source for image-to-image: path, bytes, PIL image or array
    strength: float = 0.6  # image-to-image: 0 keeps the input, 1 ignores it
    mask: Any = None  # with an image: inpaint where the mask is white (anything `load_mask` reads)
    style: str | None = None  # a LoRA style; None means none is active for this job
    style_weight: float | None = None  # None: the style's default weight
    seed: int | None = None  # None: a random seed, recorded in the report
    steps: int | None = None
    guidance: float | None = None
    width: int | None = None
    height: int | None = None
    negative_prompt: str | None = None
    num_images: int = 1
    # The English the model gets instead of its translation of `prompt`, as the user corrected it
    # (models that need English, no translator model); None: translate.
    prompt_english: str | None = None
    speed: str = EXACT  # fast / fastest: diffusers step caches, and torch.compile on CUDA (models/speed.py)

    def __post_init__(self):
        text("prompt", self.prompt, MAX_PROMPT_CHARS, "prompt")
        if self.prompt_english is not None:
            text("prompt_english", self.prompt_english, MAX_PROMPT_CHARS, "prompt in English")
        text("negative_prompt", self.negative_prompt, MAX_PROMPT_CHARS, "negative prompt")
        for name in ("model", "preset", "style"):
            text(name, getattr(self, name), MAX_NAME_CHARS)
        if not self.prompt.strip() and not self.preset:
            raise InputError("Write a prompt or choose a preset.", key="prompt_or_preset", field="prompt")
        spec = MODELS.get(self.model)
        if self.model != AUTO and (spec is None or spec.kind != "diffusion"):
            names = ", ".join(s.name for s in MODELS.values() if s.kind == "diffusion")
            raise InputError(f"Unknown image model '{self.model}'. Models: {names}.", key="unknown_model",
                             field="model", name=str(self.model), known=names)
        if self.mask is not None and self.image is None:
            raise InputError("An inpaint mask needs the picture to paint in.", key="mask_without_picture", field="mask")
        check_all(GENERATE_OPTIONS, self)  # limits of every option: editor/options.py
        if (self.width is None) != (self.height is None):
            raise InputError("Give both width and height, or neither.", key="width_and_height", field="width")

    @property
    def task(self) -> str:
        if self.image is None:
            return TEXT2IMG
        return IMG2IMG if self.mask is None else INPAINT


@dataclass
class GenerateResult:
    images: list[Image.Image]
    report: dict = field(default_factory=dict)


@dataclass(frozen=True)
class GenerationSettings:
    """What the pipeline gets for one request, every default resolved."""

    prompt: str  # what the text encoders get
    negative_prompt: str | None
    steps: int
    guidance: float
    width: int
    height: int
    seed: int
    translation: Translation
    style: Any  # models.lora.Style | None
    init: Image.Image | None  # image-to-image source, RGB
    mask: Image.Image | None = None  # inpaint: white where the picture may change, the init's size


def _fit_to_grid(size: int) -> int:
    return max(MIN_SIDE, min(MAX_SIDE, size // SIDE_MULTIPLE * SIDE_MULTIPLE))


def _uses_negative_prompt(spec: ModelSpec, guidance: float) -> bool:
    # Only true classifier-free guidance reads a negative prompt (Z-Image above 0, klein Base above
    # 1). FLUX.1 dev takes guidance as an input and schnell has none, so they never see it.
    return cfg_active(spec, guidance)


def resolve_settings(request: GenerateRequest, spec: ModelSpec, translator: Translator) -> GenerationSettings:
    """Request > preset > model defaults; Korean translated when the model needs English; the
    style's trigger words in front. The init image is read here (size-checked, made RGB)."""
    init = _open_init_image(request.image) if request.image is not None else None
    preset = get_preset(request.preset) if request.preset else None
    suggested = preset.settings_for(spec) if preset else None
    translation = translator.translate(request.prompt, spec)
    english = (request.prompt_english or "").strip()
    if english and translation.editable and english != translation.text:
        translation = translation.edited(request.prompt_english)
    prompt = translation.text
    style = None
    if request.style:
        from models.lora import get_style

        style = get_style(request.style)
        prompt = style.with_trigger(prompt)
    if preset:
        prompt = preset.render(prompt)
    if not prompt.strip():
        raise InputError("Nothing is left of the prompt to draw (only ad copy in quotes?). Describe the picture.",
                         key="prompt_only_ad_copy", field="prompt")
    steps = request.steps or (suggested.steps if suggested else spec.default_steps)
    guidance = request.guidance if request.guidance is not None else (
        suggested.guidance if suggested else spec.default_guidance)
    if request.width is not None:
        width, height = request.width, request.height
    elif init is not None:  # image-to-image keeps the picture's shape
        width, height = _fit_to_grid(init.width), _fit_to_grid(init.height)
    elif suggested:
        width, height = suggested.width, suggested.height
    else:
        width = height = 1024 if not spec.random_weights else 64
    negative = request.negative_prompt if request.negative_prompt is not None else (
        preset.negative_prompt if preset else None)
    negative = negative if negative and _uses_negative_prompt(spec, guidance) else None
    seed = request.seed if request.seed is not None else random.SystemRandom().randrange(2**32)
    return GenerationSettings(prompt, negative, int(steps), float(guidance), width, height, seed, translation, style,
                              init, _open_mask(request.mask, init))


def _open_init_image(source) -> Image.Image:
    from editor.images import load_image

    loaded = load_image(source)
    image = loaded.to_pil()
    if image.mode == "RGBA":  # transparent parts become white, as they look in a shop photo
        backdrop = Image.new("RGB", image.size, (255, 255, 255))
        backdrop.paste(image, mask=image.getchannel("A"))
        image = backdrop
    return image


def _open_mask(source, init: Image.Image | None) -> Image.Image | None:
    """The inpaint mask at the picture's size, white where it may change."""
    if source is None or init is None:
        return None
    from editor.images import load_mask

    mask, _notes = load_mask(source, init.size)
    return Image.fromarray((mask * 255).round().astype("uint8"), "L")


def run_generation(manager, request: GenerateRequest, settings: GenerationSettings,
                   progress: Progress | None = None) -> GenerateResult:
    """The pipeline call (the caller holds the manager's lock and has set the LoRA state)."""
    spec = manager.loaded_spec
    pipe = manager.pipeline(request.model, request.task)
    total = {"steps": settings.steps}

    def on_step_end(pipeline, step, timestep, callback_kwargs):
        total["steps"] = getattr(pipeline, "num_timesteps", None) or settings.steps
        if progress is not None:
            progress("generate", step + 1, total["steps"])
        return {}

    kwargs = dict(
        # Every family gets embeddings (cached per prompt; the text encoders leave the accelerator
        # after encoding), its guidance and the task's input picture, from the model layer.
        **manager.generation_inputs(request.model, pipe, request.task, settings.prompt, guidance=settings.guidance,
                                    num_images=request.num_images, negative_prompt=settings.negative_prompt,
                                    image=settings.init, mask=settings.mask, strength=request.strength),
        height=settings.height,
        width=settings.width,
        num_inference_steps=settings.steps,
        # A CPU generator gives the same noise on every device, so a seed reproduces anywhere.
        generator=torch.Generator("cpu").manual_seed(settings.seed),
        callback_on_step_end=on_step_end,
        output_type="pil",
    )
    tokens = prompt_token_count(pipe, settings.prompt)
    # img2img runs strength × steps: that is what a step cache can skip among.
    runs = settings.steps if settings.init is None else max(1, int(settings.steps * float(request.strength)))
    speed = plan_speed(request.speed, spec.family, task=request.task, steps=runs, device=manager.device)
    started = time.perf_counter()
    with speed_applied(pipe.transformer, speed):  # removed again on every exit: the next job is exact
        images = list(pipe(**kwargs).images)
    seconds = time.perf_counter() - started
    report = {
        "task": request.task,
        "pipeline": type(pipe).__name__,
        "prompt": request.prompt,
        "prompt_sent": settings.prompt,
        "negative_prompt_sent": settings.negative_prompt,
        "translation": settings.translation.to_report(),
        "ad_copy": list(settings.translation.ad_copy),
        "preset": request.preset,
        "seed": settings.seed,
        "steps": settings.steps,
        # Steps the pipeline really ran (img2img runs strength × steps): what the progress bar counts.
        "denoise_steps": total["steps"],
        "guidance": settings.guidance,
        "width": settings.width,
        "height": settings.height,
        "strength": float(request.strength) if settings.init is not None else None,
        "num_images": len(images),
        "prompt_tokens": tokens,
        "max_sequence_length": spec.max_sequence_length,
        "prompt_truncated": tokens is not None and tokens > spec.max_sequence_length,
        "generate_seconds": round(seconds, 3),  # the pipeline's own time; the job adds what the user waited
        "device": str(getattr(pipe, "_execution_device", manager.device)),
        "dtype": str(pipe.transformer.dtype).replace("torch.", ""),
        "speed": speed.report(),
    }
    return GenerateResult(images, report)
