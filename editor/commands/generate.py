"""`python -m editor generate`: text-to-image or image-to-image, saved with its parameters."""

from __future__ import annotations

from editor.commands import job_io
from editor.commands.option_flags import add_option_flags, option_values
from editor.errors import InputError
from editor.options import GENERATE_OPTIONS

SET_OTHERWISE = ("width", "height", "style_weight")  # by --size WxH and --style NAME:WEIGHT


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
    p.add_argument("--style", "--lora", dest="style", metavar="NAME[:WEIGHT]", help="LoRA style from the styles folder")
    p.add_argument("--model", default="auto",
                   help="image model (default auto: the best one on this machine, else 'tiny', random weights)")
    p.add_argument("--size", metavar="WxH", help="picture size in pixels, multiples of 16")
    p.add_argument("--negative", dest="negative_prompt",
                   help="negative prompt (only models that use classifier-free guidance read it)")
    add_option_flags(p, GENERATE_OPTIONS, skip=SET_OTHERWISE)
    p.add_argument("--out", required=True, help="folder for the pictures")
    job_io.add_studio_flags(p)
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
        prompt=args.prompt, model=args.model, preset=args.preset, image=args.image, style=style,
        style_weight=style_weight, width=width, height=height, negative_prompt=args.negative_prompt,
        **option_values(args, GENERATE_OPTIONS, skip=SET_OTHERWISE),
    )
    outcome = studio.generate(request, JobContext(progress=StageProgress()))
    report = outcome.report
    written = []
    for role, saved_file in outcome.saved.files.items():
        target = out / saved_file.name
        job_io.copy_out(saved_file, target)
        written.append(str(target))
    job_io.write_report(report_path, dict(report, outputs=written, record=outcome.saved.id))
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
