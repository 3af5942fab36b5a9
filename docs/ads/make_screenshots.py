"""Render the ad screenshots in docs/ads/: two products × the four formats, the "after" half of
the before/after pair (docs/ads/before-after/), and three ads picked for the README.

    python docs/ads/make_screenshots.py

Both products are made here, honestly, without a model: the cup and saucer cut out of
scikit-image's coffee photograph (GrabCut from an outline + closed-form matting,
editor.ad.samples.coffee_cutout), and the procedural bottle photographed on a plain backdrop
and cut out by the offline cut-out (editor.ad.cutout, "offline"). Everything else is the ad
workflow as a user runs it, at full size; the pictures are stored at half size (`--full` keeps
them full size) to keep the repository small. The layouts and a report are written next to them.
"""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from PIL import Image  # noqa: E402

from editor.ad import AdRequest, AdWorkflow, BrandKit, save_layouts  # noqa: E402
from editor.ad.samples import bottle_cutout, cake_cutout, coffee_cutout, product_shot  # noqa: E402

OUT = Path(__file__).resolve().parent
FORMATS = ("instagram-square", "instagram-portrait", "story", "web-banner")
ADS = {
    "coffee": dict(headline="가을 신메뉴 출시", subline="따뜻한 한 잔의 여유", price="5,500원 → 4,500원", cta="지금 주문하기",
                   backdrop="oak-table", brand=BrandKit("카페 온도", colors=("#a92e10", "#2b1a10"))),
    "jam": dict(headline="봄맞이 특가 세일! 오늘만 이 가격", subline="국내산 유기농 딸기로 만든 수제 딸기잼", price="12,900원",
                cta="지금 구매하기", backdrop="white-marble"),
}
# The request the "before" pictures were made with (round 2's code, committed then): the same
# request built now is the "after".
BEFORE_AFTER = dict(headline="가을 신메뉴 출시", subline="따뜻한 한 잔의 여유", price="5,500원 → 4,500원", cta="지금 주문하기",
                    backdrop="product-tint", brand=BrandKit("카페 온도"), formats=("instagram-square", "story"))
# Three of the best for the README: (file, product, request settings).
BEST = {
    "best-cake-story.jpg": ("cake", dict(headline="NEW 딸기 생크림 케이크", subline="매일 아침 굽는 시트",
                                         price="6,800원 → 5,900원", cta="예약하기", backdrop="white-marble",
                                         formats=("story",), design=2)),
    "best-coffee-square.jpg": ("coffee", dict(headline="가을 신메뉴 출시", subline="따뜻한 한 잔의 여유",
                                              price="5,500원 → 4,500원", cta="지금 주문하기", backdrop="terrazzo",
                                              formats=("instagram-square",), design=3)),
    "best-bottle-banner.jpg": ("bottle", dict(headline="제주 유기농 녹차 오일", subline="첫물 찻잎으로 짜낸 한정 수량",
                                              price="28,000원", cta="구매하기", backdrop="paper-sweep",
                                              formats=("web-banner",), design=2)),
}


def png(image: Image.Image, full: bool) -> bytes:
    if not full:
        image = image.resize((image.width // 2, image.height // 2), Image.LANCZOS)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def main() -> int:
    full = "--full" in sys.argv[1:]
    products = {"coffee": Image.fromarray(coffee_cutout().rgba, "RGBA"),
                "jam": Image.fromarray(product_shot("plain", 720, 720).rgb)}
    workflow = AdWorkflow()
    reports = {}
    for name, settings in ADS.items():
        remover = "auto" if name == "coffee" else "offline"  # the coffee PNG carries its own alpha
        result = workflow.run(AdRequest(product=products[name], formats=FORMATS, remover=remover, **settings))
        for fmt, image in result.images.items():
            (OUT / f"{name}-{fmt}.png").write_bytes(png(image, full))
        save_layouts(OUT / f"{name}-layout.json", result.layouts)
        reports[name] = {fmt: {"elements": [{k: e[k] for k in ("element", "lines", "font_size", "color", "contrast_ratio")}
                                            for e in r["elements"]],
                               "block": r["block"], "light": r["light"], "notes": r["layout_notes"]}
                         for fmt, r in result.report["formats"].items()}
        reports[name]["cutout"] = result.report["cutout"]
        print(name, "done in", result.report["seconds"], "s")
    (OUT / "report.json").write_text(json.dumps(reports, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    after = workflow.run(AdRequest(product=products["coffee"], **BEFORE_AFTER))
    (OUT / "before-after" / "coffee-square-after.png").write_bytes(png(after.images["instagram-square"], full))
    (OUT / "before-after" / "coffee-story-after.png").write_bytes(png(after.images["story"], full))
    shots = {"coffee": products["coffee"], "cake": Image.fromarray(cake_cutout().rgba, "RGBA"),
             "bottle": Image.fromarray(bottle_cutout().rgba, "RGBA")}
    for file, (product, settings) in BEST.items():
        result = workflow.run(AdRequest(product=shots[product], **settings))
        image = next(iter(result.images.values()))
        image = image.resize((image.width // 2, image.height // 2), Image.LANCZOS)
        image.save(OUT / file, quality=88, optimize=True)
        print(file, result.report["formats"][settings["formats"][0]]["template"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
