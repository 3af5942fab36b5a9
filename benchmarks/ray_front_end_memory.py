"""The front end's memory under Ray Serve after big-photo edits (issue 22, defect 11).

    python benchmarks/ray_front_end_memory.py [--jobs 2] [--megapixels 36] [--label after]

Starts a Ray cluster on loopback in this process with one Studio replica (tiny model, random
weights) and acts as the app's front end: this process holds the `StudioClient` and, for each job,
does what the Edit tab does with an edit of a full-size photo (`ui.edit_tab.run_edit`: the photo
as the page sends it, the painted mask scaled to the photo, the outcome turned into the page's
values: compare slider, overlay, history thumbnail). Prints this process's RSS (and its parts:
heap, shared memory such as Ray's object store, files) before the first job and after each one,
and writes benchmarks/results/ray_front_end_memory_<label>.json. Bounded: `--jobs` edits, each of
one photo; nothing listens off loopback.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
sys.path.insert(0, str(ROOT))
from benchmarks.machine import describe  # noqa: E402
from tests.serving.cluster import local_cluster  # noqa: E402


def memory_mb(pid: int | None = None) -> dict:
    """VmRSS and its parts (RssAnon: the heap; RssShmem: shared memory, Ray's object store
    included; RssFile: mapped files) of a process, in MB."""
    out = {}
    for line in Path(f"/proc/{pid or os.getpid()}/status").read_text().splitlines():
        key = line.split(":", 1)[0]
        if key in ("VmRSS", "RssAnon", "RssFile", "RssShmem", "VmHWM"):
            out[key] = round(int(line.split()[1]) / 1024, 1)
    return out


def big_photo(megapixels: float, seed: int):
    """A photo-like picture (smooth gradients and a little noise) of about `megapixels`, 3:2."""
    import numpy as np
    from PIL import Image

    width = int(round((megapixels * 1e6 * 1.5) ** 0.5))
    height = int(round(width / 1.5))
    rng = np.random.default_rng(seed)
    x = np.linspace(0, 255, width, dtype=np.float32)[None, :]
    y = np.linspace(0, 255, height, dtype=np.float32)[:, None]
    rgb = np.empty((height, width, 3), np.uint8)
    rgb[..., 0] = (x * 0.7 + y * 0.3).astype(np.uint8)
    rgb[..., 1] = (255 - y * 0.8).astype(np.uint8)
    rgb[..., 2] = ((x + y) * 0.5).astype(np.uint8)
    rgb[::7, ::5] = rng.integers(0, 256, rgb[::7, ::5].shape, dtype=np.uint8)
    return Image.fromarray(rgb)


def one_edit(services, state, photo, seed: int) -> float:
    """One edit as the Edit tab runs it (the photo as the page sends it: the editor's picture,
    the painted mask at its size), and the page's values made from the outcome."""
    import numpy as np
    from PIL import Image

    from ui.controls import preview
    from ui.edit_tab import option_values, run_edit
    from ui.imaging import overlay_mask

    width, height = photo.size
    layer = np.zeros((height, width, 4), np.uint8)  # a brush stroke over a tenth of the photo
    layer[height // 3: height // 3 + height // 4, width // 3: width // 3 + width // 3] = (255, 40, 120, 255)
    editor_value = {"background": photo, "layers": [Image.fromarray(layer, "RGBA")], "composite": None}
    values = option_values({"steps": 3, "skip_steps": 1, "inversion_guidance": 1.5, "guidance": 3.5,
                            "re_init": False, "attn_mask": False, "attn_scale": 1.0, "seed": seed,
                            "kv_cache": "auto", "speed": "exact", "feather_px": 8})
    started = time.perf_counter()
    before, after, mask, _report, _paths = run_edit(services, state, "tiny", editor_value, "a photo",
                                                   f"a red photo {seed}", values)
    shown = preview(after)
    small_mask = np.asarray(Image.fromarray((mask * 255).astype(np.uint8)).resize(shown.size)) / 255.0
    page = ((preview(before), shown), overlay_mask(shown, small_mask))
    del before, after, mask, shown, small_mask, page, editor_value, layer
    return time.perf_counter() - started


def run(args) -> dict:
    from types import SimpleNamespace

    from editor.studio import StudioConfig
    from serving import ServingOptions, StudioClient, deploy
    from ui.app_state import ClientState
    from ui.edit_tab import run_edit  # noqa: F401 - the app's modules (gradio) are loaded before "start", as in the app

    work = Path(tempfile.mkdtemp(prefix="intact-ray-memory-"))
    os.environ.setdefault("INTACT_MODELS_DIR", str(work / "models"))
    os.environ["HF_HUB_OFFLINE"] = "1"
    result = {"label": args.label, "jobs": args.jobs, "megapixels": args.megapixels,
              "machine": describe("cpu"), "load_average_start": os.getloadavg()[0], "memory_mb": [], "seconds": []}
    with local_cluster(num_cpus=2):
        config = StudioConfig(output_dir=work / "outputs")
        handle, _ = deploy(config, ServingOptions(replicas=1, max_sessions=2))
        client = StudioClient(handle, config)
        services = SimpleNamespace(studio=client, owner=lambda _request: "bench-owner")
        photos = [big_photo(args.megapixels, seed) for seed in range(args.jobs)]
        print(f"photo {photos[0].size[0]}×{photos[0].size[1]}", flush=True)
        gc.collect()
        result["memory_mb"].append({"after": "start", **memory_mb()})
        print(result["memory_mb"][-1], flush=True)
        for n, photo in enumerate(photos):
            state = ClientState(session=f"bench-{n}")
            result["seconds"].append(round(one_edit(services, state, photo, n), 2))
            del state
            gc.collect()
            result["memory_mb"].append({"after": f"job {n + 1}", **memory_mb()})
            print(result["memory_mb"][-1], result["seconds"][-1], "s", flush=True)
        del photos
        gc.collect()
        result["memory_mb"].append({"after": "photos dropped", **memory_mb()})
        print(result["memory_mb"][-1], flush=True)
    result["load_average_end"] = os.getloadavg()[0]
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--megapixels", type=float, default=36.0)
    parser.add_argument("--label", default="after", help="names the results file (before / after a change)")
    args = parser.parse_args(argv)
    result = run(args)
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"ray_front_end_memory_{args.label}.json"
    path.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
