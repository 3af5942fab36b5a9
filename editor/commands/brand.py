"""`python -m editor brand`: the shops' brand kits (name, logo, colours, font) that ads apply.

    python -m editor brand save --name "카페 온도" [--logo LOGO.png] [--color #a92e10 [#2b1a10]]
        [--font noto-sans-cjk-kr] [--logo-position stack|top-left|...]
    python -m editor brand list
    python -m editor brand show --name NAME
    python -m editor brand delete --name NAME

Kits live under --brand-dir (default $INTACT_BRAND_DIR or brands/), one folder per shop; an ad
uses one with `python -m editor ad --brand NAME`. The first colour is the accent (price and
button), the second the text colour; both are kept readable on the background they land on.
"""

from __future__ import annotations

import json


def register(subparsers) -> None:
    from editor.ad.design import LOGO_POSITIONS

    parser = subparsers.add_parser("brand", help="save, list, show or delete a shop's brand kit",
                                   description="Brand kits: shop name, logo, colours and font, applied to every ad.")
    parser.add_argument("action", choices=("save", "list", "show", "delete"))
    parser.add_argument("--name", default=None, help="the shop's name")
    parser.add_argument("--logo", default=None, help="logo picture (a PNG with transparency works best)")
    parser.add_argument("--color", nargs="+", default=(), help="accent colour, then text colour (#rrggbb)")
    parser.add_argument("--font", default=None, help="font family (see `show` of any kit, or the app's font list)")
    parser.add_argument("--logo-position", default="stack", choices=LOGO_POSITIONS,
                        help="stack: above the headline, on the text's axis (default); or a corner")
    parser.add_argument("--brand-dir", default=None, help="where brand kits are saved (default: $INTACT_BRAND_DIR or brands/)")
    parser.set_defaults(func=run)


def run(args) -> int:
    from editor.ad.brand import BrandKit
    from editor.ad.fonts import FontCatalogue
    from editor.errors import InputError
    from editor.studio import Studio, StudioConfig

    studio = Studio(StudioConfig(brand_dir=args.brand_dir))  # creates nothing heavy: only the kits are read
    store = studio.brands
    if args.action == "list":
        for name in store.names():
            print(name)
        return 0
    if not args.name:
        raise InputError("Name the shop whose brand kit this is.", key="brand_needs_name", field="name")
    if args.action == "delete":
        store.load(args.name)  # a kit that is not there is an error, not a silent no-op
        store.delete(args.name)
        print(f"deleted the brand kit of {args.name}")
        return 0
    if args.action == "show":
        kit = store.load(args.name)
        print(json.dumps({"name": kit.name, "colors": list(kit.colors), "font": kit.font, "logo_position": kit.logo_position,
                          "logo": None if kit.logo is None else f"{kit.logo.shape[1]}×{kit.logo.shape[0]}"},
                         ensure_ascii=False, indent=2))
        return 0
    fonts = FontCatalogue().families()
    if args.font and args.font not in fonts:
        raise InputError(f"The font '{args.font}' is not installed. Choose from: {', '.join(fonts)}.",
                         key="ad_unknown_font", field="font", font=args.font)
    kit = BrandKit(args.name, tuple(args.color), args.font, args.logo, args.logo_position)
    folder = store.save(kit)
    print(f"saved the brand kit of {kit.name} in {folder}")
    return 0
