"""Where the background keys and values recorded during inversion live until the edit reads them.

KV-Edit records, for every denoising step and every attention layer, the post-RoPE keys and values
of the *background* image tokens. At full FLUX.1 size that is gigabytes per step, so where it is
kept is a policy: `DeviceKVStore` keeps everything on the compute device (fastest, most memory);
other stores (CPU offload, fp8, int8; `editor/kv_edit/kv_stores.py`) trade speed or precision for
memory. The engine only talks to the `KVStore` interface below and picks a store with
`make_kv_store(opts.kv_cache, device, dtype)`.

Tensor layout everywhere: [batch, heads, n_background, head_dim].
"""

from __future__ import annotations

import importlib
import importlib.util
from abc import ABC, abstractmethod
from typing import Callable

import torch
from torch import Tensor

# "none" is not a store: it names the engine's inversion-free mode, which keeps one step alive.
INVERSION_FREE_MODE = "none"


class KVStore(ABC):
    """Base class: a map (step, layer) -> (key, value). Subclasses choose placement and precision."""

    mode: str = "base"

    def __init__(self, device: torch.device | str, dtype: torch.dtype):
        self.device = torch.device(device)
        self.dtype = dtype

    @abstractmethod
    def put(self, step: int, layer: int, key: Tensor, value: Tensor) -> None:
        """Keep (key, value) for (step, layer). The store may keep the given tensors without copying:
        callers hand over freshly gathered tensors they no longer touch."""

    @abstractmethod
    def get(self, step: int, layer: int) -> tuple[Tensor, Tensor]:
        """(key, value) on the compute device, in the compute dtype. Raises KeyError when absent."""

    def prefetch(self, step: int, layer: int) -> None:
        """Hint that (step, layer) is read next, so an offloading store can start the copy early.
        Stores that keep everything on the device ignore it."""

    @property
    @abstractmethod
    def nbytes(self) -> int:
        """Bytes the recorded tensors occupy where they are kept (whatever the placement)."""

    @abstractmethod
    def clear(self) -> None:
        """Drop everything recorded."""

    @abstractmethod
    def has(self, step: int, layer: int) -> bool:
        """Whether (step, layer) was recorded."""

    @abstractmethod
    def steps(self) -> list[int]:
        """The steps with at least one recorded layer, ascending."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(mode={self.mode!r}, device={self.device}, dtype={self.dtype}, nbytes={self.nbytes})"


class DeviceKVStore(KVStore):
    """Everything on the compute device, in the compute dtype: no copies at read time."""

    mode = "device"

    def __init__(self, device: torch.device | str, dtype: torch.dtype):
        super().__init__(device, dtype)
        self._entries: dict[tuple[int, int], tuple[Tensor, Tensor]] = {}

    def put(self, step: int, layer: int, key: Tensor, value: Tensor) -> None:
        self._entries[(step, layer)] = (
            key.to(device=self.device, dtype=self.dtype),
            value.to(device=self.device, dtype=self.dtype),
        )

    def get(self, step: int, layer: int) -> tuple[Tensor, Tensor]:
        try:
            return self._entries[(step, layer)]
        except KeyError:
            raise KeyError(f"no recorded keys/values for step {step}, layer {layer}") from None

    def has(self, step: int, layer: int) -> bool:
        return (step, layer) in self._entries

    def steps(self) -> list[int]:
        return sorted({step for step, _ in self._entries})

    @property
    def nbytes(self) -> int:
        return sum(k.nbytes + v.nbytes for k, v in self._entries.values())

    def clear(self) -> None:
        self._entries.clear()


StoreFactory = Callable[[torch.device, torch.dtype], KVStore]

_FACTORIES: dict[str, StoreFactory] = {"device": DeviceKVStore}
# Extra stores live in their own module (owned by the memory work); it registers itself on import.
_EXTRA_STORES_MODULE = "editor.kv_edit.kv_stores"


def register_kv_store(mode: str, factory: StoreFactory) -> None:
    """Make `make_kv_store(mode, ...)` build stores with `factory(device, dtype)`."""
    if mode == INVERSION_FREE_MODE:
        raise ValueError(f"'{INVERSION_FREE_MODE}' is reserved for the inversion-free mode")
    _FACTORIES[mode] = factory


def _load_extra_stores() -> None:
    # Imported lazily and only if present, so this module works before the extra stores exist;
    # a broken kv_stores module still raises (find_spec only answers "is it there").
    if importlib.util.find_spec(_EXTRA_STORES_MODULE) is not None:
        importlib.import_module(_EXTRA_STORES_MODULE)


def kv_store_modes() -> tuple[str, ...]:
    """Every store mode that can be built here (not counting the inversion-free "none")."""
    _load_extra_stores()
    return tuple(_FACTORIES)


def kv_cache_modes() -> tuple[str, ...]:
    """What `EditOptions.kv_cache` accepts: the store modes plus "none" (inversion-free)."""
    return kv_store_modes() + (INVERSION_FREE_MODE,)


def make_kv_store(mode: str, device: torch.device | str, dtype: torch.dtype) -> KVStore:
    _load_extra_stores()
    try:
        factory = _FACTORIES[mode]
    except KeyError:
        known = ", ".join(kv_cache_modes())
        raise ValueError(f"Unknown KV cache mode '{mode}'. Known modes: {known}.") from None
    return factory(torch.device(device), dtype)
