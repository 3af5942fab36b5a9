"""`python -m editor ad`: make shop ads from a product photo, in one or more formats.

    python -m editor ad --product IN --headline TEXT [--subline TEXT] [--price TEXT] [--cta TEXT]
        [--preset NAME] [--background IMG | --background-prompt TEXT | --backdrop NAME]
        [--around-product] [--format NAME ...] [--remover NAME] --out DIR [--report R.json]

Without a generated background nothing needs a model: the product is cut out offline (or with a
rembg model when present) and placed on an uploaded photo or a procedural backdrop.
"""

from __future__ import annotations

import json
from pathlib import Path

from editor.errors import IntactError


def register(subparsers) -> None:
    from editor.ad.backgrounds import list_backdrops
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
    bg.add_argument("--backdrop", default=None, choices=list_backdrops(),
                    help="procedural backdrop (default product-tint: a tint of the product's own colour)")
    parser.add_argument("--around-product", action="store_true",
                        help="generate the scene around the product with KV-Edit (needs a FLUX.1 model and a prompt or preset)")
    parser.add_argument("--format", dest="formats", nargs="+", action="extend", default=None,
                        help=f"one or more of {', '.join(FORMATS)} (default instagram-square)")
    parser.add_argument("--remover", default="auto", choices=remover_names(), help="cut-out method (default auto)")
    parser.add_argument("--accent", default=None, help="price and button colour, #rrggbb")
    parser.add_argument("--model", default=None, help="diffusion model for generated backgrounds (default flux-schnell)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--device", default=None, help="cuda or cpu, for generated backgrounds")
    parser.add_argument("--out", required=True, help="folder for the PNGs (ad-FORMAT.png)")
    parser.add_argument("--report", default=None, help="write a JSON report here")
    parser.set_defaults(func=run)


def _manager(args):
    if not (args.background_prompt or args.preset or args.around_product):
        return None
    from models.manager import ModelManager

    return ModelManager(device=args.device)


def run(args) -> int:
    from editor.ad import AdRequest, AdWorkflow
    from editor.atomic import atomic_write_bytes
    from editor.cli_progress import StageProgress
    from models.loading import ModelLoadError
    from models.locate import ModelNotAvailableError

    request = AdRequest(
        product=args.product, headline=args.headline, subline=args.subline, price=args.price, cta=args.cta,
        formats=tuple(args.formats or ("instagram-square",)), background=args.background,
        background_prompt=args.background_prompt, backdrop=args.backdrop,
        around_product=args.around_product, preset=args.preset, remover=args.remover, accent=args.accent,
        model=args.model, seed=args.seed, steps=args.steps, out_dir=str(args.out),
    )

    progress = StageProgress(stages=("background", "invert", "edit"))
    with AdWorkflow(manager=_manager(args), model_name=args.model) as workflow:
        try:
            result = workflow.run(request, progress=progress)
        except (ModelNotAvailableError, ModelLoadError) as exc:
            raise IntactError(str(exc)) from None
    if args.report:
        atomic_write_bytes(Path(args.report), (json.dumps(result.report, indent=2, ensure_ascii=False) + "\n").encode("utf-8"))
    for name, path in result.paths.items():
        elements = result.report["formats"][name]["elements"]
        worst = min((e["contrast_ratio"] for e in elements), default=float("nan"))
        print(f"wrote {path} ({result.images[name].width}×{result.images[name].height}, {len(elements)} texts, "
              f"lowest contrast {worst:.1f}:1)")
    for note in result.report["notes"] + result.report["cutout"]["notes"]:
        print(f"note: {note}")
    for fmt in result.report["formats"].values():
        for note in fmt["layout_notes"]:
            print(f"note: {note}")
    return 0
