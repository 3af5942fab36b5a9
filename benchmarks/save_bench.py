"""The save stage of an ad job: before and after "encode each picture once, in parallel".

Before (round 2): the Studio zipped the formats first (`_zip_of`: each picture encoded as PNG for
the zip), then `OutputStore.save_job` encoded each picture again, one after another, with the job
record inside. After: `save_job` encodes each picture once, on a thread per core (zlib releases
the GIL), and the zip is made from those bytes (`JobFile(zip_of=...)`); no record inside.

    python -m benchmarks.save_bench [--runs 5] [--formats instagram-square story web-banner ...]

The "before" path is the round-2 code itself, read from git (`--before-commit`, default the commit
before the change), so the comparison is with what shipped, not a re-enactment. Prints each run's
seconds and the medians; both paths write into a temporary output folder.
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
BEFORE = "de49388"  # the last commit before the save-stage change (branch i22)


def _old_storage(commit: str):
    """editor/storage.py as it was at `commit`, imported under its own name."""
    source = subprocess.run(["git", "show", f"{commit}:editor/storage.py"], cwd=ROOT, capture_output=True,
                            text=True, check=True).stdout
    path = Path(tempfile.mkdtemp()) / "storage_before.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("storage_before", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["storage_before"] = module  # its dataclasses look their module up while being made
    spec.loader.exec_module(module)
    return module


def _old_zip_of(files) -> bytes:
    """The round-2 Studio's `_zip_of` (editor/studio/studio.py at BEFORE), as it was."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        for f in files:
            png = io.BytesIO()
            f.image.save(png, format="PNG")
            archive.writestr(f.name, png.getvalue())
    return buffer.getvalue()


def _pictures(formats: list[str]) -> dict[str, Image.Image]:
    """Ad-like pictures at each format's size: a product shot on a smooth backdrop, with grain."""
    from editor.ad.formats import get_format
    from editor.ad.samples import product_shot

    out = {}
    rng = np.random.default_rng(0)
    for name in formats:
        fmt = get_format(name)
        rgb = product_shot("plain", fmt.width, fmt.height).rgb.astype(np.int16)
        rgb += rng.integers(-2, 3, rgb.shape, dtype=np.int16)  # the backdrop's grain, as rendered ads have
        out[name] = Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8))
    return out


def _record() -> dict:
    return {"task": "ad", "caption": "가을 신메뉴", "owner": "ab12cd34", "request": {"headline": "가을 신메뉴"},
            "report": {"memory_plan": {"explanation": "21.1 GB RAM free"}, "formats": {}}}


def run_before(storage, pictures: dict[str, Image.Image], root: Path) -> float:
    files = [storage.JobFile(f"ad:{n}", f"{n}.png", image=img) for n, img in pictures.items()]
    start = time.perf_counter()
    files.append(storage.JobFile("zip", "ads.zip", data=_old_zip_of(files)))
    storage.OutputStore(root).save_job(_record(), files)
    return time.perf_counter() - start


def run_after(pictures: dict[str, Image.Image], root: Path) -> float:
    from editor import storage

    files = [storage.JobFile(f"ad:{n}", f"{n}.png", image=img) for n, img in pictures.items()]
    start = time.perf_counter()
    files.append(storage.JobFile("zip", "ads.zip", zip_of=tuple(f.name for f in files)))
    storage.OutputStore(root).save_job(_record(), files)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--formats", nargs="+",
                        default=["instagram-square", "instagram-portrait", "story", "web-banner"])
    parser.add_argument("--before-commit", default=BEFORE)
    args = parser.parse_args(argv)
    import os

    pictures = _pictures(args.formats)
    old = _old_storage(args.before_commit)
    sizes = ", ".join(f"{n} {p.width}×{p.height}" for n, p in pictures.items())
    print(f"ad job save stage: {len(pictures)} formats ({sizes}) + zip; {os.cpu_count()} cores")
    before, after = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.runs):  # interleaved, so a noisy neighbour slows both alike
            before.append(run_before(old, pictures, Path(tmp) / f"b{i}"))
            after.append(run_after(pictures, Path(tmp) / f"a{i}"))
            print(f"run {i + 1}: before {before[-1]:.2f} s, after {after[-1]:.2f} s")
    b, a = statistics.median(before), statistics.median(after)
    print(f"median: before {b:.2f} s, after {a:.2f} s, ratio after/before {a / b:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
