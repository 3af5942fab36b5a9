"""Ad design benchmark: every layout template on four products × four formats, over the new
backdrops, with the figures a designer checks on each build (measured on the build's report).

    python benchmarks/ad_design_bench.py [--scale 0.5]

Products: the cup and saucer cut out of scikit-image's coffee photograph (a real photo, GrabCut
outline + matting, editor.ad.samples.coffee_cutout), and three drawn products with their known
alpha (a bottle, a slice of cake, a cosmetic jar: no photo of such products ships with the
installed packages, see the notes). Each product gets every template (design 1-4), each on a
different backdrop so all the materials are covered, in all four formats.

Per build: template, backdrop and the view it was drawn in, the camera angle estimated from the
cut-out, the contact-shadow gap (pixels of light between the product's base and its shadow, goal
0-2), the product's upscale factor, the edge spread of the text block (visible left edges, or
centres of centred blocks), the lowest contrast, words broken inside (goal 0), whether the
discount badge is there when an old price is given, text over the product (pixels, goal 0) and
elements outside the live area (goal 0). Results: benchmarks/results/ad_design_cpu.md/.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from PIL import Image  # noqa: E402

from benchmarks.machine import describe  # noqa: E402
from editor.ad import AdRequest, AdWorkflow  # noqa: E402
from editor.ad.formats import FORMAT_SPECS, scaled  # noqa: E402
from editor.ad.samples import bottle_cutout, cake_cutout, coffee_cutout, cosmetic_cutout  # noqa: E402
from editor.ad.templates import TEMPLATES  # noqa: E402

COPIES = {
    "coffee": dict(headline="가을 신메뉴 출시", subline="따뜻한 한 잔의 여유", price="5,500원 → 4,500원", cta="지금 주문하기"),
    "bottle": dict(headline="제주 유기농 녹차 오일", subline="첫물 찻잎으로 짜낸 한정 수량", price="28,000원", cta="구매하기"),
    "cake": dict(headline="NEW 딸기 생크림 케이크", subline="매일 아침 굽는 시트", price="6,800원 → 5,900원", cta="예약하기"),
    "cosmetic": dict(headline="수분 크림 1+1", subline="민감한 피부도 순하게, 72시간 보습",
                     price="39,000원 → 29,000원", cta="지금 담기"),
}
# Each product meets every template on a different backdrop (all the new materials covered).
BACKDROPS = {
    "coffee": ("oak-table", "white-marble", "kraft-paper", "terrazzo"),
    "bottle": ("paper-sweep", "grey-concrete", "white-tile", "natural-linen"),
    "cake": ("white-marble", "pastel-mesh", "oak-table", "studio-white"),
    "cosmetic": ("pastel-mesh", "white-tile", "terrazzo", "paper-sweep"),
}


def products() -> dict[str, Image.Image]:
    cuts = {"coffee": coffee_cutout(), "bottle": bottle_cutout(), "cake": cake_cutout(), "cosmetic": cosmetic_cutout()}
    return {name: Image.fromarray(cut.rgba, "RGBA") for name, cut in cuts.items()}


def spread(elements: list, align: str) -> float:
    boxes = [line["box"] for e in elements if e["element"] not in ("badge",) for line in e["lines"]]
    xs = [b[0] for b in boxes] if align == "left" else [(b[0] + b[2]) / 2 for b in boxes]
    return round(max(xs) - min(xs), 1) if xs else 0.0


def words_broken(elements: list, copy: dict) -> int:
    """Words of the copy that no line holds whole (a break inside a word)."""
    words = set()
    for key in ("headline", "subline", "price", "old_price", "cta"):
        for part in copy.get(key, "").replace("→", " ").split():
            words.add(part)
    broken = 0
    for e in elements:
        for line in e["lines"]:
            for token in line["text"].replace("\u00a0", " ").split():
                if token not in words and token not in ("NEW",) and not token.startswith("-"):
                    broken += 1
    return broken


def outside_live(layout_elements: list, live: tuple[int, int, int, int]) -> int:
    x0, y0, x1, y1 = live
    count = 0
    for e in layout_elements:
        if e["kind"] in ("panel", "shadow"):
            continue  # a decoration may run to the canvas edge by design; a shadow falls where it falls
        bx0, by0, bx1, by1 = e["box"]
        count += bx0 < x0 - 1 or by0 < y0 - 1 or bx1 > x1 + 1 or by1 > y1 + 1
    return count


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=float, default=0.5, help="render at this fraction of each format's size")
    args = parser.parse_args()
    formats = tuple(FORMAT_SPECS)
    rows, timings = [], []
    wf = AdWorkflow()
    for pname, product in products().items():
        for design, backdrop in enumerate(BACKDROPS[pname], start=1):
            copy = COPIES[pname]
            started = time.perf_counter()
            result = wf.run(AdRequest(product=product, formats=formats, backdrop=backdrop, design=design,
                                      scale=args.scale, **copy))
            timings.append(time.perf_counter() - started)
            for fname, report in result.report["formats"].items():
                fmt = scaled(FORMAT_SPECS[fname], args.scale)
                elements = report["elements"]
                ground = report["grounding"]
                layout_elements = report["layout"].get("elements", [])
                rows.append({
                    "product": pname, "format": fname, "design": design, "template": report["template"],
                    "type": report["type_style"], "backdrop": backdrop, "view": ground["view"],
                    "camera": ground["camera"]["angle"], "view_fits": ground["view_fits_photo"],
                    "shadow_gap_px": ground["contact_shadow_gap_px"], "upscale": ground["upscale"],
                    "edge_spread_px": spread(elements, report["block"]["align"]),
                    "min_contrast": min(e["contrast_ratio"] for e in elements),
                    "words_broken": words_broken(elements, copy),
                    "old_price": "→" in copy["price"],
                    "badge": any(e["kind"] == "badge" and e["text"].startswith("-") for e in layout_elements),
                    "text_over_product_px": sum(e["product_overlap_pixels"] for e in elements if e["mode"] != "panel"),
                    "outside_live": outside_live(layout_elements, fmt.live_area()),
                    "notes": report["layout_notes"],
                })
    results = {"machine": describe()["summary"], "scale": args.scale,
               "templates": list(TEMPLATES), "builds": rows,
               "seconds_per_build_4_formats": {"median": round(statistics.median(timings), 2),
                                               "max": round(max(timings), 2)}}
    out = ROOT / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "ad_design_cpu.json").write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    lines = [f"# Ad design benchmark (cpu: {results['machine']})", "",
             f"Four products × four designs (templates) × four formats at {args.scale:g}× size; each design on a "
             "different backdrop. Coffee is a real photograph (scikit-image) cut out by GrabCut + matting; bottle, "
             "cake and cosmetic jar are drawn products with their known alpha. Gap: pixels of light between the "
             "product's base and its contact shadow (goal 0-2). Words broken: words of the copy no line holds whole "
             "(goal 0). Badge: the discount badge is drawn when an old price is given.", "",
             "| product | format | design | template | type | backdrop (view) | camera | shadow gap px | upscale | "
             "edge spread px | min contrast | words broken | old price → badge | text over product px | outside live area |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        badge = ("yes" if r["badge"] else "**MISSING**") if r["old_price"] else "-"
        lines.append(f"| {r['product']} | {r['format']} | {r['design']} | {r['template']} | {r['type']} | {r['backdrop']} "
                     f"({r['view']}{'' if r['view_fits'] else ', disagrees'}) | {r['camera']} | {r['shadow_gap_px']} | "
                     f"{r['upscale']:.2f} | {r['edge_spread_px']} | {r['min_contrast']:.2f} | {r['words_broken']} | {badge} | "
                     f"{r['text_over_product_px']} | {r['outside_live']} |")
    per_format = {}
    for r in rows:
        per_format.setdefault(r["format"], set()).add(r["template"])
    lines += ["", "Summary:", "",
              "- templates per format: " + ", ".join(f"{k} {len(v)}" for k, v in per_format.items()),
              f"- worst contact-shadow gap: **{max(r['shadow_gap_px'] for r in rows)} px**",
              f"- words broken: **{sum(r['words_broken'] for r in rows)}** in {len(rows)} builds",
              f"- discount badge present with an old price: **{sum(r['badge'] for r in rows if r['old_price'])} of "
              f"{sum(r['old_price'] for r in rows)}**",
              f"- text over the product: **{sum(r['text_over_product_px'] for r in rows)} px**; elements outside the live "
              f"area: **{sum(r['outside_live'] for r in rows)}**",
              f"- worst edge spread: **{max(r['edge_spread_px'] for r in rows)} px**; lowest contrast: "
              f"**{min(r['min_contrast'] for r in rows):.2f}:1**",
              f"- largest upscale: **{max(r['upscale'] for r in rows):.2f}×** (notes say when a photo is small)",
              f"- seconds per build of four formats (median / max, shared 2-core CPU): "
              f"**{results['seconds_per_build_4_formats']['median']} / {results['seconds_per_build_4_formats']['max']}**"]
    (out / "ad_design_cpu.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines[-9:]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
