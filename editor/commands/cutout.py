"""`python -m editor cutout`: cut the product out of a photo into a transparent PNG.

    python -m editor cutout --image IN --out OUT.png [--remover NAME] [--report R.json]

NAME: auto (the best cut-out model on this machine, else offline matting), offline (no weights:
border colour model + GrabCut + alpha matting, for studio shots), or a cut-out model's name.
"""

from __future__ import annotations

from editor.commands import job_io


def register(subparsers) -> None:
    from editor.ad.cutout import remover_names

    parser = subparsers.add_parser("cutout", help="cut the product out of a photo (transparent PNG)",
                                   description="Cut the product out of IMAGE and write an RGBA PNG.")
    parser.add_argument("--image", required=True, help="the product photo")
    parser.add_argument("--out", required=True, help="output .png with transparency")
    parser.add_argument("--remover", default="auto", choices=remover_names(),
                        help="auto (a cut-out model if present, else offline), offline, or a model (default auto)")
    job_io.add_studio_flags(parser)
    parser.set_defaults(func=run)


def run(args) -> int:
    from editor.studio import CutoutRequest, JobContext

    out = job_io.check_output_file(args.out, "out", (".png",))  # PNG keeps the transparency
    report_path = job_io.check_output_file(args.report, "report", (".json",))
    studio = job_io.make_studio(args)
    outcome = studio.cutout(CutoutRequest(image=args.image, remover=args.remover), JobContext())
    r = outcome.report
    job_io.publish(studio, outcome.saved, {out: outcome.saved.files["result"]}, report_path,
                   dict(r, image=str(args.image), out=str(out), record=outcome.saved.id))
    print(f"wrote {out} ({r['width']}×{r['height']}, {r['method']}, product covers {r['coverage']:.0%}, "
          f"{r['seconds']:.1f}s)")
    job_io.print_notes(r["notes"])
    return 0
