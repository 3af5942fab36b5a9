"""Ad design benchmark: every layout template on real product photographs × four formats, over the
new backdrops, with the figures a designer checks on each build (measured on the build's report).

    python benchmarks/ad_design_bench.py [--scale 0.5]

Products (real photographs only):
- coffee: the cup and saucer of scikit-image's coffee photograph, cut out by GrabCut + matting
  (editor.ad.samples.coffee_cutout) and, as a second build, by u2netp (rembg) on the photo itself.
- gas-bottle, mince-pie, candle, jug: photographs with their own alpha from Debian's
  `tuxpaint-stamps-default` (GPL-2, read from /usr/share/tuxpaint/stamps, never copied into this
  repository; `sudo apt-get install tuxpaint-stamps-default`, or point TUXPAINT_STAMPS at a copy).
  They stand for a bottle (a gas bottle: no photo of a drink or cosmetic bottle was found in Debian),
  a cake or bread (a mince pie), a cosmetic (a pillar candle, a salon and gift-shop product: no
  cosmetic photo was found) and a small photo (a 92×100 porcelain jug, to show enlargement). Each is
  built with its known alpha and again cut out by u2netp from the photo laid on a plain
  background; the u2netp matte is compared with the known alpha (IoU, mean error).
A missing photo is skipped with a line that says how to get it; the rest still runs.

Per build: template, where the badges were asked for and where they were drawn, backdrop and view,
camera angle, contact-shadow gap (goal 0-2 px), product upscale (at this scale and at full size),
edge spread of the text block, lowest contrast, words broken inside (goal 0), discount badge
present when an old price is given, text over the product (pixels, goal 0), elements outside the
live area or over the product's box (goal 0), and the build's notes (a small photo is named there).
Results: benchmarks/results/ad_design_cpu.md/.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from benchmarks.machine import describe  # noqa: E402
from editor.ad import AdLayout, AdRequest, AdWorkflow  # noqa: E402
from editor.ad.formats import FORMAT_SPECS, scaled  # noqa: E402
from editor.ad.samples import coffee_cutout  # noqa: E402
from editor.ad.templates import TEMPLATES  # noqa: E402

STAMPS = Path(os.environ.get("TUXPAINT_STAMPS", "/usr/share/tuxpaint/stamps"))
INSTALL = "sudo apt-get install tuxpaint-stamps-default (GPL-2, ~160 MB), or set TUXPAINT_STAMPS to its stamps folder"
PLAIN = (236, 236, 233)  # the plain table a photo is laid on before u2netp cuts it out again
# product -> (file under STAMPS, what it stands for in the list)
PHOTOS = {
    "gas-bottle": ("household/cylinder.png", "bottle (a gas bottle; no drink/cosmetic bottle photo found)"),
    "mince-pie": ("seasonal/christmas/Mince_Pie.png", "cake or bread"),
    "candle": ("seasonal/candle.png", "cosmetic stand-in (a pillar candle; no cosmetic photo found)"),
    "jug": ("household/dishes/pitcher_small.png", "small photo (enlarged)"),
}
COPIES = {
    "coffee": dict(headline="가을 신메뉴 출시", subline="따뜻한 한 잔의 여유", price="5,500원 → 4,500원", cta="지금 주문하기"),
    "gas-bottle": dict(headline="캠핑 가스 충전", subline="안전 점검을 마친 용기, 당일 교환", price="28,000원", cta="교환 예약"),
    "mince-pie": dict(headline="신메뉴 수제 민스 파이", subline="버터 향 가득한 겨울 한정", price="6,800원 → 5,900원",
                      cta="예약하기"),
    "candle": dict(headline="소이 캔들 1+1", subline="은은한 향으로 하루를 마무리, 40시간 연소", price="39,000원 → 29,000원",
                   cta="지금 담기"),
    "jug": dict(headline="핸드페인팅 도자기 저그", subline="하나씩 그린 블루 플라워", price="32,000원 → 27,000원", cta="구경하기"),
}
# Each product meets every template on a different backdrop (all the new materials covered); the
# jug (a small photo) is built once.
BACKDROPS = {
    "coffee": ("oak-table", "white-marble", "kraft-paper", "terrazzo"),
    "gas-bottle": ("paper-sweep", "grey-concrete", "white-tile", "natural-linen"),
    "mince-pie": ("white-marble", "pastel-mesh", "oak-table", "studio-white"),
    "candle": ("pastel-mesh", "white-tile", "terrazzo", "paper-sweep"),
    "jug": ("natural-linen",),
}
BADGE_PLACE = {1: "above", 2: "beside", 3: "corner", 4: "corner"}  # where design N asks for the badges


def load_products() -> tuple[dict, list[str]]:
    """{name: (RGBA image, source line)} for the photos on this machine, and a skip line per missing one."""
    cut = coffee_cutout()
    products = {"coffee": (Image.fromarray(cut.rgba, "RGBA"), "scikit-image coffee photo (600×400), GrabCut + matting")}
    skipped = []
    for name, (rel, role) in PHOTOS.items():
        path = STAMPS / rel
        if not path.is_file():
            skipped.append(f"skip {name}: {path} not found ({INSTALL})")
            continue
        image = Image.open(path).convert("RGBA")
        products[name] = (image, f"{role}: tuxpaint-stamps-default {rel} ({image.width}×{image.height}, GPL-2, known alpha)")
    return products, skipped


def u2netp_cutout(name: str, image: Image.Image, sessions) -> tuple[Image.Image, dict]:
    """The product cut out again by u2netp: from the photo itself (coffee) or from the photo laid on
    a plain background; with the agreement between the u2netp matte and the known alpha."""
    from skimage import data

    from editor.ad.cutout import cut_out

    known = np.asarray(image, np.float32)[..., 3] / 255.0
    if name == "coffee":
        photo = data.coffee()
    else:
        rgba = np.asarray(image, np.float32)
        photo = np.clip(rgba[..., :3] * known[..., None] + np.array(PLAIN, np.float32) * (1 - known[..., None]) + 0.5,
                        0, 255).astype(np.uint8)
    started = time.perf_counter()
    cut = cut_out(photo, remover="u2netp", sessions=sessions)
    seconds = time.perf_counter() - started
    a, b = cut.alpha > 0.5, known > 0.5
    agree = {"iou": round(float((a & b).sum() / max((a | b).sum(), 1)), 3),
             "mean_abs_error": round(float(np.abs(cut.alpha - known).mean()), 4), "seconds": round(seconds, 2),
             "against": "the GrabCut + matting cut-out" if name == "coffee" else "the known alpha",
             "needs_review": cut.needs_review}
    return Image.fromarray(cut.rgba, "RGBA"), agree


def spread(elements: list, align: str) -> float:
    """How far the visible left edges (or, centred, the centres) of the block's lines differ. Tags
    beside the price belong to its row: a centred row is the price and its tags together."""
    tags = [line["box"] for e in elements if e["element"] == "badge" for line in e["lines"]]
    boxes = []
    for e in elements:
        if e["element"] == "badge":
            continue
        for line in e["lines"]:
            x0, y0, x1, y1 = line["box"]
            if e["element"] == "price":
                x1 = max([x1] + [t[2] for t in tags if t[1] < y1 and y0 < t[3] and 0 <= t[0] - x1 <= y1 - y0])
            boxes.append((x0, y0, x1, y1))
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
        if e["element"] == "badge":
            continue  # "NEW", "-18%": made from the copy, not words of it
        for line in e["lines"]:
            for token in line["text"].replace("\u00a0", " ").split():
                broken += token not in words
    return broken


def misplaced(layout_elements: list, live: tuple[int, int, int, int]) -> tuple[int, int]:
    """(elements outside the live area, text elements over the product's box)."""
    x0, y0, x1, y1 = live
    product = next(e["box"] for e in layout_elements if e["kind"] == "product")
    outside = over = 0
    for e in layout_elements:
        if e["kind"] in ("panel", "shadow", "product"):
            continue  # a decoration may run to the canvas edge by design; a shadow falls where it falls
        bx0, by0, bx1, by1 = e["box"]
        outside += bx0 < x0 - 1 or by0 < y0 - 1 or bx1 > x1 + 1 or by1 > y1 + 1
        over += not (bx1 <= product[0] or product[2] <= bx0 or by1 <= product[1] or product[3] <= by0)
    return outside, over


def build_rows(wf: AdWorkflow, name: str, image: Image.Image, cutout: str, design: int, backdrop: str, scale: float):
    copy = COPIES[name]
    place = BADGE_PLACE[design]
    layouts = {f: AdLayout(badges={"discount": place, "new": place}) for f in FORMAT_SPECS}
    started = time.perf_counter()
    result = wf.run(AdRequest(product=image, formats=tuple(FORMAT_SPECS), backdrop=backdrop, design=design,
                              scale=scale, layouts=layouts, **copy))
    seconds = time.perf_counter() - started
    rows = []
    for fname, report in result.report["formats"].items():
        fmt = scaled(FORMAT_SPECS[fname], scale)
        elements = report["elements"]
        ground = report["grounding"]
        layout_elements = report["layout"].get("elements", [])
        outside, over_box = misplaced(layout_elements, fmt.live_area())
        rows.append({
            "product": name, "cutout": cutout, "format": fname, "design": design, "template": report["template"],
            "type": report["type_style"], "backdrop": backdrop, "view": ground["view"],
            "camera": ground["camera"]["angle"], "view_fits": ground["view_fits_photo"],
            "badges_asked": place, "badges_drawn": [e["place"] for e in layout_elements if e["kind"] == "badge"],
            "shadow_gap_px": ground["contact_shadow_gap_px"], "upscale": ground["upscale"],
            "upscale_full_size": round(ground["upscale"] / scale, 2), "product_pixels": ground["product_pixels"],
            "edge_spread_px": spread(elements, report["block"]["align"]),
            "min_contrast": min(e["contrast_ratio"] for e in elements if e["contrast_ratio"] is not None),
            "words_broken": words_broken(elements, copy),
            "old_price": "→" in copy["price"],
            "badge": any(e["kind"] == "badge" and e["text"].startswith("-") for e in layout_elements),
            "text_over_product_px": sum(e["product_overlap_pixels"] for e in elements if e["mode"] != "panel"),
            "outside_live": outside, "over_product_box": over_box,
            "notes": report["layout_notes"],
        })
    return rows, seconds


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=float, default=0.5, help="render at this fraction of each format's size")
    args = parser.parse_args()
    from editor.ad.cutout import RembgSessions, rembg_model_file

    products, skipped = load_products()
    for line in skipped:
        print(line)
    have_u2netp = rembg_model_file("u2netp") is not None
    if not have_u2netp:
        skipped.append("skip the u2netp cut-outs: the model is not here (python -m models download u2netp)")
        print(skipped[-1])
    sessions = RembgSessions()
    rows, timings, sources, agreement = [], [], {}, {}
    wf = AdWorkflow()
    for name, (image, source) in products.items():
        sources[name] = source
        known = "grabcut" if name == "coffee" else "known-alpha"
        for design, backdrop in enumerate(BACKDROPS[name], start=1):
            built, seconds = build_rows(wf, name, image, known, design, backdrop, args.scale)
            rows += built
            timings.append(seconds)
        if have_u2netp:
            cut, agreement[name] = u2netp_cutout(name, image, sessions)
            built, seconds = build_rows(wf, name, cut, "u2netp", 1, BACKDROPS[name][0], args.scale)
            rows += built
            timings.append(seconds)
    sessions.release()
    results = {"machine": describe()["summary"], "scale": args.scale, "templates": list(TEMPLATES),
               "products": sources, "u2netp_agreement": agreement, "skipped": skipped, "builds": rows,
               "seconds_per_build_4_formats": {"median": round(statistics.median(timings), 2),
                                               "max": round(max(timings), 2)}}
    out = ROOT / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "ad_design_cpu.json").write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    (out / "ad_design_cpu.md").write_text(markdown(results, args.scale) + "\n", encoding="utf-8")
    print(markdown(results, args.scale).split("Summary:", 1)[1])
    return 0


