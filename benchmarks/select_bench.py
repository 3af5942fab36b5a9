"""Tap to select on real photos: IoU against hand-drawn regions, taps needed, time at 1 and 12 MP.

    python benchmarks/select_bench.py [--out benchmarks/results/select_cpu.md] [--overlays DIR] [--no-big]

Per photo (benchmarks/select_regions.py: the photos packages ship and their regions):
- IoU of the one-tap mask against the region (the tap anyone would make on the object);
- taps needed: the standard click simulation of interactive segmentation (NoC): after each mask,
  the next tap goes to the middle of the largest wrong area (a "this" tap on a missed part, a
  "not this" tap on a wrongly taken part), up to MAX_TAPS; reported for IoU 0.85 and 0.90;
- seconds for the first tap on a fresh photo (prepare + select) and for a further tap, on copies
  upscaled to 1 MP and 12 MP (a phone photo), measured with `time.perf_counter`.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.machine import describe  # noqa: E402
from benchmarks.select_regions import REGIONS, load_photo, overlay, region_mask  # noqa: E402
from editor.select import Selector, Tap  # noqa: E402
from editor.select.selector import saliency_model  # noqa: E402

MAX_TAPS = 8


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max((a | b).sum(), 1))


def next_tap(mask: np.ndarray, region: np.ndarray) -> Tap:
    """The middle of the largest wrong area: the point of it farthest from its edge."""
    missed, extra = region & ~mask, mask & ~region
    best = None
    for wrong, positive in ((missed, True), (extra, False)):
        count, labels, stats, _ = cv2.connectedComponentsWithStats(wrong.astype(np.uint8), connectivity=8)
        if count < 2:
            continue
        biggest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
        area = int(stats[biggest, cv2.CC_STAT_AREA])
        if best is None or area > best[0]:
            inside = np.pad((labels == biggest).astype(np.uint8), 1)
            depth = cv2.distanceTransform(inside, cv2.DIST_L2, 5)[1:-1, 1:-1]
            y, x = np.unravel_index(int(np.argmax(depth)), depth.shape)
            best = (area, Tap(float(x), float(y), positive))
    return best[1]


def taps_needed(selector: Selector, photo: np.ndarray, region: np.ndarray, first: Tap) -> tuple[list[float], list]:
    taps, scores = [first], []
    for _ in range(MAX_TAPS):
        mask = selector.select(photo, tuple(taps)).mask > 0.5
        scores.append(iou(mask, region))
        if scores[-1] >= 0.9:
            break
        taps.append(next_tap(mask, region))
    return scores, taps


def first_reaching(scores: list[float], target: float) -> str:
    return next((str(i + 1) for i, s in enumerate(scores) if s >= target), f">{MAX_TAPS}")


def timed(photo: np.ndarray, tap: Tap, megapixels: float) -> tuple[float, float, float, float]:
    """Seconds, on a copy of the photo upscaled to `megapixels`: the first tap on a fresh selector,
    a further tap; and as the app does it: preparing the photo when the panel takes it, then the
    first tap on the prepared photo."""
    h, w = photo.shape[:2]
    scale = (megapixels * 1e6 / (w * h)) ** 0.5
    big = cv2.resize(photo, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_CUBIC)
    at = Tap(tap.x * scale, tap.y * scale)
    selector = Selector()
    selector.select(np.zeros((64, 64, 3), np.uint8), (Tap(1, 1),))  # the model session opened first
    start = time.perf_counter()
    selector.select(big, (at,))
    first = time.perf_counter() - start
    start = time.perf_counter()
    selector.select(big, (at, Tap(at.x + 3, at.y + 3)))
    further = time.perf_counter() - start
    prepared = Selector()
    prepared.select(np.zeros((64, 64, 3), np.uint8), (Tap(1, 1),))
    start = time.perf_counter()
    prepared.prepare(big)
    preparing = time.perf_counter() - start
    start = time.perf_counter()
    prepared.select(big, (at,))
    return first, further, preparing, time.perf_counter() - start


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=None, help="write the results table here (markdown)")
    parser.add_argument("--overlays", default=None, help="save region and one-tap overlays here (PNG)")
    parser.add_argument("--no-big", action="store_true", help="skip the 1 MP / 12 MP timings")
    args = parser.parse_args(argv)
    selector = Selector()
    rows, one_tap = [], []
    for spec in REGIONS:
        photo = load_photo(spec.photo)
        region = region_mask(spec, photo)
        first = Tap(*spec.tap)
        scores, taps = taps_needed(selector, photo, region, first)
        method = selector.select(photo, (first,)).report["method"]
        one_tap.append(scores[0])
        t1 = (None,) * 4 if args.no_big else timed(photo, first, 1.0)
        t12 = (None,) * 4 if args.no_big else timed(photo, first, 12.0)
        rows.append((spec, photo.shape, method, scores, t1, t12))
        if args.overlays:
            folder = Path(args.overlays)
            folder.mkdir(parents=True, exist_ok=True)
            mask = selector.select(photo, (first,)).mask > 0.5
            shown = np.concatenate([overlay(photo, region, (0, 200, 90)), overlay(photo, mask)], axis=1)
            cv2.circle(shown, (int(first.x) + photo.shape[1], int(first.y)), 5, (255, 255, 255), -1)
            Image.fromarray(shown).save(folder / f"select_{spec.photo}.png")
        print(f"{spec.photo}: IoU {scores[0]:.3f} with one tap ({method}); taps for 0.85: "
              f"{first_reaching(scores, 0.85)}, 0.90: {first_reaching(scores, 0.9)}", flush=True)

    def secs(v):
        return "—" if v is None else f"{v:.2f}"

    lines = [
        "# Tap to select on real photos",
        "",
        f"Machine: {describe()['summary']} at the start, {os.getloadavg()[0]:.1f} at the end; "
        f"Python {platform.python_version()}; salient-object model: {saliency_model() or 'none'}; "
        f"`python benchmarks/select_bench.py`.",
        "",
        "Regions: hand-drawn box and strokes per photo, completed along edges by a full-size GrabCut and "
        "checked by eye (benchmarks/select_regions.py). Taps: the first is where anyone would tap; further "
        "taps go to the middle of the largest wrong area (NoC protocol). Times: first tap on a fresh photo "
        "(reading it into the selector included) and a further tap, on copies upscaled to 1 MP and 12 MP.",
        "",
        "| photo | region | size | method (1 tap) | IoU, 1 tap | taps for IoU 0.85 | taps for 0.90 | best IoU (taps) "
        "| 1 MP first / next (s) | 12 MP first / next (s) | 12 MP prepare / first tap after it (s) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for spec, shape, method, scores, t1, t12 in rows:
        best = int(np.argmax(scores))
        lines.append(f"| {spec.photo} | {spec.what} | {shape[1]}×{shape[0]} | {method} | {scores[0]:.3f} | "
                     f"{first_reaching(scores, 0.85)} | {first_reaching(scores, 0.9)} | {scores[best]:.3f} ({best + 1}) | "
                     f"{secs(t1[0])} / {secs(t1[1])} | {secs(t12[0])} / {secs(t12[1])} | {secs(t12[2])} / {secs(t12[3])} |")
    separated = [score for score, r in zip(one_tap, rows) if r[0].separated]
    lines += ["", f"Mean IoU with one tap on a clearly separated object: {statistics.mean(separated):.3f} "
              f"({len(separated)} photos: " + ", ".join(r[0].photo for r in rows if r[0].separated) + "); "
              f"over all {len(one_tap)} photos: {statistics.mean(one_tap):.3f} (the others touch an object that "
              "looks like part of them: the helmet she holds, the lioness behind)."]
    if not args.no_big:
        big = [r[5] for r in rows]
        median = lambda i: statistics.median(t[i] for t in big)  # noqa: E731
        lines.append(f"12 MP: median first tap {median(0):.2f} s, median further tap {median(1):.2f} s; as the app "
                     f"runs it, preparing when the panel takes the photo {median(2):.2f} s, then the first tap "
                     f"{median(3):.2f} s.")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
