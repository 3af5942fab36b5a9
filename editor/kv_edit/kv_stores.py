"""The KV stores: the interface, the on-device store, and the ones that save accelerator memory.

- `KVStore`: a map (step, layer) -> recorded entry; subclasses choose placement and precision.
- `DeviceKVStore` ("device"): everything on the compute device, in the compute dtype.

- `CpuKVStore` ("cpu"): recorded keys/values go to pinned host memory on a side CUDA stream while
  the transformer keeps computing; before a layer runs, the engine's `prefetch` hint starts copying
  the *next* layer (or the next step's first layer) back on another side stream, and `get` only
  makes the compute stream wait for that copy's event. At FLUX.1 1024² one step is ~2-3 GB, about
  50 ms over PCIe against ~93 ms of compute on an H100, so the copies hide behind compute.
  Without CUDA it is plain CPU storage (on a CPU-only machine that *is* the device).
- `QuantizedKVStore` ("fp8" / "int8"): one byte per element on the compute device, dequantized to
  the compute dtype on use. fp8 (e4m3) keeps one scale per (batch, head); int8 is uniform, so it
  keeps one scale per (batch, head, token) to follow the per-token spread of keys (3% extra bytes).
  `make_kv_store("fp8", ...)` gives the int8 store where torch cannot make float8 on the device;
  the store's `mode` says which one it is.

`editor.kv_edit.kv_cache.make_kv_store` picks one by mode name.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

FP8_MAX = 448.0  # largest finite float8_e4m3fn
INT8_MAX = 127.0
_ALIGN = 512  # bytes; keeps every slice of a pinned chunk aligned for any dtype and for DMA


# --- the interface and the on-device store ---------------------------------------------------


class KVStore(ABC):
    """Base class: a map (step, layer) -> recorded entry. Subclasses choose placement and precision
    (what an entry is) in `put` and `get`; bookkeeping over the map is shared."""

    mode: str = "base"

    def __init__(self, device: torch.device | str, dtype: torch.dtype):
        self.device = torch.device(device)
        self.dtype = dtype
        self._entries: dict[tuple[int, int], Any] = {}

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

    def _entry(self, step: int, layer: int):
        try:
            return self._entries[(step, layer)]
        except KeyError:
            raise KeyError(f"no recorded keys/values for step {step}, layer {layer}") from None

    @staticmethod
    def _entry_nbytes(entry) -> int:
        # Entries are (key, value) pairs of tensors or of quantized tensors; both have nbytes.
        return sum(part.nbytes for part in entry)

    @property
    def nbytes(self) -> int:
        """Bytes the recorded tensors occupy where they are kept (whatever the placement)."""
        return sum(self._entry_nbytes(e) for e in self._entries.values())

    def has(self, step: int, layer: int) -> bool:
        """Whether (step, layer) was recorded."""
        return (step, layer) in self._entries

    def steps(self) -> list[int]:
        """The steps with at least one recorded layer, ascending."""
        return sorted({step for step, _ in self._entries})

    def clear(self) -> None:
        """Drop everything recorded."""
        self._entries.clear()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(mode={self.mode!r}, device={self.device}, dtype={self.dtype}, nbytes={self.nbytes})"


class DeviceKVStore(KVStore):
    """Everything on the compute device, in the compute dtype: no copies at read time."""

    mode = "device"

    def put(self, step: int, layer: int, key: Tensor, value: Tensor) -> None:
        self._entries[(step, layer)] = (
            key.to(device=self.device, dtype=self.dtype),
            value.to(device=self.device, dtype=self.dtype),
        )

    def get(self, step: int, layer: int) -> tuple[Tensor, Tensor]:
        return self._entry(step, layer)


# --- pinned host memory ----------------------------------------------------------------------


class PinnedArena:
    """Pinned host memory handed out as slices of large chunks.

    Page-locking memory is slow (one driver call per allocation), and a FLUX cache is thousands
    of tensors, so it is done per chunk, not per tensor. Freed all at once with `release`."""

    def __init__(self, chunk_bytes: int = 256 * 2**20):
        self.chunk_bytes = chunk_bytes
        self._chunks: list[Tensor] = []
        self._offset = 0

    def empty(self, shape: torch.Size, dtype: torch.dtype) -> Tensor:
        nbytes = torch.Size(shape).numel() * torch.empty((), dtype=dtype).element_size()
        aligned = -(-nbytes // _ALIGN) * _ALIGN
        if not self._chunks or self._offset + aligned > self._chunks[-1].numel():
            self._chunks.append(torch.empty(max(self.chunk_bytes, aligned), dtype=torch.uint8, pin_memory=True))
            self._offset = 0
        chunk = self._chunks[-1]
        out = chunk[self._offset : self._offset + nbytes].view(dtype).view(shape)
        self._offset += aligned
        return out

    @property
    def reserved_bytes(self) -> int:
        return sum(c.numel() for c in self._chunks)

    def release(self) -> None:
        self._chunks.clear()
        self._offset = 0


@dataclass
class TransferStats:
    """How reads were served, for benchmarks: prefetched copies vs copies made on demand."""

    puts: int = 0
    prefetched_reads: int = 0
    on_demand_reads: int = 0


@dataclass
class _HostEntry:
    key: Tensor
    value: Tensor
    written: object = None  # torch.cuda.Event recorded after the device-to-host copy


@dataclass
class _Staged:
    key: Tensor
    value: Tensor
    ready: object  # torch.cuda.Event recorded after the host-to-device copy


class CpuKVStore(KVStore):
    """Keys/values in (pinned) CPU memory; the next (step, layer) is prefetched on a side stream."""

    mode = "cpu"
    max_staged = 2  # copies on the device at once besides the one in use: enough for one-ahead prefetch

    def __init__(self, device: torch.device | str, dtype: torch.dtype, prefetch: bool = True):
        super().__init__(device, dtype)
        self.prefetch_enabled = prefetch
        self.stats = TransferStats()
        self._staged: dict[tuple[int, int], _Staged] = {}
        self._cuda = self.device.type == "cuda" and torch.cuda.is_available()
        if self._cuda:
            if self.device.index is None:
                self.device = torch.device("cuda", torch.cuda.current_device())
            self._arena = PinnedArena()
            self._to_host = torch.cuda.Stream(self.device)  # device -> host copies (recording)
            self._to_device = torch.cuda.Stream(self.device)  # host -> device copies (prefetch)

    # recording

    def put(self, step: int, layer: int, key: Tensor, value: Tensor) -> None:
        self.stats.puts += 1
        self._staged.pop((step, layer), None)
        if not self._cuda:
            self._entries[(step, layer)] = _HostEntry(
                key.to(device="cpu", dtype=self.dtype), value.to(device="cpu", dtype=self.dtype)
            )
            return
        key = key.to(device=self.device, dtype=self.dtype)
        value = value.to(device=self.device, dtype=self.dtype)
        host_key = self._arena.empty(key.shape, self.dtype)
        host_value = self._arena.empty(value.shape, self.dtype)
        compute = torch.cuda.current_stream(self.device)
        self._to_host.wait_stream(compute)  # the tensors are written by kernels queued on compute
        with torch.cuda.stream(self._to_host):
            host_key.copy_(key, non_blocking=True)
            host_value.copy_(value, non_blocking=True)
            written = torch.cuda.Event()
            written.record(self._to_host)
        # The caller drops its references now; the allocator must not reuse this memory until the
        # side stream has read it.
        key.record_stream(self._to_host)
        value.record_stream(self._to_host)
        self._entries[(step, layer)] = _HostEntry(host_key, host_value, written)

    # reading

    def prefetch(self, step: int, layer: int) -> None:
        if not (self._cuda and self.prefetch_enabled):
            return
        where = (step, layer)
        entry = self._entries.get(where)
        if entry is None or where in self._staged:
            return
        while len(self._staged) >= self.max_staged:
            self._staged.pop(next(iter(self._staged)))  # unused: the allocator reclaims it after the copy
        if entry.written is not None:
            self._to_device.wait_event(entry.written)
        with torch.cuda.stream(self._to_device):
            key = entry.key.to(self.device, non_blocking=True)
            value = entry.value.to(self.device, non_blocking=True)
            ready = torch.cuda.Event()
            ready.record(self._to_device)
        self._staged[where] = _Staged(key, value, ready)

    def get(self, step: int, layer: int) -> tuple[Tensor, Tensor]:
        where = (step, layer)
        staged = self._staged.pop(where, None)
        if staged is not None:
            compute = torch.cuda.current_stream(self.device)
            compute.wait_event(staged.ready)
            # Allocated on the prefetch stream, used on the compute stream from here on.
            staged.key.record_stream(compute)
            staged.value.record_stream(compute)
            self.stats.prefetched_reads += 1
            return staged.key, staged.value
        entry: _HostEntry = self._entry(step, layer)
        self.stats.on_demand_reads += 1
        if not self._cuda:
            if self.device.type == "cpu":
                return entry.key, entry.value
            return entry.key.to(self.device), entry.value.to(self.device)
        compute = torch.cuda.current_stream(self.device)
        if entry.written is not None:
            compute.wait_event(entry.written)
        return entry.key.to(self.device, non_blocking=True), entry.value.to(self.device, non_blocking=True)

    # bookkeeping

    @staticmethod
    def _entry_nbytes(entry: _HostEntry) -> int:
        return entry.key.nbytes + entry.value.nbytes

    @property
    def device_bytes(self) -> int:
        """Accelerator memory held by prefetched copies not yet read."""
        return sum(s.key.nbytes + s.value.nbytes for s in self._staged.values())

    @property
    def pinned_bytes(self) -> int:
        return self._arena.reserved_bytes if self._cuda else 0

    def clear(self) -> None:
        if self._cuda:
            # Host memory may still be the target of a copy in flight.
            self._to_host.synchronize()
            self._to_device.synchronize()
            self._arena.release()
        self._staged.clear()
        super().clear()


# --- 8-bit storage ---------------------------------------------------------------------------


def float8_supported(device: torch.device | str) -> bool:
    """Whether torch can make float8_e4m3fn tensors on this device (and back)."""
    if not hasattr(torch, "float8_e4m3fn"):
        return False
    try:
        probe = torch.tensor([1.5, -3.0], device=device).to(torch.float8_e4m3fn)
        return bool((probe.to(torch.float32).cpu() == torch.tensor([1.5, -3.0])).all())
    except (RuntimeError, TypeError, NotImplementedError):
        return False


@dataclass
class Quantized:
    data: Tensor  # float8_e4m3fn or int8, same shape as the original
    scale: Tensor  # float32; [B, H, 1, 1] (fp8) or [B, H, N, 1] (int8)

    @property
    def nbytes(self) -> int:
        return self.data.nbytes + self.scale.nbytes


def quantize(x: Tensor, fmt: str) -> Quantized:
    """[B, heads, tokens, head_dim] -> 8-bit data with symmetric scales (computed in float32)."""
    xf = x.float()
    if fmt == "fp8":
        # A mask over every token leaves no background to store; amax of nothing is taken as 0.
        amax = xf.abs().amax(dim=(-2, -1), keepdim=True) if xf.numel() else xf.new_zeros((*xf.shape[:-2], 1, 1))
        scale = (amax / FP8_MAX).clamp_min(torch.finfo(torch.float32).tiny)
        return Quantized((xf / scale).clamp(-FP8_MAX, FP8_MAX).to(torch.float8_e4m3fn), scale)
    if fmt == "int8":
        amax = xf.abs().amax(dim=-1, keepdim=True)
        scale = (amax / INT8_MAX).clamp_min(torch.finfo(torch.float32).tiny)
        return Quantized(torch.round(xf / scale).clamp(-INT8_MAX, INT8_MAX).to(torch.int8), scale)
    raise ValueError(f"unknown 8-bit format '{fmt}'")


def dequantize(q: Quantized, dtype: torch.dtype) -> Tensor:
    return (q.data.to(torch.float32) * q.scale).to(dtype)


def roundtrip_error(x: Tensor, fmt: str) -> dict[str, float]:
    """Error of storing `x` in `fmt` and reading it back in x's dtype, relative to x's RMS."""
    back = dequantize(quantize(x, fmt), x.dtype).float()
    ref = x.float()
    rms = ref.pow(2).mean().sqrt().clamp_min(1e-12)
    diff = back - ref
    return {
        "relative_rms": float(diff.pow(2).mean().sqrt() / rms),
        "relative_max": float(diff.abs().max() / ref.abs().max().clamp_min(1e-12)),
    }


class QuantizedKVStore(KVStore):
    """Keys/values as 8-bit data plus scales on the compute device; dequantized on `get`."""

    def __init__(self, device: torch.device | str, dtype: torch.dtype, fmt: str = "fp8"):
        super().__init__(device, dtype)
        if fmt not in ("fp8", "int8"):
            raise ValueError(f"unknown 8-bit format '{fmt}'")
        if fmt == "fp8" and not float8_supported(self.device):
            raise ValueError(f"float8 is not available on {self.device}; use the int8 store")
        self.mode = fmt

    def put(self, step: int, layer: int, key: Tensor, value: Tensor) -> None:
        key = key.to(self.device)
        value = value.to(self.device)
        self._entries[(step, layer)] = (quantize(key, self.mode), quantize(value, self.mode))

    def get(self, step: int, layer: int) -> tuple[Tensor, Tensor]:
        qk, qv = self._entry(step, layer)
        return dequantize(qk, self.dtype), dequantize(qv, self.dtype)


def fp8_or_int8_store(device: torch.device | str, dtype: torch.dtype) -> QuantizedKVStore:
    """The fp8 store, or the int8 one where torch cannot make float8 on `device` (its `mode` says)."""
    return QuantizedKVStore(device, dtype, "fp8" if float8_supported(torch.device(device)) else "int8")