def markdown(results: dict, scale: float) -> str:
    rows = results["builds"]
    lines = [f"# Ad design benchmark (cpu: {results['machine']})", "",
             f"Real product photographs × the four designs (templates) × four formats at {scale:g}× size; each design "
             "on a different backdrop and asking for the badges at a different place (design 1 above the headline, "
             "2 beside the price, 3 and 4 as a corner sticker). Gap: pixels of light between the product's base and "
             "its contact shadow (goal 0-2). Upscale: how much the photo's pixels are enlarged at this scale (and at "
             "full size). Words broken: words of the copy no line holds whole (goal 0). Badge: the discount badge is "
             "drawn when an old price is given.", "", "Products:", ""]
    lines += [f"- **{name}**: {source}" for name, source in results["products"].items()]
    lines += [f"- {line}" for line in results["skipped"]]
    if results["u2netp_agreement"]:
        lines += ["", "u2netp cut-outs (rembg's small U²-Net, CPU) against the reference matte:", "",
                  "| product | against | IoU (alpha > 0.5) | mean abs alpha error | seconds | needs review |",
                  "|---|---|---|---|---|---|"]
        lines += [f"| {n} | {a['against']} | {a['iou']:.3f} | {a['mean_abs_error']:.4f} | {a['seconds']} | "
                  f"{'yes' if a['needs_review'] else 'no'} |" for n, a in results["u2netp_agreement"].items()]
    lines += ["", "| product | cut-out | format | design | template | type | badges asked → drawn | backdrop (view) | "
              "camera | shadow gap px | upscale (full size) | edge spread px | min contrast | words broken | "
              "old price → badge | text over product px | outside live / over product box | notes |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        badge = ("yes" if r["badge"] else "**MISSING**") if r["old_price"] else "-"
        drawn = ", ".join(r["badges_drawn"]) or "none"
        notes = "; ".join(r["notes"]).replace("|", "/") or "-"
        lines.append(f"| {r['product']} | {r['cutout']} | {r['format']} | {r['design']} | {r['template']} | {r['type']} | "
                     f"{r['badges_asked']} → {drawn} | {r['backdrop']} ({r['view']}{'' if r['view_fits'] else ', disagrees'}) | "
                     f"{r['camera']} | {r['shadow_gap_px']} | {r['upscale']:.2f} ({r['upscale_full_size']:.2f}) | "
                     f"{r['edge_spread_px']} | {r['min_contrast']:.2f} | {r['words_broken']} | {badge} | "
                     f"{r['text_over_product_px']} | {r['outside_live']} / {r['over_product_box']} | {notes} |")
    per_format: dict[str, set] = {}
    for r in rows:
        per_format.setdefault(r["format"], set()).add(r["template"])
    corner = [r for r in rows if r["badges_asked"] == "corner" and r["badges_drawn"]]
    fell_back = sum(all(p == "above" for p in r["badges_drawn"]) for r in corner)
    big = max(rows, key=lambda r: r["upscale_full_size"])
    timing = results["seconds_per_build_4_formats"]
    lines += ["", "Summary:", "",
              f"- builds: {len(rows)} ({len(results['products'])} products); templates per format: "
              + ", ".join(f"{k} {len(v)}" for k, v in per_format.items()),
              f"- worst contact-shadow gap: **{max(r['shadow_gap_px'] for r in rows)} px**",
              f"- words broken: **{sum(r['words_broken'] for r in rows)}** in {len(rows)} builds",
              f"- discount badge present with an old price: **{sum(r['badge'] for r in rows if r['old_price'])} of "
              f"{sum(r['old_price'] for r in rows)}**",
              f"- corner stickers asked and drawn in a corner: **{len(corner) - fell_back} of {len(corner)}** (the rest "
              "drawn above the headline, with a note)",
              f"- text over the product: **{sum(r['text_over_product_px'] for r in rows)} px**; elements outside the live "
              f"area: **{sum(r['outside_live'] for r in rows)}**; over the product's box: "
              f"**{sum(r['over_product_box'] for r in rows)}**",
              f"- worst edge spread: **{max(r['edge_spread_px'] for r in rows)} px**; lowest contrast: "
              f"**{min(r['min_contrast'] for r in rows):.2f}:1**",
              f"- largest upscale: **{big['upscale']:.2f}× at this scale, {big['upscale_full_size']:.2f}× at full size** "
              f"({big['product']}, {big['format']}, {big['product_pixels'][0]}×{big['product_pixels'][1]} px product; "
              "the notes name the photo's real size when it is enlarged more than 1.5×)",
              f"- seconds per build of four formats (median / max, shared 2-core CPU): **{timing['median']} / {timing['max']}**"]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
