"""Peak memory of a piece of work: CUDA's allocator statistics, or, on the CPU, live tensor bytes.

    with PeakMemory(device) as peak:
        model(x)
    print(peak.bytes)   # peak of tensors created inside the block (CUDA: allocated, minus the start)

The CPU has no allocator statistics, so there every tensor an operation returns is counted by its
storage until the last tensor on that storage is gone (views share their base's storage and are
counted once). Tensors that existed before the block (weights, inputs) are not counted, as on CUDA.
"""

from __future__ import annotations

import weakref

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten


class _LiveTensorBytes(TorchDispatchMode):
    def __init__(self):
        super().__init__()
        self.live = 0
        self.peak = 0
        self._refs: dict[int, list[int]] = {}  # storage address -> [tensors alive, bytes]

    def _release(self, address: int) -> None:
        entry = self._refs.get(address)
        if entry is None:
            return
        entry[0] -= 1
        if entry[0] == 0:
            self.live -= entry[1]
            del self._refs[address]

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in tree_flatten(out)[0]:
            if not isinstance(t, torch.Tensor) or t.device.type == "meta":
                continue
            storage = t.untyped_storage()
            address, nbytes = storage.data_ptr(), storage.nbytes()
            if nbytes == 0:
                continue
            entry = self._refs.get(address)
            if entry is None:
                if any(a is t for a in tree_flatten((args, kwargs))[0]):
                    continue  # an in-place op returning its input: not a new tensor
                self._refs[address] = [1, nbytes]
                self.live += nbytes
                self.peak = max(self.peak, self.live)
            else:
                entry[0] += 1
            weakref.finalize(t, self._release, address)
        return out


class PeakMemory:
    """Context manager; `bytes` is the peak above the starting point once the block has run."""

    def __init__(self, device: torch.device | str):
        self.device = torch.device(device)
        self.bytes = 0
        self._mode: _LiveTensorBytes | None = None
        self._start = 0

    def __enter__(self) -> "PeakMemory":
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self._start = torch.cuda.memory_allocated(self.device)
        else:
            self._mode = _LiveTensorBytes()
            self._mode.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            self.bytes = int(torch.cuda.max_memory_allocated(self.device) - self._start)
        else:
            self._mode.__exit__(*exc)
            self.bytes = self._mode.peak
