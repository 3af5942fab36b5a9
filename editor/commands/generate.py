"""`python -m editor generate`: text-to-image or image-to-image, saved with its parameters."""

from __future__ import annotations

from editor.commands import job_io
from editor.errors import InputError
from models.vocabulary import EXACT, SPEED_SETTINGS


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "generate",
        help="make pictures from a prompt (Korean or English), optionally from a starting image",
        description="Text-to-image, or image-to-image with --image. Text in quotes inside the prompt is ad copy: "
        "it is kept out of the model and listed in the report.",
    )
    p.add_argument("--prompt", required=True, help="what to draw; Korean is translated when the model needs it")
    p.add_argument("--preset", help="shop preset (assets/presets): cafe, restaurant, clothing, ...")
    p.add_argument("--image", help="starting image for image-to-image")
    p.add_argument("--strength", type=float, default=0.6, help="image-to-image: 0 keeps the input, 1 ignores it")
    p.add_argument("--style", "--lora", dest="style", metavar="NAME[:WEIGHT]", help="LoRA style from the styles folder")
    p.add_argument("--model", default="auto",
                   help="image model (default auto: the best one on this machine, else 'tiny', random weights)")
    p.add_argument("--seed", type=int, help="random seed (default: a new one, printed in the report)")
    p.add_argument("--size", metavar="WxH", help="picture size in pixels, multiples of 16")
    p.add_argument("--steps", type=int)
    p.add_argument("--guidance", type=float)
    p.add_argument("--negative", dest="negative_prompt",
                   help="negative prompt (only models that use classifier-free guidance read it)")
    p.add_argument("--num-images", type=int, default=1)
    p.add_argument("--speed", default=EXACT, choices=SPEED_SETTINGS,
                        help="exact (default), fast or fastest: "
                        "diffusers step caches reuse features across steps (and torch.compile on CUDA), "
                        "trading a little fidelity for speed")
    p.add_argument("--out", required=True, help="folder for the pictures")
    job_io.add_studio_flags(p)
    job_io.add_embed_flag(p)
    p.set_defaults(func=run)


def parse_size(text: str | None) -> tuple[int | None, int | None]:
    if not text:
        return None, None
    parts = text.lower().replace("×", "x").split("x")
    if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
        raise InputError(f"The size must look like 1024x768, got '{text}'.", key="bad_size", field="size", value=text)
    return int(parts[0]), int(parts[1])


def parse_style(text: str | None) -> tuple[str | None, float | None]:
    """NAME or NAME:WEIGHT."""
    if not text:
        return None, None
    name, sep, weight = text.partition(":")
    if not sep:
        return name, None
    try:
        return name, float(weight)
    except ValueError:
        raise InputError(f"A style weight must be a number, as in film:0.8 (got '{text}').", key="bad_style_weight",
                         field="style", value=text) from None


def run(args) -> int:
    from editor.cli_progress import StageProgress
    from editor.studio import GenerateRequest, JobContext

    out = job_io.check_output_folder(args.out, "out")
    report_path = job_io.check_output_file(args.report, "report", (".json",))
    studio = job_io.make_studio(args)
    width, height = parse_size(args.size)
    style, style_weight = parse_style(args.style)
    request = GenerateRequest(
        prompt=args.prompt, model=args.model, preset=args.preset, image=args.image, strength=args.strength,
        style=style, style_weight=style_weight, seed=args.seed, steps=args.steps, guidance=args.guidance,
        width=width, height=height, negative_prompt=args.negative_prompt, num_images=args.num_images,
        speed=args.speed,
    )
    outcome = studio.generate(request, JobContext(progress=StageProgress()))
    report = outcome.report
    written = [str(out / saved_file.name) for saved_file in outcome.saved.files.values()]
    job_io.publish(studio, outcome.saved, {out / f.name: f for f in outcome.saved.files.values()}, report_path,
                   dict(report, outputs=written, record=outcome.saved.id), job_io.embedded_settings(args, report))
    translation = report["translation"]
    if translation["backend"] not in ("none",):
        print(f"prompt ({translation['backend']}): {translation['source_text']} -> {translation['text']}")
    for path in written:
        print(f"wrote {path}")
    print(f"model: {report['model_label']} · licence: {report['license']}")
    speed = report.get("speed") or {}
    if speed.get("setting", "exact") != "exact":
        print(f"speed: {speed['setting']} ({speed.get('step_cache') or 'no step cache'}"
              f"{', compiled' if speed.get('compiled') else ''})")
        job_io.print_notes(speed.get("not_applied", []))
    print(f"memory plan: {report['memory_plan']['explanation']}")
    truncated = [f"the prompt is {report['prompt_tokens']} tokens; {report['model']} reads the first "
                 f"{report['max_sequence_length']}, the rest was left out"] if report.get("prompt_truncated") else []
    job_io.print_notes(truncated, report.get("notes", []))  # e.g. pictures left out because they came out blank
    return 0
