"""The record one model family fills in (see `models.families`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from models.vocabulary import IMG2IMG, INPAINT, Task

# (pipe, prompt, max_sequence_length, device) -> the embeddings as tensors (CPU or device)
Encode = Callable[[Any, str, int, Any], tuple]
# (embeddings, number of pictures) -> keyword arguments of the family's pipelines
EmbeddingKwargs = Callable[[tuple, int], dict]
# transformer config -> (attention layers that see the image rows, heads, head dim): what KV-Edit records
AttentionShape = Callable[[Any], tuple[int, int, int]]


@dataclass(frozen=True)
class Family:
    name: str  # the registry's `family` value
    title: str  # for messages: "FLUX.1"
    pipelines: Mapping[Task, str]  # diffusers class per task (KV-Edit drives the text-to-image one's modules)
    encode: Encode
    prompt_kwargs: EmbeddingKwargs
    attention_shape: AttentionShape
    negative_kwargs: EmbeddingKwargs | None = None  # families with true classifier-free guidance
    # True CFG runs when the guidance value is above this (None: the family has none). The value's
    # meaning is the family's own, as its pipelines read it (klein: > 1, Z-Image: > 0).
    cfg_above: float | None = None
    # Image-to-image through the inpaint pipeline with an all-white mask (a family without an
    # image-to-image pipeline: FLUX.2 [klein]).
    img2img_by_inpainting: bool = False
    notes: tuple[str, ...] = field(default_factory=tuple)


def task_inputs(family: Family, task: Task, image=None, mask=None, strength: float | None = None) -> dict:
    """The pipeline keyword arguments that carry the input picture of `task` (none for text2img)."""
    from PIL import Image

    if task == IMG2IMG:
        kwargs = {"image": image, "strength": float(strength)}
        if family.img2img_by_inpainting:
            kwargs["mask_image"] = Image.new("L", image.size, 255)  # white: every pixel may change
        return kwargs
    if task == INPAINT:
        return {"image": image, "mask_image": mask, "strength": float(strength if strength is not None else 1.0)}
    return {}


def double_then_single_attention(config) -> tuple[int, int, int]:
    """(attention layers, heads, head dim) of a FLUX-style MM-DiT (FLUX.1, FLUX.2): double- and
    single-stream blocks all attend over text + image rows."""
    return config.num_layers + config.num_single_layers, config.num_attention_heads, config.attention_head_dim
