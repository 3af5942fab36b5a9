"""FLUX.2 [klein] (4B, 4B Base): a Qwen3 text encoder read at three hidden layers; no guidance
input; the step-distilled models take no guidance at all, the Base models true CFG above 1 with an
empty negative prompt. No image-to-image pipeline: it is the inpaint pipeline with a white mask."""

from __future__ import annotations

from models.families.base import Family, double_then_single_attention
from models.vocabulary import IMG2IMG, INPAINT, KV_EDIT, TEXT2IMG


def encode(pipe, prompt: str, max_sequence_length: int, device):
    """(prompt_embeds [1, L, 3 × hidden], text_ids [1, L, 4]) as Flux2KleinPipeline.encode_prompt."""
    return pipe.encode_prompt(prompt=prompt, device=device, max_sequence_length=max_sequence_length)


def prompt_kwargs(encoded: tuple, num_images: int) -> dict:
    return {"prompt_embeds": encoded[0].repeat(num_images, 1, 1), "num_images_per_prompt": 1}


def negative_kwargs(encoded: tuple, num_images: int) -> dict:
    return {"negative_prompt_embeds": encoded[0].repeat(num_images, 1, 1)}


FLUX2 = Family(
    name="flux2",
    title="FLUX.2 [klein]",
    pipelines={
        TEXT2IMG: "Flux2KleinPipeline",
        IMG2IMG: "Flux2KleinInpaintPipeline",
        INPAINT: "Flux2KleinInpaintPipeline",
        KV_EDIT: "Flux2KleinPipeline",
    },
    encode=encode,
    prompt_kwargs=prompt_kwargs,
    attention_shape=double_then_single_attention,
    negative_kwargs=negative_kwargs,
    cfg_above=1.0,
    img2img_by_inpainting=True,
)
