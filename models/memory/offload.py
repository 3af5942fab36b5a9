"""Applying a MemoryPlan to a loaded pipeline with what diffusers already provides.

- offload "none": transformer and VAE on the device; text encoders rest on the CPU and visit the
  device to encode (`prompt_cache.text_encoders_on`).
- offload "model": `enable_model_cpu_offload` (one whole component on the device at a time).
- offload "group": `enable_group_offload` on the transformer, block by block, with a CUDA stream
  so the next block's weights are copied while the current one computes; VAE stays on the device.
- VAE: `enable_tiling` (tiles of 512 px; FLUX's VAE would otherwise only tile above 1024 px) and
  `enable_slicing`.
- feature chunking: the blocks' MLPs over token slices (`chunking.set_feature_chunking`), set
  before any offload hook so group offloading wraps it.
- weight quantization is chosen when loading (`quantization_config`), not applied afterwards.

`apply_memory_plan` first undoes whatever an earlier plan set, so the out-of-memory fallback can
switch plans on the same pipeline.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from models.memory.chunking import set_feature_chunking
from models.memory.planner import MemoryPlan
from models.memory.prompt_cache import release_text_encoders, text_encoders

VAE_TILE_PIXELS = 512
_GROUP_OFFLOAD_HOOKS = ("group_offloading", "layer_execution_tracker", "lazy_prefetch_group_offloading")


@dataclass(frozen=True)
class AppliedPlan:
    """What was set on the pipeline, for reports."""

    plan: MemoryPlan
    device: torch.device  # where the model computes
    text_encoder_device: torch.device  # where prompts are encoded


def _has_group_offload(module: torch.nn.Module) -> bool:
    return any(hasattr(m, "_diffusers_hook") and m._diffusers_hook.get_hook("group_offloading") is not None for m in module.modules())


def _remove_group_offload(module: torch.nn.Module) -> None:
    from diffusers.hooks import HookRegistry

    if not _has_group_offload(module):
        return
    registry = HookRegistry.check_if_exists_or_initialize(module)
    for name in _GROUP_OFFLOAD_HOOKS:
        registry.remove_hook(name, recurse=True)


def _default_vae_tiles(vae) -> tuple[int, int]:
    size = vae.config.sample_size
    size = size[0] if isinstance(size, (list, tuple)) else size
    return int(size), int(size / (2 ** (len(vae.config.block_out_channels) - 1)))


def set_vae_tiling(vae, enabled: bool, tile_pixels: int = VAE_TILE_PIXELS) -> None:
    """Tiled + sliced VAE with tiles of at most `tile_pixels`, or the VAE's defaults."""
    if vae is None:
        return
    sample, latent = _default_vae_tiles(vae)
    if enabled:
        factor = sample // latent
        sample = min(sample, tile_pixels)
        vae.tile_sample_min_size, vae.tile_latent_min_size = sample, sample // factor
        vae.enable_tiling()
        vae.enable_slicing()
    else:
        vae.tile_sample_min_size, vae.tile_latent_min_size = sample, latent
        vae.disable_tiling()
        vae.disable_slicing()


def reset_memory_options(pipe) -> None:
    """Remove offload hooks (model, sequential, group), feature chunking and VAE tiling; weights
    stay where they are."""
    pipe.remove_all_hooks()
    for component in pipe.components.values():
        if isinstance(component, torch.nn.Module):
            _remove_group_offload(component)
    if isinstance(getattr(pipe, "transformer", None), torch.nn.Module):
        set_feature_chunking(pipe.transformer, 1)
    set_vae_tiling(getattr(pipe, "vae", None), False)


def is_quantized(module: torch.nn.Module) -> bool:
    return getattr(module, "hf_quantizer", None) is not None or getattr(getattr(module, "config", None), "quantization_config", None) is not None


