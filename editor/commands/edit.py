"""`python -m editor edit`: KV-Edit one photo from the command line (for QA reviewers and scripts).

    python -m editor edit --image IN --mask MASK --source TEXT --target TEXT --out OUT.png
        [--model NAME] [--steps N] [--skip-steps N] [--inversion-guidance F] [--guidance F]
        [--re-init] [--attn-mask] [--attn-scale F] [--seed N] [--kv-cache MODE] [--report REPORT.json]

MASK is an image whose non-zero (or, with alpha, opaque) pixels mark the region to change.
The memory plan (offload, VAE tiling and, with `--kv-cache auto`, the KV cache) is chosen for this
machine by `editor.edit_workflow.run_edit`; the last line of output names it.
"""

from __future__ import annotations

import json
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
    parser.add_argument("--model", default="flux-dev", help="an image model: FLUX.1, FLUX.2 [klein] or Z-Image (default flux-dev; "
                        "'tiny', 'tiny-flux2' and 'tiny-zimage' have random weights, for testing)")
    parser.add_argument("--steps", type=int, default=d.steps, help=f"diffusion steps (default {d.steps})")
    parser.add_argument("--skip-steps", type=int, default=d.skip_steps, help=f"noisiest steps to skip (default {d.skip_steps})")
    parser.add_argument("--inversion-guidance", type=float, default=d.inversion_guidance, help=f"default {d.inversion_guidance}")
    parser.add_argument("--guidance", type=float, default=d.guidance, help=f"default {d.guidance}")
    parser.add_argument("--re-init", action="store_true", help="restart the region from noise (bigger changes)")
    parser.add_argument("--attn-mask", action="store_true", help="keep background and region apart during inversion (object removal)")
    parser.add_argument("--attn-scale", type=float, default=d.attn_scale, help=f"extra attention to the background (default {d.attn_scale})")
    parser.add_argument("--seed", type=int, default=d.seed, help=f"default {d.seed}")
    parser.add_argument("--kv-cache", default="auto", help="where the recorded keys/values live: auto (the memory plan "
                        "chooses), device, cpu, fp8, int8, or none (inversion-free, least memory); default %(default)s")
    parser.add_argument("--feather", type=int, default=d.feather_px, help=f"seam blend band inside the mask, px (default {d.feather_px})")
    parser.add_argument("--device", default=None, help="cuda or cpu (default: cuda when available)")
    parser.add_argument("--report", default=None, help="write a JSON report here")
    parser.set_defaults(func=run)


def _manager(name: str, device: str | None):
    from models.families import supports
    from models.manager import ModelManager
    from models.registry import UnknownModelError, get_spec
    from models.vocabulary import KV_EDIT

    try:
        spec = get_spec(name)
    except UnknownModelError as exc:
        raise InputError(str(exc)) from None
    if not supports(spec, KV_EDIT):
        raise InputError(f"'{name}' is not an image model, so it cannot run KV-Edit.", field="model")
    return ModelManager(device=device)


def run(args) -> int:
    from editor.atomic import atomic_write, atomic_write_text
    from editor.cli_progress import StageProgress
    from editor.edit_workflow import run_edit
    from editor.images import load_image, load_mask
    from models.loading import ModelLoadError
    from models.locate import ModelNotAvailableError

    out = Path(args.out)
    if out.suffix.lower() != ".png":
        raise InputError(f"--out must be a .png file (lossless, so the kept pixels stay exact); got '{out.name}'.")
    options = dict(
        steps=args.steps,
        skip_steps=args.skip_steps,
        inversion_guidance=args.inversion_guidance,
        guidance=args.guidance,
        re_init=args.re_init,
        attn_mask=args.attn_mask,
        attn_scale=args.attn_scale,
        seed=args.seed,
        feather_px=args.feather,
    )
    image = load_image(args.image)
    mask, mask_notes = load_mask(args.mask, image.size)
    manager = _manager(args.model, args.device)
    try:
        run = run_edit(manager, args.model, image.to_pil(), mask, args.source, args.target, kv_cache=args.kv_cache,
                       progress=StageProgress(), **options)
    except (ModelNotAvailableError, ModelLoadError) as exc:
        raise IntactError(str(exc)) from None
    result = run.result
    atomic_write(out, lambda tmp: result.image.save(tmp, format="PNG"))
    if args.report:
        report = dict(result.report, image=str(args.image), mask=str(args.mask), out=str(out))
        atomic_write_text(Path(args.report), json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    r = result.report
    print(
        f"wrote {out} ({r['width']}×{r['height']}, {r['model']}, {r['foreground_tokens']}/{r['image_tokens']} tokens edited, "
        f"inversion {r['inversion_seconds']:.1f}s, edit {r['denoise_seconds']:.1f}s, KV cache {r['kv_cache_mode']})"
    )
    print(f"memory plan: {r['memory_plan']['explanation']}")
    # e.g. EXIF rotation, CMYK, a resized or empty mask, a prompt longer than the model reads
    for note in dict.fromkeys((*image.notes, *mask_notes, *r["notes"])):
        print(f"note: {note}")
    return 0
