"""Ad design benchmark: build time per format, re-render times after a layout edit, and the
typography and composition figures of every build (measured on the reports).

    python benchmarks/ad_design_bench.py

Two real products (the coffee cup cut out of scikit-image's photograph, the procedural bottle),
four copy texts, the four formats at full size, product-coloured backdrop. For each build: the
spread of the lines' visible left edges (or centres), the lowest contrast of any element, the
headline's lines, the product's share of the live area. Then the same request again with the
text size edited (design and text rerun; cut-out and background cached) and with the product
moved (placement and composite rerun too). Results: benchmarks/results/ad_design_cpu.md/.json.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from PIL import Image  # noqa: E402

from editor.ad import AdRequest, AdWorkflow, PlacementRequest  # noqa: E402
from editor.ad.formats import FORMAT_SPECS  # noqa: E402
from editor.ad.samples import coffee_cutout, product_shot  # noqa: E402

COPIES = {
    "autumn": dict(headline="가을 신메뉴 출시", subline="따뜻한 한 잔의 여유", price="5,500원 → 4,500원", cta="지금 주문하기"),
    "spring-sale": dict(headline="봄맞이 특가 세일! 오늘만 이 가격", subline="국내산 유기농 딸기로 만든 수제 딸기잼",
                        price="12,900원", cta="지금 구매하기"),
    "two-for": dict(headline="두 잔 주문하면 한 잔 더", subline="아메리카노 2개 4,500원", price="4,500원", cta="주문하기"),
    "short": dict(headline="신상 입고", cta="구경하기"),
}


def spread(elements: list, align: str) -> int:
    boxes = [line["box"] for e in elements for line in e["lines"]]
    if align == "left":
        xs = [b[0] for b in boxes]
    else:
        xs = [(b[0] + b[2]) / 2 for b in boxes]
    return round(max(xs) - min(xs), 1)


def timed(fn):
    t = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - t


def main() -> int:
    products = {"coffee": Image.fromarray(coffee_cutout().rgba, "RGBA"), "bottle": Image.fromarray(product_shot("plain", 512, 512).rgb)}
    formats = tuple(FORMAT_SPECS)
    rows, timings = [], []
    for pname, product in products.items():
        remover = "auto" if pname == "coffee" else "offline"
        for cname, copy in COPIES.items():
            wf = AdWorkflow()
            base = dict(product=product, formats=formats, remover=remover, **copy)
            first, t_first = timed(lambda: wf.run(AdRequest(**base)))
            bigger = {k: replace(v, text=replace(v.text, size=round(v.text.size * 0.85))) for k, v in first.layouts.items()}
            edited, t_text = timed(lambda: wf.run(AdRequest(**base, layouts=bigger)))
            moved = {k: replace(v, product=PlacementRequest(v.product.center_x, v.product.bottom_y, v.product.height * 0.92))
                     for k, v in first.layouts.items()}
            again, t_move = timed(lambda: wf.run(AdRequest(**base, layouts=moved)))
            timings.append({"product": pname, "copy": cname, "first_s": round(t_first, 2), "text_edit_s": round(t_text, 2),
                            "product_move_s": round(t_move, 2),
                            "text_edit_reran": sorted({k.split("[")[0] for k in edited.report["nodes"]["ran"]}),
                            "product_move_reran": sorted({k.split("[")[0] for k in again.report["nodes"]["ran"]})})
            for fname, report in first.report["formats"].items():
                elements = report["elements"]
                layout = first.layouts[fname]
                live = FORMAT_SPECS[fname].live_area()
                p = report["placement"]
                rows.append({"product": pname, "copy": cname, "format": fname, "position": layout.text.position,
                             "align": report["block"]["align"], "edge_spread_px": spread(elements, report["block"]["align"]),
                             "min_contrast": min(e["contrast_ratio"] for e in elements),
                             "headline_px": layout.text.size, "headline_lines": report["block"]["headline_lines"],
                             "product_share": round(p["width"] * p["height"] / ((live[2] - live[0]) * (live[3] - live[1])), 2)})
    results = {"machine": f"{platform.machine()}, {os.cpu_count()} CPUs", "builds": rows, "timings": timings}
    out = ROOT / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "ad_design_cpu.json").write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    lines = [f"# Ad design benchmark (cpu: {results['machine']})", "",
             "Four formats at full size per build; times include the cut-out's first run (coffee: its own alpha; "
             "bottle: the offline cut-out of a 512² photo). Times taken while other jobs share the CPU are noisy; "
             "which steps reran and the per-build figures do not depend on load.", "",
             "| product | copy | first build (s) | text-size edit (s) | reran | product move (s) | reran |", "|---|---|---|---|---|---|---|"]
    lines += [f"| {t['product']} | {t['copy']} | {t['first_s']:.2f} | {t['text_edit_s']:.2f} | {', '.join(t['text_edit_reran'])} "
              f"| {t['product_move_s']:.2f} | {', '.join(t['product_move_reran'])} |" for t in timings]
    lines += ["", "Per build (edge spread: visible left edges, or centres of centred blocks, as the report's ink boxes give them; "
              "the tests measure the same independently on the pixels):", "",
              "| product | copy | format | position | align | edge spread px | min contrast | headline px | headline lines | product share |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    lines += [f"| {r['product']} | {r['copy']} | {r['format']} | {r['position']} | {r['align']} | {r['edge_spread_px']} | "
              f"{r['min_contrast']:.2f} | {r['headline_px']} | {' / '.join(r['headline_lines'])} | {r['product_share']} |" for r in rows]
    lines += ["", f"Worst edge spread: **{max(r['edge_spread_px'] for r in rows)} px**; lowest contrast: "
              f"**{min(r['min_contrast'] for r in rows):.2f}:1**; median first build: "
              f"**{statistics.median(t['first_s'] for t in timings):.2f} s**, text edit: "
              f"**{statistics.median(t['text_edit_s'] for t in timings):.2f} s**."]
    (out / "ad_design_cpu.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
