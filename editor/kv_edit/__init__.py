"""KV-Edit: training-free image editing that keeps the background (Zhu et al., "KV-Edit: Training-Free
Image Editing for Precise Background Preservation"), on diffusers' transformers of every family
with an adapter in `editor.kv_edit.families` (the loops in `engine.py` are shared).

    session = EditSession(pipe, image, mask, model_name="flux-dev")
    result = session.edit("a red cup", EditOptions(), source_prompt="a white cup")
"""

from editor.kv_edit.kv_cache import DeviceKVStore, KVStore, kv_cache_modes, make_kv_store
from editor.kv_edit.options import EditOptions
from editor.kv_edit.session import EditResult, EditSession

__all__ = [
    "DeviceKVStore",
    "EditOptions",
    "EditResult",
    "EditSession",
    "KVStore",
    "kv_cache_modes",
    "make_kv_store",
]
