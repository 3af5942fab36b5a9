"""A tiny typed node graph that reruns a step only when its inputs changed.

A node declares the types of its inputs and of its output. `Graph.run(node, slot, **inputs)`
fingerprints the inputs (the fingerprint of an upstream node's output stands for that output,
so big arrays are hashed once) and returns the cached output when the fingerprint matches the
last run of that node in that slot (a slot is e.g. one ad format). The graph belongs to its
caller, so two users never share results.
"""

from __future__ import annotations

import dataclasses
import hashlib
from abc import ABC, abstractmethod
from collections import Counter
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from PIL import Image


@dataclass(frozen=True)
class Output:
    """A node's result plus the fingerprint of everything that produced it."""

    value: Any
    fingerprint: str
    node: str


def _feed(h, value: Any) -> None:
    if isinstance(value, Output):
        h.update(b"O" + value.fingerprint.encode())
    elif value is None or isinstance(value, (bool, int, float, str, bytes)):
        h.update(f"{type(value).__name__}:{value!r}".encode())
    elif isinstance(value, np.ndarray):
        h.update(f"nd:{value.dtype}:{value.shape}".encode())
        h.update(np.ascontiguousarray(value).tobytes())
    elif isinstance(value, Image.Image):
        h.update(f"pil:{value.mode}:{value.size}".encode())
        h.update(value.tobytes())
    elif isinstance(value, (list, tuple)):
        h.update(f"seq{len(value)}(".encode())
        for item in value:
            _feed(h, item)
        h.update(b")")
    elif isinstance(value, dict):
        h.update(f"map{len(value)}(".encode())
        for key in sorted(value, key=repr):
            _feed(h, key)
            _feed(h, value[key])
        h.update(b")")
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        h.update(type(value).__qualname__.encode())
        for f in dataclasses.fields(value):
            _feed(h, f.name)
            _feed(h, getattr(value, f.name))
    else:
        # Refusing is safer than hashing id()/repr and silently reusing a stale result.
        raise TypeError(f"cannot fingerprint a {type(value).__name__} node input")


def fingerprint(value: Any) -> str:
    h = hashlib.sha256()
    _feed(h, value)
    return h.hexdigest()


class NodeTypeError(TypeError):
    pass


class Node(ABC):
    """One step. Subclasses set `name`, `inputs` (name → type or tuple of types), `output`, and
    implement `compute(**inputs)`. Bump `version` when the computation itself changes."""

    name: ClassVar[str]
    inputs: ClassVar[dict[str, Any]]
    output: ClassVar[Any]
    version: ClassVar[str] = "1"

    @abstractmethod
    def compute(self, **inputs):
        """The step itself: inputs as declared, returns an instance of `output`."""

    def still_valid(self, value) -> bool:
        """False when a cached result went stale outside the graph (e.g. a saved file was deleted)."""
        return True


class Graph:
    def __init__(self):
        self._cache: dict[str, Output] = {}
        self.runs: Counter[str] = Counter()  # how often each node really computed
        self.events: list[tuple[str, str]] = []  # (slot key, "ran" | "cached"), for reports and tests

    def run(self, node: Node, slot: str = "", **inputs) -> Output:
        key = f"{node.name}[{slot}]" if slot else node.name
        declared = node.inputs
        if set(inputs) != set(declared):
            raise NodeTypeError(f"{node.name} takes inputs {sorted(declared)}; got {sorted(inputs)}")
        values = {}
        for arg, expected in declared.items():
            given = inputs[arg]
            value = given.value if isinstance(given, Output) else given
            if not isinstance(value, expected):
                raise NodeTypeError(f"{node.name}.{arg} must be {expected}; got {type(value).__name__}")
            values[arg] = value
        fp = fingerprint((node.name, node.version, sorted(inputs.items())))
        cached = self._cache.get(key)
        if cached is not None and cached.fingerprint == fp and node.still_valid(cached.value):
            self.events.append((key, "cached"))
            return cached
        value = node.compute(**values)
        if not isinstance(value, node.output):
            raise NodeTypeError(f"{node.name} must return {node.output}; returned {type(value).__name__}")
        out = Output(value, fp, node.name)
        self._cache[key] = out
        self.runs[node.name] += 1
        self.events.append((key, "ran"))
        return out
