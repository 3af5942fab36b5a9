"""Z-Image (Turbo): a Qwen3 text encoder read at its second-to-last layer, only the prompt's real
tokens; true CFG whenever guidance is above 0 (the prediction moves guidance × (cond − uncond)
further from the unconditional one), off at Turbo's default 0."""

from __future__ import annotations

from models.families.base import Family
from models.vocabulary import IMG2IMG, INPAINT, KV_EDIT, TEXT2IMG


def encode(pipe, prompt: str, max_sequence_length: int, device):
    """(prompt_embeds [tokens, hidden],) as ZImagePipeline.encode_prompt, padding left out."""
    embeds, _ = pipe.encode_prompt(prompt, device=device, do_classifier_free_guidance=False,
                                   max_sequence_length=max_sequence_length)
    return (embeds[0],)


def prompt_kwargs(encoded: tuple, num_images: int) -> dict:
    return {"prompt_embeds": [encoded[0]] * num_images, "num_images_per_prompt": 1}


def negative_kwargs(encoded: tuple, num_images: int) -> dict:
    return {"negative_prompt_embeds": [encoded[0]] * num_images}


def attention_shape(config) -> tuple[int, int, int]:
    """The noise refiner (image rows) and the main layers (image + caption); the context refiner
    sees only the caption."""
    return config.n_layers + config.n_refiner_layers, config.n_heads, config.dim // config.n_heads


Z_IMAGE = Family(
    name="z-image",
    title="Z-Image",
    pipelines={
        TEXT2IMG: "ZImagePipeline",
        IMG2IMG: "ZImageImg2ImgPipeline",
        INPAINT: "ZImageInpaintPipeline",
        KV_EDIT: "ZImagePipeline",
    },
    encode=encode,
    prompt_kwargs=prompt_kwargs,
    attention_shape=attention_shape,
    negative_kwargs=negative_kwargs,
    cfg_above=0.0,
)
