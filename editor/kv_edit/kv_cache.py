"""Where the background keys and values recorded during inversion live until the edit reads them.

KV-Edit records, for every denoising step and every attention layer, the post-RoPE keys and values
of the *background* image tokens. At full FLUX.1 size that is gigabytes per step, so where it is
kept is a policy, named by a mode:

    device  everything on the compute device (fastest, most memory)
    cpu     pinned host memory, prefetched one layer ahead
    fp8     8-bit float on the device (int8 where torch has no float8 there; the store says so)
    int8    8-bit integers on the device
    none    not a store: the engine's inversion-free mode, which keeps one step alive

The stores themselves are in `kv_stores.py`; the engine picks one with
`make_kv_store(opts.kv_cache, device, dtype)`. Tensor layout: [batch, heads, n_background, head_dim].
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Callable

import torch

from editor.kv_edit.kv_stores import CpuKVStore, DeviceKVStore, KVStore, QuantizedKVStore, fp8_or_int8_store
from models.vocabulary import INVERSION_FREE, KV_CACHE_MODES, KV_STORE_MODES

__all__ = ["INVERSION_FREE_MODE", "KV_STORES", "DeviceKVStore", "KVStore", "kv_cache_modes", "kv_store_modes", "make_kv_store"]

# "none" is not a store: it names the engine's inversion-free mode, which keeps one step alive.
INVERSION_FREE_MODE = INVERSION_FREE

StoreFactory = Callable[[torch.device, torch.dtype], KVStore]


# Mode -> how to build its store, in the order of `models.vocabulary.KV_STORE_MODES` (fastest
# first). Read-only: a new store is a new mode there and a factory here.
KV_STORES: MappingProxyType[str, StoreFactory] = MappingProxyType(
    dict(zip(KV_STORE_MODES, (
        DeviceKVStore,
        CpuKVStore,
        fp8_or_int8_store,
        lambda device, dtype: QuantizedKVStore(device, dtype, "int8"),
    ), strict=True))
)


def kv_store_modes() -> tuple[str, ...]:
    """Every store mode (not counting the inversion-free "none")."""
    return KV_STORE_MODES


def kv_cache_modes() -> tuple[str, ...]:
    """What `EditOptions.kv_cache` accepts: the store modes plus "none" (inversion-free)."""
    return KV_CACHE_MODES


def make_kv_store(mode: str, device: torch.device | str, dtype: torch.dtype) -> KVStore:
    """A new, empty store for `mode`. Its `mode` attribute is what it really is (fp8 may be int8)."""
    try:
        factory = KV_STORES[mode]
    except KeyError:
        known = ", ".join(kv_cache_modes())
        raise ValueError(f"Unknown KV cache mode '{mode}'. Known modes: {known}.") from None
    return factory(torch.device(device), dtype)
