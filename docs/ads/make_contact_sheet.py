"""Render docs/ads/contact-sheet.png: every layout template × every procedural backdrop for one
product (the coffee cup cut out of scikit-image's photograph), Instagram square.

    python docs/ads/make_contact_sheet.py
    python docs/ads/make_contact_sheet.py --product photo.png --out /tmp/sheet.png   # another cut-out (RGBA)

Rows are backdrops, columns are templates (design 1-4 in the order `editor.ad.templates.TEMPLATES`
lists them, set by name here so every column is one template). Each tile is the square rendered
at 0.25 of its size; the sheet is stored as a palette PNG to keep the repository small.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from PIL import Image, ImageDraw  # noqa: E402

from editor.ad import AdLayout, AdRequest, AdWorkflow  # noqa: E402
from editor.ad.backgrounds import list_backdrops  # noqa: E402
from editor.ad.fonts import FontCatalogue  # noqa: E402
from editor.ad.samples import coffee_cutout  # noqa: E402
from editor.ad.templates import TEMPLATES  # noqa: E402

OUT = Path(__file__).resolve().parent
COPY = dict(headline="가을 신메뉴 출시", subline="따뜻한 한 잔의 여유", price="5,500원 → 4,500원", cta="지금 주문하기")
SCALE = 0.25


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--product", help="a product photo with its alpha (RGBA PNG); default: the coffee cut-out")
    parser.add_argument("--out", default=str(OUT / "contact-sheet.png"), help="where the sheet is written")
    args = parser.parse_args()
    if args.product:  # e.g. a Tux Paint stamp: GPL-2, so its sheet is written outside this repository
        product = Image.open(args.product).convert("RGBA")
    else:
        product = Image.fromarray(coffee_cutout(scale=0.5).rgba, "RGBA")
    workflow = AdWorkflow()
    backdrops = list_backdrops()
    tiles: dict[tuple[str, str], Image.Image] = {}
    for backdrop in backdrops:
        for name in TEMPLATES:
            layouts = {"instagram-square": AdLayout(template=name)}
            result = workflow.run(AdRequest(product=product, backdrop=backdrop, scale=SCALE, layouts=layouts, **COPY))
            tiles[backdrop, name] = result.images["instagram-square"]
        print(backdrop, "done")
    side = next(iter(tiles.values())).width
    label_w, head_h, pad = 150, 28, 6
    sheet = Image.new("RGB", (label_w + len(TEMPLATES) * (side + pad), head_h + len(backdrops) * (side + pad)), "white")
    draw = ImageDraw.Draw(sheet)
    font = FontCatalogue().book().font(15, "regular")
    for j, name in enumerate(TEMPLATES):
        draw.text((label_w + j * (side + pad) + 4, 6), name, fill=(40, 40, 40), font=font)
    for i, backdrop in enumerate(backdrops):
        y = head_h + i * (side + pad)
        draw.text((6, y + side // 2 - 8), backdrop, fill=(40, 40, 40), font=font)
        for j, name in enumerate(TEMPLATES):
            sheet.paste(tiles[backdrop, name], (label_w + j * (side + pad), y))
    sheet.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.FLOYDSTEINBERG).save(
        args.out, optimize=True)
    print("wrote", args.out, sheet.size)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
