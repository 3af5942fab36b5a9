"""What differs between diffusion model families at the pipeline level, one module per family.

A family (FLUX.1, FLUX.2 [klein], Z-Image) is one transformer architecture with its text encoder
and VAE; every diffusion model in the registry belongs to one. Each module here says, for its
family: which diffusers pipeline runs each task, how a prompt is encoded (so embeddings can be
cached and the text encoders leave the accelerator), how the pipelines take those embeddings, and
when true classifier-free guidance runs. The KV-Edit adapters (`editor.kv_edit.families`) build
on the same facts.

A new family is one module here, its tiny backend in `models.tiny`, and one KV-Edit adapter.
"""

from __future__ import annotations

from models.errors import IntactError
from models.families.base import Family, task_inputs
from models.families.flux1 import FLUX1
from models.families.flux2 import FLUX2
from models.families.z_image import Z_IMAGE
from models.vocabulary import CFG

FAMILIES: dict[str, Family] = {family.name: family for family in (FLUX1, FLUX2, Z_IMAGE)}


def family_of(spec) -> Family:
    """The family of a registered diffusion model (a ModelSpec)."""
    try:
        return FAMILIES[spec.family]
    except KeyError:
        raise IntactError(f"'{spec.name}' is not an image generation model.") from None


def supports(spec, task) -> bool:
    """Whether the model `spec` can run `task` (its family has a pipeline for it)."""
    family = FAMILIES.get(spec.family)
    return spec.kind == "diffusion" and family is not None and task in family.pipelines


def cfg_active(spec, guidance: float) -> bool:
    """Whether `guidance` runs true classifier-free guidance (a second, negative-prompt pass) on `spec`."""
    family = FAMILIES.get(spec.family)
    if family is None or family.cfg_above is None or spec.guidance_kind != CFG:
        return False
    return float(guidance) > family.cfg_above


__all__ = ["FAMILIES", "Family", "cfg_active", "family_of", "supports", "task_inputs"]
