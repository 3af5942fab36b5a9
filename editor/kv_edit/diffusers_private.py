"""Every private diffusers (and accelerate) name KV-Edit relies on, listed once.

diffusers keeps some helpers KV-Edit needs behind a leading underscore: the FLUX pipelines' latent
packing and position ids, the attention modules' q/k/v projection helpers, the pipeline's execution
device. A diffusers upgrade may move or rename any of them without notice, so they are all looked up
here, by name, and nowhere else; `moved()` says which ones a given install lacks, and
tests/editor/kv_edit/test_diffusers_private.py fails with that list.

Public alternatives were preferred where they exist (the blocks are called with keywords, the model
through its own forward where it can be). No public name reaches these:
- packing and position ids are static methods of the pipelines (their math is tied to the model);
- the projections must be exactly the processor's, so LoRA layers and fused projections keep working;
- accelerate's model CPU offload moves a model in a hook on its `forward`; Z-Image's adapter runs
  the model's submodules on token rows itself, so it calls that hook's `pre_forward` (no public
  API asks a hook to place its module without calling the module).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class PrivateName:
    """`path` inside `module` (dots go through attributes: "FluxPipeline._pack_latents")."""

    module: str
    path: str
    used_for: str

    @property
    def spelled(self) -> str:
        return f"{self.module}.{self.path}"


_FLUX = "diffusers.pipelines.flux.pipeline_flux"
_FLUX2 = "diffusers.pipelines.flux2.pipeline_flux2_klein"

FLUX_QKV = PrivateName("diffusers.models.transformers.transformer_flux", "_get_qkv_projections",
                       "FLUX.1 attention: the processor's own q/k/v projections")
FLUX2_QKV = PrivateName("diffusers.models.transformers.transformer_flux2", "_get_qkv_projections",
                        "FLUX.2 double-stream attention: the processor's own q/k/v projections")
FLUX_PACK = PrivateName(_FLUX, "FluxPipeline._pack_latents", "FLUX.1 latents -> tokens")
FLUX_UNPACK = PrivateName(_FLUX, "FluxPipeline._unpack_latents", "FLUX.1 tokens -> latents")
FLUX_IMAGE_IDS = PrivateName(_FLUX, "FluxPipeline._prepare_latent_image_ids", "FLUX.1 position ids")
FLUX2_PACK = PrivateName(_FLUX2, "Flux2KleinPipeline._pack_latents", "FLUX.2 latents -> tokens")
FLUX2_PATCHIFY = PrivateName(_FLUX2, "Flux2KleinPipeline._patchify_latents", "FLUX.2 2×2 patches")
FLUX2_UNPATCHIFY = PrivateName(_FLUX2, "Flux2KleinPipeline._unpatchify_latents", "FLUX.2 patches -> latents")
FLUX2_IMAGE_IDS = PrivateName(_FLUX2, "Flux2KleinPipeline._prepare_latent_ids", "FLUX.2 position ids")
EXECUTION_DEVICE = PrivateName("diffusers", "DiffusionPipeline._execution_device",
                               "where a pipeline (offloaded or not) runs its models")
ATTENTION_BACKEND = PrivateName("diffusers.models.transformers.transformer_flux", "FluxAttnProcessor._attention_backend",
                                "the attention backend a replaced processor had")
PARALLEL_CONFIG = PrivateName("diffusers.models.transformers.transformer_flux", "FluxAttnProcessor._parallel_config",
                              "the context-parallel config a replaced processor had")
OFFLOAD_HOOK = PrivateName("accelerate.hooks", "CpuOffload.pre_forward",
                           "model CPU offload: place the Z-Image transformer (module._hf_hook)")

PRIVATE_NAMES: tuple[PrivateName, ...] = (
    FLUX_QKV, FLUX2_QKV, FLUX_PACK, FLUX_UNPACK, FLUX_IMAGE_IDS, FLUX2_PACK, FLUX2_PATCHIFY, FLUX2_UNPATCHIFY,
    FLUX2_IMAGE_IDS, EXECUTION_DEVICE, ATTENTION_BACKEND, PARALLEL_CONFIG, OFFLOAD_HOOK,
)


def resolve(name: PrivateName):
    """The object `name` spells; AttributeError / ImportError when this install lacks it."""
    found = importlib.import_module(name.module)
    for part in name.path.split("."):
        found = getattr(found, part)
    return found


def moved(names: tuple[PrivateName, ...] = PRIVATE_NAMES) -> list[str]:
    """One line per name this install lacks: what it was and what KV-Edit used it for."""
    lines = []
    for name in names:
        try:
            resolve(name)
        except (ImportError, AttributeError) as error:
            lines.append(f"{name.spelled} (used for: {name.used_for}): {type(error).__name__}: {error}")
    return lines


# -- the names, bound once (a missing one fails at import, with the list above in the test) --------

flux_qkv_projections = resolve(FLUX_QKV)
flux2_qkv_projections = resolve(FLUX2_QKV)
flux_pack_latents = resolve(FLUX_PACK)
flux_unpack_latents = resolve(FLUX_UNPACK)
flux_image_ids = resolve(FLUX_IMAGE_IDS)
flux2_pack_latents = resolve(FLUX2_PACK)
flux2_patchify_latents = resolve(FLUX2_PATCHIFY)
flux2_unpatchify_latents = resolve(FLUX2_UNPATCHIFY)
flux2_image_ids = resolve(FLUX2_IMAGE_IDS)


def execution_device(pipe) -> torch.device:
    """The device a pipeline runs its models on (its accelerator under model CPU offload)."""
    return torch.device(pipe._execution_device)


def attention_settings(processor) -> tuple[object, object]:
    """The (attention backend, parallel config) a diffusers attention processor was set up with."""
    return getattr(processor, "_attention_backend", None), getattr(processor, "_parallel_config", None)


def place_offloaded(model) -> None:
    """Under accelerate's model CPU offload, move `model` to its device (and offload the model that
    ran before it) as its forward would; nothing without offload."""
    hook = getattr(model, "_hf_hook", None)
    if hook is not None:
        hook.pre_forward(model)
