"""Render docs/ads/badge-places.png: the same ad (coffee, one copy with an old price and "신메뉴")
with its badges above the headline (round 3's only place), beside the price and as a corner
sticker, in the four formats.

    python docs/ads/make_badge_places.py

Rows are badge places, columns formats; each tile is the format rendered at 0.3 of its size, and
the sheet is stored as a palette PNG to keep the repository small.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from PIL import Image, ImageDraw  # noqa: E402

from editor.ad import AdLayout, AdRequest, AdWorkflow  # noqa: E402
from editor.ad.fonts import FontCatalogue  # noqa: E402
from editor.ad.formats import FORMAT_SPECS  # noqa: E402
from editor.ad.samples import coffee_cutout  # noqa: E402

OUT = Path(__file__).resolve().parent
COPY = dict(headline="가을 신메뉴 출시", subline="따뜻한 한 잔의 여유", price="5,500원 → 4,500원", cta="지금 주문하기")
PLACES = ("above", "beside", "corner")
SCALE = 0.3


def main() -> int:
    product = Image.fromarray(coffee_cutout(scale=0.5).rgba, "RGBA")
    workflow = AdWorkflow()
    rows = {}
    for place in PLACES:
        layouts = {name: AdLayout(template="column", badges={"discount": place, "new": place}) for name in FORMAT_SPECS}
        result = workflow.run(AdRequest(product=product, backdrop="white-marble", scale=SCALE, formats=tuple(FORMAT_SPECS),
                                        layouts=layouts, **COPY))
        rows[place] = [result.images[name] for name in FORMAT_SPECS]
        for name, report in result.report["formats"].items():
            drawn = [e["place"] for e in report["layout"]["elements"] if e["kind"] == "badge"]
            print(place, name, drawn, [n for n in report["layout_notes"] if "badge" in n])
    label_w, pad = 90, 8
    height = max(im.height for im in rows[PLACES[0]])
    width = label_w + sum(im.width + pad for im in rows[PLACES[0]])
    sheet = Image.new("RGB", (width, len(PLACES) * (height + pad)), "white")
    draw = ImageDraw.Draw(sheet)
    font = FontCatalogue().book().font(16, "regular")
    for i, place in enumerate(PLACES):
        y = i * (height + pad)
        draw.text((6, y + height // 2 - 8), place, fill=(40, 40, 40), font=font)
        x = label_w
        for im in rows[place]:
            sheet.paste(im, (x, y))
            x += im.width + pad
    sheet.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.FLOYDSTEINBERG).save(
        OUT / "badge-places.png", optimize=True)
    print("wrote", OUT / "badge-places.png", sheet.size)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
