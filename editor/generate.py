"""Text-to-image and image-to-image on the resident model family.

`GenerateRequest` is checked when it is made (bad values never reach a pipeline). `generate`
resolves the settings (request > preset > model defaults), translates Korean prompts when the
model needs it, applies a LoRA style, and runs the task pipeline from the ModelManager under its
lock. It returns PIL images and a report; saving them is the caller's choice (editor.storage).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import torch
from PIL import Image

from editor.errors import InputError
from editor.presets import MAX_SIDE, MIN_SIDE, SIDE_MULTIPLE, get_preset
from editor.translate import Translation, Translator
from models.families import cfg_active
from models.prompt_length import prompt_token_count
from models.registry import MODELS, ModelSpec, get_spec

MAX_PROMPT_CHARS = 4000
MAX_IMAGES = 8
MAX_SEED = 2**63 - 1

# progress(stage, step, total); stage is "generate". Raising inside it cancels the run.
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class GenerateRequest:
    prompt: str
    model: str = "flux-schnell"
    preset: str | None = None
    image: Any = None  # source for image-to-image: path, bytes, PIL image or array
    strength: float = 0.6  # image-to-image: 0 keeps the input, 1 ignores it
    mask: Any = None  # with an image: inpaint where the mask is white (anything `load_mask` reads)
    lora: str | None = None
    lora_weight: float | None = None  # None: the style's default weight
    seed: int | None = None  # None: a random seed, recorded in the report
    steps: int | None = None
    guidance: float | None = None
    width: int | None = None
    height: int | None = None
    negative_prompt: str | None = None
    num_images: int = 1

    def __post_init__(self):
        if not isinstance(self.prompt, str):
            raise InputError("The prompt must be text.")
        if len(self.prompt) > MAX_PROMPT_CHARS:
            raise InputError(f"The prompt is too long ({len(self.prompt)} characters, at most {MAX_PROMPT_CHARS}).")
        if not self.prompt.strip() and not self.preset:
            raise InputError("Write a prompt or choose a preset.")
        spec = MODELS.get(self.model)
        if spec is None or spec.kind != "diffusion":
            names = ", ".join(s.name for s in MODELS.values() if s.kind == "diffusion")
            raise InputError(f"Unknown image model '{self.model}'. Models: {names}.")
        if self.mask is not None and self.image is None:
            raise InputError("An inpaint mask needs the picture to paint in.")
        if not isinstance(self.strength, (int, float)) or not 0.0 < self.strength <= 1.0:
            raise InputError(f"Strength must be above 0 and at most 1, got {self.strength}.")
        if self.seed is not None and (not _is_int(self.seed) or not 0 <= self.seed <= MAX_SEED):
            raise InputError(f"The seed must be a whole number from 0 to {MAX_SEED}, got {self.seed!r}.")
        if self.steps is not None and (not _is_int(self.steps) or not 1 <= self.steps <= 100):
            raise InputError(f"Steps must be a whole number from 1 to 100, got {self.steps!r}.")
        if self.guidance is not None and (
            not isinstance(self.guidance, (int, float)) or isinstance(self.guidance, bool)
            or not 0.0 <= self.guidance <= 20.0
        ):
            raise InputError(f"Guidance must be a number from 0 to 20, got {self.guidance!r}.")
        for name in ("width", "height"):
            value = getattr(self, name)
            if value is not None and (
                not _is_int(value) or not MIN_SIDE <= value <= MAX_SIDE or value % SIDE_MULTIPLE
            ):
                raise InputError(
                    f"The {name} must be a multiple of {SIDE_MULTIPLE} from {MIN_SIDE} to {MAX_SIDE}, got {value!r}."
                )
        if (self.width is None) != (self.height is None):
            raise InputError("Give both width and height, or neither.")
        if not _is_int(self.num_images) or not 1 <= self.num_images <= MAX_IMAGES:
            raise InputError(f"Number of images must be from 1 to {MAX_IMAGES}, got {self.num_images!r}.")
        if self.lora_weight is not None and (
            not isinstance(self.lora_weight, (int, float)) or not -2.0 <= self.lora_weight <= 2.0
        ):
            raise InputError(f"Style weight must be from -2 to 2, got {self.lora_weight!r}.")

    @property
    def task(self) -> str:
        if self.image is None:
            return "text2img"
        return "img2img" if self.mask is None else "inpaint"


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass
class GenerateResult:
    images: list[Image.Image]
    report: dict = field(default_factory=dict)


@dataclass(frozen=True)
class _Plan:
    prompt: str  # what the text encoders get
    negative_prompt: str | None
    steps: int
    guidance: float
    width: int
    height: int
    seed: int
    translation: Translation
    style: Any  # models.lora.Style | None


def _fit_to_grid(size: int) -> int:
    return max(MIN_SIDE, min(MAX_SIDE, size // SIDE_MULTIPLE * SIDE_MULTIPLE))


def _uses_negative_prompt(spec: ModelSpec, guidance: float) -> bool:
    # Only true classifier-free guidance reads a negative prompt (Z-Image above 0, klein Base above
    # 1). FLUX.1 dev takes guidance as an input and schnell has none, so they never see it.
    return cfg_active(spec, guidance)


def _plan(request: GenerateRequest, spec: ModelSpec, translator: Translator, init: Image.Image | None) -> _Plan:
    preset = get_preset(request.preset) if request.preset else None
    suggested = preset.settings_for(spec) if preset else None
    translation = translator.translate(request.prompt, spec)
    prompt = translation.text
    style = None
    if request.lora:
        from models.lora import get_style

        style = get_style(request.lora)
        prompt = style.with_trigger(prompt)
    if preset:
        prompt = preset.render(prompt)
    if not prompt.strip():
        raise InputError("Nothing is left of the prompt to draw (only ad copy in quotes?). Describe the picture.")
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
    return _Plan(prompt, negative, int(steps), float(guidance), width, height, seed, translation, style)


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


class _PipelineRun(NamedTuple):
    pipe: Any
    styles: Any  # models.lora.LoraStyles
    images: list[Image.Image]
    seconds: float
    device: str
    dtype: str
    denoise_steps: int
    prompt_tokens: int | None


def _run_pipeline(manager, request: GenerateRequest, plan: _Plan, init, progress: Progress | None) -> _PipelineRun:
    """The pipeline call itself (the caller holds the manager's lock)."""
    pipe = manager.pipeline(request.model, request.task)
    styles = manager.styles
    if plan.style is not None:
        styles.apply(plan.style, request.lora_weight)
    else:
        styles.deactivate()  # a previous user's style must not leak into this picture
    total = {"steps": plan.steps}

    def on_step_end(pipeline, step, timestep, callback_kwargs):
        total["steps"] = getattr(pipeline, "num_timesteps", None) or plan.steps
        if progress is not None:
            progress("generate", step + 1, total["steps"])
        return {}

    kwargs = dict(
        # Every family gets embeddings (cached per prompt; the text encoders leave the accelerator
        # after encoding), its guidance and the task's input picture, from the model layer.
        **manager.generation_inputs(request.model, pipe, request.task, plan.prompt, guidance=plan.guidance,
                                    num_images=request.num_images, negative_prompt=plan.negative_prompt,
                                    image=init, mask=_open_mask(request.mask, init), strength=request.strength),
        height=plan.height,
        width=plan.width,
        num_inference_steps=plan.steps,
        # A CPU generator gives the same noise on every device, so a seed reproduces anywhere.
        generator=torch.Generator("cpu").manual_seed(plan.seed),
        callback_on_step_end=on_step_end,
        output_type="pil",
    )
    tokens = prompt_token_count(pipe, plan.prompt)
    started = time.perf_counter()
    images = list(pipe(**kwargs).images)
    seconds = time.perf_counter() - started
    device = str(getattr(pipe, "_execution_device", manager.device))
    dtype = str(pipe.transformer.dtype).replace("torch.", "")
    return _PipelineRun(pipe, styles, images, seconds, device, dtype, total["steps"], tokens)


def generate(manager, request: GenerateRequest, progress: Progress | None = None,
             translator: Translator | None = None, memory=None) -> GenerateResult:
    """Run one request on `manager` (models.manager.ModelManager).

    memory: None runs with the manager's placement as it is; "auto" plans offload and VAE tiling
    for this machine (`editor.planned_run`), or pass a `models.memory.MemoryPlan`. With a plan, an
    out-of-memory error frees, retries once with the plan's cheaper fallback, then raises
    `OutOfMemoryPlanError`; the report gets `memory_plan`.
    """
    spec = get_spec(request.model)
    init = _open_init_image(request.image) if request.image is not None else None
    translator = translator or Translator(marian=manager.marian)
    plan = _plan(request, spec, translator, init)

    def run_pipeline():
        with manager.lock:  # one run at a time on the shared weights; also guards the style state
            return _run_pipeline(manager, request, plan, init, progress)

    memory_plan = None
    if memory is None:
        run = run_pipeline()
    else:
        from editor.planned_run import AUTO, plan_job, plan_report, run_planned

        chosen = memory
        if memory == AUTO:
            chosen = plan_job(manager, request.model, plan.width, plan.height, plan.steps, task="generate")
        run, ran = run_planned(manager, chosen, lambda _p: run_pipeline())
        memory_plan = plan_report(chosen, ran)
    pipe, styles, images, seconds, device, dtype, denoise_steps, tokens = run

    report = {
        "model": spec.name,
        "model_label": spec.label,
        "licence_note": spec.licence_note,
        "task": request.task,
        "pipeline": type(pipe).__name__,
        "prompt": request.prompt,
        "prompt_sent": plan.prompt,
        "negative_prompt_sent": plan.negative_prompt,
        "translation": plan.translation.to_report(),
        "ad_copy": list(plan.translation.ad_copy),
        "preset": request.preset,
        "style": None if plan.style is None else {
            "name": plan.style.name,
            "weight": request.lora_weight if request.lora_weight is not None else plan.style.default_weight,
            "hotswap": styles.hotswap,
        },
        "seed": plan.seed,
        "steps": plan.steps,
        "denoise_steps": denoise_steps,
        "guidance": plan.guidance,
        "width": plan.width,
        "height": plan.height,
        "strength": float(request.strength) if init is not None else None,
        "num_images": len(images),
        "prompt_tokens": tokens,
        "max_sequence_length": spec.max_sequence_length,
        "prompt_truncated": tokens is not None and tokens > spec.max_sequence_length,
        "seconds": round(seconds, 3),
        "device": device,
        "dtype": dtype,
    }
    if memory_plan is not None:
        report["memory_plan"] = memory_plan
    return GenerateResult(images, report)
