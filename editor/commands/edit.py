"""`python -m editor edit`: KV-Edit one photo from the command line (for QA reviewers and scripts).

    python -m editor edit --image IN --mask MASK --source TEXT --target TEXT --out OUT.png
        [--model NAME] [--steps N] [--skip-steps N] [--inversion-guidance F] [--guidance F]
        [--re-init] [--attn-mask] [--attn-scale F] [--seed N] [--kv-cache MODE] [--style NAME[:WEIGHT]]
        [--report REPORT.json] [--output-dir DIR]

MASK is an image whose non-zero (or, with alpha, opaque) pixels mark the region to change. Steps,
skip steps and guidance left out take the model's defaults (skip steps follow the step count: 4 of
28). The job runs through the Studio, as in the app: memory plan, saved record, same report.
"""

from __future__ import annotations

from editor.commands import job_io
from editor.commands.option_flags import add_option_flags, option_values
from editor.options import EDIT_OPTIONS


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "edit",
        help="change the masked region of a photo to match a prompt; everything else stays exactly as it is",
        description="KV-Edit: regenerate the masked region of IMAGE from TARGET while the background is kept "
        "pixel for pixel. SOURCE describes the photo as it is now.",
    )
    parser.add_argument("--image", required=True, help="the photo to edit")
    parser.add_argument("--mask", required=True, help="image whose non-zero (or opaque) pixels mark the region to change")
    parser.add_argument("--source", dest="source_prompt", required=True, help="what the photo shows now")
    parser.add_argument("--target", dest="target_prompt", required=True, help="what it should show")
    parser.add_argument("--out", required=True, help="output PNG")
    parser.add_argument("--model", default="auto",
                        help="a model that can edit (default auto: the best one on this machine, else 'tiny', "
                        "random weights, for testing)")
    add_option_flags(parser, EDIT_OPTIONS)
    parser.add_argument("--style", metavar="NAME[:WEIGHT]", default=None, help="a LoRA style for this edit")
    job_io.add_studio_flags(parser)
    parser.set_defaults(func=run)


def run(args) -> int:
    from editor.commands.generate import parse_style
    from editor.studio import EditRequest, JobContext

    out = job_io.check_output_file(args.out, "out", (".png",))  # lossless, so the kept pixels stay exact
    report_path = job_io.check_output_file(args.report, "report", (".json",))
    studio = job_io.make_studio(args)
    style, style_weight = parse_style(args.style)
    request = EditRequest(
        image=args.image, mask=args.mask, source_prompt=args.source_prompt, target_prompt=args.target_prompt,
        model=args.model, style=style, style_weight=style_weight, **option_values(args, EDIT_OPTIONS),
    )
    from editor.cli_progress import StageProgress

    outcome = studio.edit(request, JobContext(progress=StageProgress()))
    job_io.copy_out(outcome.saved.files["result"], out)
    r = outcome.report
    job_io.write_report(report_path, dict(r, image=str(args.image), mask=str(args.mask), out=str(out),
                                   record=outcome.saved.id))
    print(
        f"wrote {out} ({r['width']}×{r['height']}, {r['model_label']}, {r['foreground_tokens']}/{r['image_tokens']} "
        f"tokens edited, {r['steps']} steps ({r['skip_steps']} skipped), inversion {r['inversion']} "
        f"{r['inversion_seconds']:.1f}s, edit {r['denoise_seconds']:.1f}s, KV cache {r['kv_cache_mode']})"
    )
    print(f"licence: {r['license']}")
    if r.get("speed", "exact") != "exact":
        refresh = r.get("elastic_refresh") or r.get("elastic_keyframes") or {}
        shown = ", ".join(f"{k} {round(v, 2) if isinstance(v, float) else v}" for k, v in refresh.items()
                          if not isinstance(v, (list, dict)))
        print(f"speed: {r['speed']} ({shown})")
    print(f"memory plan: {r['memory_plan']['explanation']}")
    print(f"saved: {outcome.saved.folder}")
    for which in ("source", "target"):
        translation = r[f"{which}_translation"]
        if translation["backend"] in ("marian", "glossary"):
            print(f"{which} prompt ({translation['backend']}): {translation['source_text']} -> {translation['text']}")
    # e.g. EXIF rotation, CMYK, a resized or empty mask, a prompt longer than the model reads
    job_io.print_notes(r["notes"])
    return 0
