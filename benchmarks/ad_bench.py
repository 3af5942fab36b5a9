"""Ad pipeline benchmark: offline cut-out accuracy and speed, layout and export time per format.

    python benchmarks/ad_bench.py

No model weights: synthetic product shots with a known alpha on plain, gradient and textured
(scikit-image brick photograph) backdrops; backgrounds procedural or a real scikit-image photo.
Results go to benchmarks/results/ad_<machine>.md and .json.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.machine import describe  # noqa: E402
from editor.ad import AdRequest, AdWorkflow, cut_out  # noqa: E402
from editor.ad.formats import FORMATS  # noqa: E402
from editor.ad.samples import BACKDROPS, product_shot  # noqa: E402

TEXTS = dict(headline="봄맞이 특가 세일! 오늘만 이 가격", subline="국내산 유기농 딸기로 만든 수제 딸기잼", price="12,900원", cta="지금 구매하기")
COLOURS = {"red": (178, 34, 52), "blue": (40, 90, 160), "green": (46, 125, 70)}


def iou(a, b) -> float:
    a, b = a > 0.5, b > 0.5
    return float((a & b).sum() / (a | b).sum())


def timed(fn, repeat: int = 1):
    times, value = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - t)
    return value, statistics.median(times)


def main() -> int:
    cut_out(product_shot("plain", 64, 64).rgb, "offline")  # warm-up: pymatting's numba kernels load once
    cutout_rows = []
    for side in (256, 512, 1024):
        for backdrop in BACKDROPS:
            for cname, colour in COLOURS.items():
                shot = product_shot(backdrop, side, side, colour=colour)
                cut, seconds = timed(lambda: cut_out(shot.rgb, "offline"))
                cutout_rows.append({"side": side, "backdrop": backdrop, "colour": cname, "iou": round(iou(cut.alpha, shot.alpha), 4),
                                    "alpha_mae": round(float(np.abs(cut.alpha - shot.alpha).mean()), 5), "seconds": round(seconds, 3)})
    product = product_shot("plain", 512, 512).rgb
    wf = AdWorkflow()
    _, first = timed(lambda: wf.run(AdRequest(product=product, formats=tuple(FORMATS), **TEXTS)))
    _, headline_only = timed(lambda: wf.run(AdRequest(product=product, formats=tuple(FORMATS), **{**TEXTS, "headline": "여름 한정 특가"})))
    per_format = {}
    for name in FORMATS:
        single = AdWorkflow()
        _, seconds = timed(lambda: single.run(AdRequest(product=product, formats=(name,), **TEXTS)))
        per_format[name] = round(seconds, 3)
    results = {
        "machine": describe()["summary"],
        "cutout": cutout_rows,
        "workflow_all_formats_first_run_s": round(first, 3),
        "workflow_all_formats_new_headline_s": round(headline_only, 3),
        "workflow_single_format_s": per_format,
    }
    out = ROOT / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "ad_cpu.json").write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    lines = [f"# Ad pipeline benchmark (cpu: {results['machine']})", "",
             "Offline cut-out (no weights) against the known alpha; IoU of alpha > 0.5.", "",
             "| side | backdrop | colour | IoU | alpha MAE | seconds |", "|---|---|---|---|---|---|"]
    lines += [f"| {r['side']} | {r['backdrop']} | {r['colour']} | {r['iou']:.4f} | {r['alpha_mae']:.5f} | {r['seconds']:.2f} |" for r in cutout_rows]
    lines += ["", f"All four formats at full size, cut-out of a 512² photo included: first run **{first:.2f} s**, "
              f"same request with a new headline (layout, text and save only): **{headline_only:.2f} s**.", "",
              "| format | one-format run (s) |", "|---|---|"]
    lines += [f"| {k} | {v:.2f} |" for k, v in per_format.items()]
    (out / "ad_cpu.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
