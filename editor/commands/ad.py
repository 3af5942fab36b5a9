"""`python -m editor ad`: make shop ads from a product photo, in one or more formats.

    python -m editor ad --product IN --headline TEXT [--subline TEXT] [--price TEXT] [--old-price TEXT]
        [--cta TEXT] [--preset NAME] [--background IMG | --background-prompt TEXT | --backdrop NAME]
        [--around-product] [--format NAME ...] [--layout LAYOUT.json] [--brand NAME] [--remover NAME]
        [--design N] --out DIR [--report R.json]
    python -m editor ad --batch --product PHOTO_OR_ZIP [...] (--headline TEXT | --copy-csv COPY.csv) ... --out DIR

Without a generated background nothing needs a diffusion model: the product is cut out (a cut-out
model when present, else offline matting) and placed on an uploaded photo or a procedural backdrop.
A generated background runs through the Studio under a memory plan, as in the app.

The layouts each format got are written next to the pictures (NAME_layout.json): edit them (text
position, size, font, colours, product place) and pass the file back with --layout to re-render.
--design N gives the Nth design (layout template) for the same copy: 1 is the best fit for the
product and the copy, 2 the next, and so on. --brand applies a brand kit saved with
`python -m editor brand save`. --batch builds every format
for every photo (zips are opened) into one zip, with one copy text or a CSV of copy per photo.
"""

from __future__ import annotations

import sys

from editor.commands import job_io


def register(subparsers) -> None:
    from editor.ad.backgrounds import list_backdrops
    from editor.ad.cutout import remover_names
    from editor.ad.formats import FORMATS

    parser = subparsers.add_parser("ad", help="make ads (Instagram, story, web banner) from product photos",
                                   description="Cut out the product, compose it on a background and lay out the text.")
    parser.add_argument("--product", nargs="+", required=True,
                        help="product photo (a transparent PNG is used as it is); with --batch several photos or zips")
    parser.add_argument("--headline", default="", help="headline (with --batch: for every photo the CSV has no row for)")
    parser.add_argument("--subline", default="")
    parser.add_argument("--price", default="", help='price; "5,500원 → 4,500원" strikes the old price through')
    parser.add_argument("--old-price", default="", help="old price, struck through before the price")
    parser.add_argument("--cta", default="", help="call to action, drawn as a button")
    parser.add_argument("--preset", default=None, help="shop preset that styles a generated background")
    bg = parser.add_mutually_exclusive_group()
    bg.add_argument("--background", default=None, help="background photo")
    bg.add_argument("--background-prompt", default=None, help="generate the background from this text (needs a model)")
    bg.add_argument("--backdrop", default=None, choices=list_backdrops(),
                    help="procedural backdrop (default product-tint: a tint of the product's own colour)")
    parser.add_argument("--around-product", action="store_true",
                        help="generate the scene around the product with KV-Edit (needs a prompt or a preset)")
    parser.add_argument("--format", dest="formats", nargs="+", action="extend", default=None,
                        help=f"one or more of {', '.join(FORMATS)} (default instagram-square)")
    parser.add_argument("--layout", default=None, help="layout file (JSON, as written next to a previous build) to apply")
    parser.add_argument("--design", type=int, default=None, metavar="N",
                        help="design number: 1 is the best-fitting layout template, 2 the next... (the copy stays)")
    parser.add_argument("--brand", default=None, help="name of a saved brand kit (python -m editor brand save)")
    parser.add_argument("--brand-dir", default=None, help="where brand kits are saved (default: $INTACT_BRAND_DIR or brands/)")
    parser.add_argument("--batch", action="store_true", help="every format for every --product photo, in one zip")
    parser.add_argument("--copy-csv", default=None,
                        help="with --batch: CSV with a row per photo (file, headline, subline, price, old_price, cta)")
    parser.add_argument("--remover", default="auto", choices=remover_names(), help="cut-out method (default auto)")
    parser.add_argument("--accent", default=None, help="price and button colour, #rrggbb")
    parser.add_argument("--model", default=None, help="diffusion model for generated backgrounds (default: auto)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--out", required=True, help="folder for the PNGs, the layout file and a zip of them")
    job_io.add_studio_flags(parser)
    job_io.add_embed_flag(parser)
    parser.set_defaults(func=run)


def _request(args, studio):
    from editor.ad.design import load_layouts
    from editor.errors import InputError
    from editor.studio import AdRequest

    if not args.batch and len(args.product) > 1:
        raise InputError("One product photo at a time; several need a batch.", key="one_product", field="product")
    if args.copy_csv and not args.batch:
        raise InputError("A CSV of copy is for a batch of products.", key="csv_needs_batch", field="copy_csv")
    return AdRequest(
        product=None if args.batch else args.product[0], headline=args.headline, subline=args.subline,
        price=args.price, old_price=args.old_price, cta=args.cta, formats=tuple(args.formats or ("instagram-square",)),
        background=args.background, background_prompt=args.background_prompt, backdrop=args.backdrop,
        around_product=args.around_product, preset=args.preset, remover=args.remover, accent=args.accent,
        layouts=load_layouts(args.layout) if args.layout else None,
        brand=studio.brands.load(args.brand) if args.brand else None,
        model=args.model, seed=args.seed, steps=args.steps, design=args.design,
    )


def run(args) -> int:
    from editor.cli_progress import StageProgress
    from editor.studio import AdBatchRequest, JobContext

    out = job_io.check_output_folder(args.out, "out")
    report_path = job_io.check_output_file(args.report, "report", (".json",))
    studio = job_io.make_studio(args)
    request = _request(args, studio)
    progress = StageProgress(stages=("background", "invert", "edit", "product"))
    if args.batch:
        outcome = studio.make_ads_batch(AdBatchRequest(tuple(args.product), request, copy_csv=args.copy_csv),
                                        JobContext(progress=progress))
    else:
        outcome = studio.make_ad(request, JobContext(progress=progress))
    report = outcome.report
    written = {role: str(out / saved_file.name) for role, saved_file in outcome.saved.files.items()}
    job_io.publish(studio, outcome.saved, {out / f.name: f for f in outcome.saved.files.values()}, report_path,
                   dict(report, outputs=written, record=outcome.saved.id), job_io.embedded_settings(args, report))
    if args.batch:
        for item in outcome.items:
            print(f"{item['name']}: {'built' if item['status'] == 'done' else 'failed: ' + item['error']}")
        print(f"wrote {written['zip']} ({report['done']} of {report['products']} products, {len(report['formats'])} formats)")
        job_io.print_notes(report["notes"])
        if not report["done"]:  # the one line every failed command ends with
            first = next((item["error"] for item in outcome.items if item.get("error")), "")
            print(f"error: none of the {report['products']} products could be built ({first})", file=sys.stderr)
            return 2
        return 0
    for name, image in outcome.images.items():
        elements = report["formats"][name]["elements"]
        worst = min((e["contrast_ratio"] for e in elements if e["contrast_ratio"] is not None), default=float("nan"))
        print(f"wrote {written[f'ad:{name}']} ({image.width}×{image.height}, design "
              f"{report['formats'][name].get('template', '?')}, {len(elements)} texts, lowest contrast {worst:.1f}:1)")
    print(f"wrote {written['zip']}")
    print(f"wrote {written['layout']} (edit it and pass it back with --layout)")
    if report.get("memory_plan"):
        print(f"model: {report['model_label']} · licence: {report['license']}")
        print(f"memory plan: {report['memory_plan']['explanation']}")
    job_io.print_notes(report["notes"], report["cutout"]["notes"],
                       *(fmt["layout_notes"] for fmt in report["formats"].values()))
    return 0
