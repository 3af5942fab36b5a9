"""`python -m editor cutout`: cut the product out of a photo into a transparent PNG.

    python -m editor cutout --image IN --out OUT.png [--remover NAME] [--report R.json]

NAME: auto (a rembg model when its file is on this machine, else offline), offline (no weights:
border colour model + GrabCut + alpha matting, for studio shots), or a rembg model name.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from editor.errors import InputError


def register(subparsers) -> None:
    from editor.ad.cutout import remover_names

    parser = subparsers.add_parser("cutout", help="cut the product out of a photo (transparent PNG)",
                                   description="Cut the product out of IMAGE and write an RGBA PNG.")
    parser.add_argument("--image", required=True, help="the product photo")
    parser.add_argument("--out", required=True, help="output .png with transparency")
    parser.add_argument("--remover", default="auto", choices=remover_names(),
                        help="auto (rembg model if present, else offline), offline, or a rembg model (default auto)")
    parser.add_argument("--report", default=None, help="write a JSON report here")
    parser.set_defaults(func=run)


def run(args) -> int:
    from editor.ad.cutout import cut_out
    from editor.atomic import atomic_write_bytes

    out = Path(args.out)
    if out.suffix.lower() != ".png":
        raise InputError(f"--out must be a .png file (it keeps the transparency); got '{out.name}'.")
    started = time.perf_counter()
    cut = cut_out(args.image, args.remover)
    seconds = time.perf_counter() - started
    import io

    buffer = io.BytesIO()
    cut.to_pil().save(buffer, format="PNG")
    atomic_write_bytes(out, buffer.getvalue())
    x0, y0, x1, y1 = cut.bbox()
    coverage = float(cut.alpha.mean())
    if args.report:
        report = {"image": str(args.image), "out": str(out), "method": cut.method, "width": cut.size[0],
                  "height": cut.size[1], "bbox": [x0, y0, x1, y1], "coverage": round(coverage, 4),
                  "seconds": round(seconds, 3), "notes": list(cut.notes)}
        atomic_write_bytes(Path(args.report), (json.dumps(report, indent=2, ensure_ascii=False) + "\n").encode("utf-8"))
    print(f"wrote {out} ({cut.size[0]}×{cut.size[1]}, {cut.method}, product covers {coverage:.0%}, {seconds:.1f}s)")
    for note in cut.notes:
        print(f"note: {note}")
    return 0
