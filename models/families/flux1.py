"""FLUX.1 ([dev], [schnell]): CLIP-L for a pooled summary plus T5-XXL for the sequence; guidance is
a model input ([dev]) or absent ([schnell]); no true CFG."""

from __future__ import annotations

from models.families.base import Family, double_then_single_attention
from models.vocabulary import IMG2IMG, INPAINT, KV_EDIT, TEXT2IMG


def encode(pipe, prompt: str, max_sequence_length: int, device):
    """(prompt_embeds [1, L, 4096], pooled [1, 768], text_ids [L, 3]) as FluxPipeline.encode_prompt."""
    return pipe.encode_prompt(prompt=prompt, prompt_2=None, device=device, max_sequence_length=max_sequence_length)


def prompt_kwargs(encoded: tuple, num_images: int) -> dict:
    embeds, pooled, _text_ids = encoded
    # Precomputed embeddings are not repeated by the pipeline: one row per picture.
    return {"prompt_embeds": embeds.repeat(num_images, 1, 1), "pooled_prompt_embeds": pooled.repeat(num_images, 1),
            "num_images_per_prompt": 1}


FLUX1 = Family(
    name="flux",
    title="FLUX.1",
    pipelines={
        TEXT2IMG: "FluxPipeline",
        IMG2IMG: "FluxImg2ImgPipeline",
        INPAINT: "FluxInpaintPipeline",
        KV_EDIT: "FluxPipeline",
    },
    encode=encode,
    prompt_kwargs=prompt_kwargs,
    attention_shape=double_then_single_attention,
)
