"""`python -m editor edit`: KV-Edit one photo from the command line (for QA reviewers and scripts).

    python -m editor edit --image IN --mask MASK --source TEXT --target TEXT --out OUT.png
        [--model NAME] [--steps N] [--skip-steps N] [--inversion-guidance F] [--guidance F]
        [--re-init] [--attn-mask] [--attn-scale F] [--seed N] [--kv-cache MODE] [--report REPORT.json]

MASK is an image whose non-zero (or, with alpha, opaque) pixels mark the region to change.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

from editor.errors import InputError, IntactError

def _defaults():
    from editor.kv_edit.options import EditOptions

    return EditOptions()


def register(subparsers) -> None:
    d = _defaults()
    parser = subparsers.add_parser(
        "edit",
        help="change the masked region of a photo to match a prompt; everything else stays exactly as it is",
        description="KV-Edit: regenerate the masked region of IMAGE from TARGET while the background is kept "
        "pixel for pixel. SOURCE describes the photo as it is now.",
    )
    parser.add_argument("--image", required=True, help="the photo to edit")
    parser.add_argument("--mask", required=True, help="image whose non-zero (or opaque) pixels mark the region to change")
    parser.add_argument("--source", required=True, help="what the photo shows now")
    parser.add_argument("--target", required=True, help="what it should show")
    parser.add_argument("--out", required=True, help="output PNG")
    parser.add_argument("--model", default="flux-dev", help="a FLUX.1 model (default flux-dev; 'tiny' has random weights, for testing)")
    parser.add_argument("--steps", type=int, default=d.steps, help=f"diffusion steps (default {d.steps})")
    parser.add_argument("--skip-steps", type=int, default=d.skip_steps, help=f"noisiest steps to skip (default {d.skip_steps})")
    parser.add_argument("--inversion-guidance", type=float, default=d.inversion_guidance, help=f"default {d.inversion_guidance}")
    parser.add_argument("--guidance", type=float, default=d.guidance, help=f"default {d.guidance}")
    parser.add_argument("--re-init", action="store_true", help="restart the region from noise (bigger changes)")
    parser.add_argument("--attn-mask", action="store_true", help="keep background and region apart during inversion (object removal)")
    parser.add_argument("--attn-scale", type=float, default=d.attn_scale, help=f"extra attention to the background (default {d.attn_scale})")
    parser.add_argument("--seed", type=int, default=d.seed, help=f"default {d.seed}")
    parser.add_argument("--kv-cache", default=d.kv_cache, help="where the recorded keys/values live: device, cpu, fp8, int8, "
                        "or none (inversion-free, least memory); default %(default)s")
    parser.add_argument("--feather", type=int, default=d.feather_px, help=f"seam blend band inside the mask, px (default {d.feather_px})")
    parser.add_argument("--device", default=None, help="cuda or cpu (default: cuda when available)")
    parser.add_argument("--report", default=None, help="write a JSON report here")
    parser.set_defaults(func=run)


def _atomic_write(path: Path, write) -> None:
    """Write through a temporary file in the same folder, so a failure leaves nothing half-written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _load_pipeline(name: str, device: str | None):
    import torch

    from models.loading import ModelLoadError, default_dtype, load_pipeline
    from models.locate import ModelNotAvailableError
    from models.registry import UnknownModelError, get_spec

    try:
        spec = get_spec(name)
    except UnknownModelError as exc:
        raise InputError(str(exc)) from None
    if spec.kind != "diffusion" or spec.family != "flux":
        raise InputError(f"KV-Edit needs a FLUX.1 model; '{name}' is not one. Try --model flux-dev.")
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    try:
        pipe = load_pipeline(name, default_dtype(device))
    except (ModelNotAvailableError, ModelLoadError) as exc:
        raise IntactError(str(exc)) from None
    return pipe.to(device)


def run(args) -> int:
    from editor.images import load_image, load_mask
    from editor.kv_edit import EditOptions, EditSession

    out = Path(args.out)
    if out.suffix.lower() != ".png":
        raise InputError(f"--out must be a .png file (lossless, so the kept pixels stay exact); got '{out.name}'.")
    opts = EditOptions(
        steps=args.steps,
        skip_steps=args.skip_steps,
        inversion_guidance=args.inversion_guidance,
        guidance=args.guidance,
        re_init=args.re_init,
        attn_mask=args.attn_mask,
        attn_scale=args.attn_scale,
        seed=args.seed,
        kv_cache=args.kv_cache,
        feather_px=args.feather,
    )
    image = load_image(args.image)
    mask, _ = load_mask(args.mask, image.size)
    pipe = _load_pipeline(args.model, args.device)
    session = EditSession(pipe, image.to_pil(), mask, model_name=args.model)

    def progress(stage: str, step: int, total: int) -> None:
        print(f"\r{stage} {step}/{total}", end="" if step < total else "\n", file=sys.stderr, flush=True)

    result = session.edit(args.target, opts, progress=progress, source_prompt=args.source)
    _atomic_write(out, lambda tmp: result.image.save(tmp, format="PNG"))
    if args.report:
        report = dict(result.report, image=str(args.image), mask=str(args.mask), out=str(out))
        text = json.dumps(report, indent=2, ensure_ascii=False)
        _atomic_write(Path(args.report), lambda tmp: Path(tmp).write_text(text + "\n", encoding="utf-8"))
    r = result.report
    print(
        f"wrote {out} ({r['width']}×{r['height']}, {r['model']}, {r['foreground_tokens']}/{r['image_tokens']} tokens edited, "
        f"inversion {r['inversion_seconds']:.1f}s, edit {r['denoise_seconds']:.1f}s)"
    )
    return 0