def quantization_config(plan: MemoryPlan):
    """The diffusers PipelineQuantizationConfig to load the model with for this plan, or None.

    NF4 uses bitsandbytes (CUDA only), int8 uses torchao's weight-only int8 (torchao >= 0.15).
    Only the transformer and the big text encoder are quantized, never CLIP or the VAE. A mapping
    is given per component because diffusers and transformers have their own config classes."""
    if plan.weight_quantization is None:
        return None
    import diffusers
    import transformers
    from diffusers.quantizers import PipelineQuantizationConfig

    text = "text_encoder" if plan.model == "z-image-turbo" else "text_encoder_2"
    if plan.weight_quantization == "nf4":
        kwargs = {"load_in_4bit": True, "bnb_4bit_quant_type": "nf4", "bnb_4bit_compute_dtype": torch.bfloat16}
        mapping = {
            "transformer": diffusers.BitsAndBytesConfig(**kwargs),
            text: transformers.BitsAndBytesConfig(**kwargs),
        }
    elif plan.weight_quantization == "int8":
        from torchao.quantization import Int8WeightOnlyConfig

        mapping = {
            "transformer": diffusers.TorchAoConfig(Int8WeightOnlyConfig()),
            text: transformers.TorchAoConfig(Int8WeightOnlyConfig()),
        }
    else:
        raise ValueError(f"unknown weight quantization '{plan.weight_quantization}'")
    return PipelineQuantizationConfig(quant_mapping=mapping)


def resolve_device(device: torch.device | str) -> torch.device:
    """A concrete device: "cuda" becomes "cuda:<current>" (hooks and streams need the index)."""
    device = torch.device(device)
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", torch.cuda.current_device())
    return device


def require_quantized_weights(pipe, plan) -> None:
    """An IntactError when `plan` needs quantized weights the loaded model does not have."""
    wanted = getattr(plan, "weight_quantization", None)
    if wanted and not is_quantized(pipe.transformer):
        from models.errors import IntactError

        raise IntactError(
            f"This memory plan needs {wanted.upper()} weights, but the model was loaded "
            f"unquantized: load it with models.memory.offload.quantization_config(plan)."
        )


def place_pipeline(pipe, offload: str, vae_tiling: bool, text_encoders_on_device: bool, device: torch.device | str,
                   feature_chunks: int = 1) -> torch.device:
    """Set offloading, feature chunking and VAE options on `pipe`, replacing earlier ones; the one
    implementation behind `apply_memory_plan` and the model manager. Returns where prompts are encoded."""
    device = resolve_device(device)
    reset_memory_options(pipe)
    set_feature_chunking(pipe.transformer, feature_chunks)  # before offload hooks: they must wrap it
    cpu = torch.device("cpu")
    te_device = device if text_encoders_on_device else cpu
    streams = device.type == "cuda"

    if offload == "none":
        pipe.transformer.to(device)
        pipe.vae.to(device)
        release_text_encoders(pipe, cpu)  # they visit `te_device` only while encoding
    elif offload == "model":
        pipe.enable_model_cpu_offload(device=device)
        if not text_encoders_on_device:
            # Keep the encoders out of the hook chain: they run where they are, on the CPU.
            from accelerate.hooks import remove_hook_from_module

            for module in text_encoders(pipe):
                remove_hook_from_module(module, recurse=True)
                module.to(cpu)
    elif offload == "group":
        pipe.vae.to(device)
        release_text_encoders(pipe, cpu)
        pipe.transformer.to(cpu)  # group offload keeps its copies where the weights start: on the CPU
        pipe.transformer.enable_group_offload(
            onload_device=device,
            offload_device=cpu,
            offload_type="block_level",
            num_blocks_per_group=1,
            use_stream=streams,  # copy block i+1 on a side stream while block i computes
            record_stream=streams,
            low_cpu_mem_usage=False,  # pin the CPU copies once: pinned memory is what lets copies overlap
        )
    else:
        raise ValueError(f"unknown offload mode '{offload}'")
    set_vae_tiling(pipe.vae, vae_tiling)
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return te_device


def apply_memory_plan(pipe, plan: MemoryPlan, device: torch.device | str | None = None) -> AppliedPlan:
    """Set the plan's offloading and VAE options on `pipe` (replacing earlier ones)."""
    if device is None:
        device = "cuda" if plan.device == "cuda" else "cpu"
    device = resolve_device(device)
    require_quantized_weights(pipe, plan)
    te_device = place_pipeline(pipe, plan.offload, plan.vae_tiling, plan.text_encoders == "device", device,
                               getattr(plan, "feature_chunks", 1))
    return AppliedPlan(plan, device, te_device)
