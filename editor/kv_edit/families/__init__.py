"""KV-Edit adapters, one module per model family (see `base.FamilyAdapter` for what one says).

    adapter = adapter_for(pipe, "flux-dev")      # by the pipeline's transformer
    family_of_transformer(pipe.transformer)      # the adapter class
    kv_layers_of(pipe.transformer)               # the attention layers KV-Edit records and replays

A new family is one module here with a FamilyAdapter subclass, listed in ADAPTERS.
"""

from __future__ import annotations

from editor.kv_edit.attention import KVLayer
from editor.kv_edit.families.base import Canvas, FamilyAdapter, Prompt
from editor.kv_edit.families.flux1 import Flux1Adapter
from editor.kv_edit.families.flux2 import Flux2Adapter
from editor.kv_edit.families.z_image import ZImageAdapter
from models.errors import IntactError

ADAPTERS: tuple[type[FamilyAdapter], ...] = (Flux1Adapter, Flux2Adapter, ZImageAdapter)


class UnsupportedFamilyError(IntactError):
    """A pipeline whose transformer no KV-Edit adapter knows."""

    key = "kv_edit_unsupported_model"


def family_of_transformer(transformer) -> type[FamilyAdapter]:
    """The adapter class for a diffusers transformer (by its class, or a subclass of it)."""
    names = {cls.__name__ for cls in type(transformer).__mro__}
    for adapter in ADAPTERS:
        if adapter.transformer_class in names:
            return adapter
    raise UnsupportedFamilyError(
        f"KV-Edit does not support this model ({type(transformer).__name__}).", field="model",
        name=type(transformer).__name__,
    )


def adapter_for(pipe, model_name: str = "") -> FamilyAdapter:
    """The adapter for `pipe` (any pipeline whose transformer a family here drives)."""
    return family_of_transformer(pipe.transformer)(pipe, model_name)


def kv_layers_of(transformer) -> dict[str, KVLayer]:
    """The attention layers KV-Edit records and replays in `transformer` (the engine keeps its own)."""
    return family_of_transformer(transformer).kv_layers(transformer)


def kv_edit_families() -> tuple[str, ...]:
    """Registry family names KV-Edit runs on."""
    return tuple(adapter.family for adapter in ADAPTERS)


__all__ = ["ADAPTERS", "Canvas", "FamilyAdapter", "Prompt", "UnsupportedFamilyError", "adapter_for",
           "family_of_transformer", "kv_edit_families", "kv_layers_of"]
