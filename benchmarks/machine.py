"""The machine a benchmark ran on, described one way for every benchmark.

    from benchmarks.machine import describe      # every benchmark puts the repository root on sys.path
    result["machine"] = describe(device, threads=torch.get_num_threads())

Figures from a shared 2-core development machine mean little without the load it carried, so the
description has the 1-minute load average at the moment it is taken (take one at the start and one
at the end). Package versions are read from the installed metadata, so describing the machine never
imports torch or onnxruntime. Results committed before this module keep their own keys.
"""

from __future__ import annotations

import os
import platform
from importlib import metadata

PACKAGES = ("torch", "diffusers", "transformers", "onnxruntime")


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def device_name(device: str = "cpu") -> str:
    """The accelerator's name for a CUDA device, else the processor's."""
    if str(device).startswith("cuda"):
        import torch

        return torch.cuda.get_device_name(device)
    return platform.processor() or platform.machine()


def load_average() -> float:
    return os.getloadavg()[0]


def describe(device: str = "cpu", threads: int | None = None) -> dict:
    """Device, processor, cores, compute threads, load, Python and package versions, and a
    one-line `summary` for a results page."""
    kind = "cuda" if str(device).startswith("cuda") else str(device)
    cores = os.cpu_count()
    load = load_average()
    versions = {package: v for package in PACKAGES if (v := _version(package)) is not None}
    name = device_name(device)
    where = name if kind == "cuda" else f"{cores}-core CPU ({name})"
    parts = [where, *(f"{p} {v}" for p, v in versions.items() if p in ("torch", "onnxruntime"))]
    if threads is not None:
        parts.append(f"{threads} compute thread{'s' if threads != 1 else ''}")
    parts.append(f"1-minute load {load:.1f} on {cores} cores")
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") if hasattr(os, "sysconf") else None
    return {
        "device": kind,
        "device_name": name,
        "cpu": platform.processor() or platform.machine(),
        "cpu_cores": cores,
        "threads": threads,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "memory_gb": round(memory / 2**30, 1) if memory else None,
        "versions": versions,
        "load_average_1min": load,
        "summary": ", ".join(parts),
    }
