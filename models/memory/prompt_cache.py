"""Encoded prompts, cached per (model, prompt, max length), and text encoders that leave the GPU.

FLUX's T5-XXL is 9.5 GB in bf16 and is needed only to turn a prompt into embeddings (4 MB). So
the text encoders visit the accelerator to encode and go back to the CPU right after, and the
embeddings are kept in an LRU the caller owns (one per session or per app, never a global), so
editing with the same prompt again does not need the encoders at all.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from contextlib import contextmanager
from typing import Callable, Hashable, Iterator, TypeVar

import torch

T = TypeVar("T")

TEXT_ENCODER_NAMES = ("text_encoder", "text_encoder_2")


class PromptEmbeddingCache:
    """Least-recently-used cache of encoded prompts. Thread-safe; values are kept as given."""

    def __init__(self, capacity: int = 32):
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self._entries: OrderedDict[Hashable, object] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    @staticmethod
    def key(model: str, prompt: str, max_length: int) -> tuple[str, str, int]:
        return (model, prompt, int(max_length))

    def get(self, key: Hashable):
        with self._lock:
            if key not in self._entries:
                return None
            self._entries.move_to_end(key)
            return self._entries[key]

    def put(self, key: Hashable, value) -> None:
        with self._lock:
            self._entries[key] = value
            self._entries.move_to_end(key)
            while len(self._entries) > self.capacity:
                self._entries.popitem(last=False)

    def get_or_encode(self, model: str, prompt: str, max_length: int, encode: Callable[[], T]) -> T:
        """The cached value, or `encode()` stored under (model, prompt, max_length).
        Encoding runs outside the lock so other prompts are not held up."""
        key = self.key(model, prompt, max_length)
        value = self.get(key)
        if value is not None:
            with self._lock:
                self.hits += 1
            return value
        value = encode()
        with self._lock:
            self.misses += 1
        self.put(key, value)
        return value

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def __contains__(self, key: Hashable) -> bool:
        with self._lock:
            return key in self._entries

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def _managed_by_offload_hooks(module: torch.nn.Module) -> bool:
    """Model/sequential CPU offload (accelerate) or group offload (diffusers) moves it itself."""
    return hasattr(module, "_hf_hook") or any(hasattr(m, "_diffusers_hook") for m in module.modules())


def text_encoders(pipe) -> list[torch.nn.Module]:
    return [m for m in (getattr(pipe, n, None) for n in TEXT_ENCODER_NAMES) if isinstance(m, torch.nn.Module)]


def _device_of(module: torch.nn.Module) -> torch.device:
    for p in module.parameters():
        return p.device
    return torch.device("cpu")


def release_text_encoders(pipe, to: torch.device | str = "cpu") -> int:
    """Move the text encoders off the accelerator; returns the bytes moved. Modules moved by
    offload hooks are left to them."""
    moved = 0
    for module in text_encoders(pipe):
        if _managed_by_offload_hooks(module) or _device_of(module) == torch.device(to):
            continue
        moved += sum(p.numel() * p.element_size() for p in module.parameters())
        module.to(to)
    if moved and torch.cuda.is_available():
        torch.cuda.empty_cache()
    return moved


@contextmanager
def text_encoders_on(pipe, device: torch.device | str) -> Iterator[None]:
    """The text encoders on `device` for the block, back where they were afterwards."""
    device = torch.device(device)
    moved: list[tuple[torch.nn.Module, torch.device]] = []
    try:
        for module in text_encoders(pipe):
            if _managed_by_offload_hooks(module):
                continue
            where = _device_of(module)
            if where != device:
                module.to(device)
                moved.append((module, where))
        yield
    finally:
        for module, where in moved:
            module.to(where)
        if moved and torch.cuda.is_available():
            torch.cuda.empty_cache()


def encode_cached(
    pipe,
    encode,
    prompt: str,
    max_sequence_length: int,
    device: torch.device | str,
    *,
    cache: PromptEmbeddingCache | None = None,
    model_name: str = "",
    encode_device: torch.device | str | None = None,
) -> tuple:
    """The prompt's embeddings on `device`, from `encode(pipe, prompt, max_sequence_length, device)`
    (a family's encoder, `models.families`), as a tuple of tensors.

    The text encoders run on `encode_device` (default: `device`; "cpu" for plans that keep them
    off a small GPU) and go back to where they were. With a cache, a prompt seen before is not
    encoded again; cached copies are kept on the CPU."""
    device = torch.device(device)
    encode_device = torch.device(encode_device) if encode_device is not None else device

    def run():
        with text_encoders_on(pipe, encode_device), torch.no_grad():
            encoded = encode(pipe, prompt, max_sequence_length, encode_device)
        return tuple(t.cpu() for t in encoded)

    if cache is None:
        result = run()
    else:
        if not model_name:
            raise ValueError("a cached prompt needs the model name (prompts encode differently per model)")
        result = cache.get_or_encode(model_name, prompt, max_sequence_length, run)
    return tuple(t.to(device) for t in result)


def encode_flux_prompt(pipe, prompt: str, max_sequence_length: int, device: torch.device | str, **kwargs):
    """(prompt_embeds, pooled_prompt_embeds, text_ids) on `device`, like FluxPipeline.encode_prompt
    (see `encode_cached` for the keywords)."""
    from models.families.flux1 import encode

    return encode_cached(pipe, encode, prompt, max_sequence_length, device, **kwargs)
