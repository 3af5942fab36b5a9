"""`python -m editor select`: the mask of what a few taps point at, for QA and scripts.

    python -m editor select --image IMG --point X,Y [--point X,Y] [--negative X,Y] --out MASK.png
                            [--grow PX] [--feather PX] [--invert] [--report R.json]

Points are photo pixels from the top-left corner. The mask is a greyscale PNG the photo's size
(white: selected), ready for `python -m editor edit --mask`.
"""

from __future__ import annotations

from editor.commands import job_io


def register(subparsers) -> None:
    parser = subparsers.add_parser("select", help="select an object by tapping it (writes a mask PNG)",
                                   description="Select what the points are on and write its mask as a PNG.")
    parser.add_argument("--image", required=True, help="the photo")
    parser.add_argument("--point", dest="points", action="append", default=[], metavar="X,Y",
                        help="a point on the thing to select, in photo pixels (repeat for more)")
    parser.add_argument("--negative", dest="negatives", action="append", default=[], metavar="X,Y",
                        help="a point on something to leave out (repeat for more)")
    parser.add_argument("--out", required=True, help="output mask .png (white: selected)")
    parser.add_argument("--grow", dest="grow_px", type=int, default=0, metavar="PX",
                        help="grow the selection by PX photo pixels (negative shrinks; default 0)")
    parser.add_argument("--feather", dest="feather_px", type=int, default=0, metavar="PX",
                        help="soften the edge over PX photo pixels (default 0: hard edge)")
    parser.add_argument("--invert", action="store_true", help="select everything else instead")
    parser.add_argument("--report", default=None, help="also write the report here, as JSON")
    parser.set_defaults(func=run)


def run(args) -> int:
    import io

    import numpy as np
    from PIL import Image

    from editor.select.request import SelectRequest
    from editor.studio import JobContext, Studio, StudioConfig

    out = job_io.check_output_file(args.out, "out", (".png",))
    report_path = job_io.check_output_file(args.report, "report", (".json",))
    request = SelectRequest(image=args.image, points=tuple(args.points), negatives=tuple(args.negatives),
                            grow_px=args.grow_px, feather_px=args.feather_px, invert=args.invert)
    outcome = Studio(StudioConfig(progress_bars=False)).select(request, JobContext(save=False))
    mask = Image.fromarray(np.clip(outcome.mask * 255.0 + 0.5, 0, 255).astype(np.uint8), "L")
    png = io.BytesIO()
    mask.save(png, format="PNG")
    r = outcome.report
    # The mask and the report are delivered all or none, like every command's outputs (nothing is saved).
    job_io.publish(None, None, {out: png.getvalue()}, report_path, dict(r, image=str(args.image), out=str(out)))
    print(f"wrote {out} ({r['width']}×{r['height']}, {r['method']}, {r['coverage']:.0%} of the photo selected, "
          f"{r['seconds']:.1f}s)")
    job_io.print_notes(r["notes"])
    return 0
