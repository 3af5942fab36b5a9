"""`python -m editor ad`: make shop ads from a product photo, in one or more formats.

    python -m editor ad --product IN --headline TEXT [--subline TEXT] [--price TEXT] [--cta TEXT]
        [--preset NAME] [--background IMG | --background-prompt TEXT | --background-style NAME]
        [--around-product] [--format NAME ...] [--remover NAME] --out DIR [--report R.json]

Without a generated background nothing needs a diffusion model: the product is cut out (a cut-out
model when present, else offline matting) and placed on an uploaded photo or a procedural style.
A generated background runs through the Studio under a memory plan, as in the app.
"""

from __future__ import annotations

from editor.commands import job_io


def register(subparsers) -> None:
    from editor.ad.backgrounds import list_styles
    from editor.ad.cutout import remover_names
    from editor.ad.formats import FORMATS

    parser = subparsers.add_parser("ad", help="make ads (Instagram, story, web banner) from a product photo",
                                   description="Cut out the product, compose it on a background and lay out the text.")
    parser.add_argument("--product", required=True, help="product photo (a transparent PNG is used as it is)")
    parser.add_argument("--headline", required=True)
    parser.add_argument("--subline", default="")
    parser.add_argument("--price", default="")
    parser.add_argument("--cta", default="", help="call to action, drawn as a button")
    parser.add_argument("--preset", default=None, help="shop preset that styles a generated background")
    bg = parser.add_mutually_exclusive_group()
    bg.add_argument("--background", default=None, help="background photo")
    bg.add_argument("--background-prompt", default=None, help="generate the background from this text (needs a model)")
    bg.add_argument("--background-style", default=None, choices=list_styles(), help="procedural background (default studio-white)")
    parser.add_argument("--around-product", action="store_true",
                        help="generate the scene around the product with KV-Edit (needs a prompt or a preset)")
    parser.add_argument("--format", dest="formats", nargs="+", action="extend", default=None,
                        help=f"one or more of {', '.join(FORMATS)} (default instagram-square)")
    parser.add_argument("--remover", default="auto", choices=remover_names(), help="cut-out method (default auto)")
    parser.add_argument("--accent", default=None, help="price and button colour, #rrggbb")
    parser.add_argument("--model", default=None, help="diffusion model for generated backgrounds (default: auto)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--out", required=True, help="folder for the PNGs and a zip of them")
    job_io.add_studio_flags(parser)
    parser.set_defaults(func=run)


def run(args) -> int:
    from editor.cli_progress import StageProgress
    from editor.studio import AdRequest, JobContext

    out = job_io.check_output_folder(args.out, "out")
    report_path = job_io.check_output_file(args.report, "report", (".json",))
    studio = job_io.make_studio(args)
    request = AdRequest(
        product=args.product, headline=args.headline, subline=args.subline, price=args.price, cta=args.cta,
        formats=tuple(args.formats or ("instagram-square",)), background=args.background,
        background_prompt=args.background_prompt, background_style=args.background_style,
        around_product=args.around_product, preset=args.preset, remover=args.remover, accent=args.accent,
        model=args.model, seed=args.seed, steps=args.steps,
    )
    outcome = studio.make_ad(request, JobContext(progress=StageProgress(stages=("background", "invert", "edit"))))
    report = outcome.report
    written = {}
    for role, saved_file in outcome.saved.files.items():
        target = out / saved_file.name
        job_io.copy_out(saved_file, target)
        written[role] = str(target)
    job_io.write_report(report_path, dict(report, outputs=written, record=outcome.saved.id))
    for name, image in outcome.images.items():
        elements = report["formats"][name]["elements"]
        worst = min((e["contrast_ratio"] for e in elements), default=float("nan"))
        print(f"wrote {written[f'ad:{name}']} ({image.width}×{image.height}, {len(elements)} texts, "
              f"lowest contrast {worst:.1f}:1)")
    print(f"wrote {written['zip']}")
    if report.get("memory_plan"):
        print(f"model: {report['model_label']} · licence: {report['license']}")
        print(f"memory plan: {report['memory_plan']['explanation']}")
    job_io.print_notes(report["notes"], report["cutout"]["notes"],
                *(fmt["layout_notes"] for fmt in report["formats"].values()))
    return 0
