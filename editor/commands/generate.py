"""`python -m editor generate`: text-to-image or image-to-image, saved with its parameters."""

from __future__ import annotations

import json
from pathlib import Path

from editor.errors import InputError


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
    p.add_argument("--lora", metavar="NAME[:WEIGHT]", help="LoRA style from the styles folder")
    p.add_argument("--model", default="flux-schnell", help="image model (default flux-schnell; tiny for tests)")
    p.add_argument("--seed", type=int, help="random seed (default: a new one, printed in the report)")
    p.add_argument("--size", metavar="WxH", help="picture size in pixels, multiples of 16")
    p.add_argument("--steps", type=int)
    p.add_argument("--guidance", type=float)
    p.add_argument("--negative", help="negative prompt (only models that use classifier-free guidance read it)")
    p.add_argument("--num-images", type=int, default=1)
    p.add_argument("--device", help="cpu or cuda (default: cuda when available)")
    p.add_argument("--out", required=True, help="output folder (pictures are named by their content hash)")
    p.add_argument("--report", help="write the generation report as JSON here")
    p.set_defaults(func=run)


def parse_size(text: str | None) -> tuple[int | None, int | None]:
    if not text:
        return None, None
    parts = text.lower().replace("×", "x").split("x")
    if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
        raise InputError(f"--size must look like 1024x768, got '{text}'.")
    return int(parts[0]), int(parts[1])


def parse_lora(text: str | None) -> tuple[str | None, float | None]:
    if not text:
        return None, None
    name, sep, weight = text.partition(":")
    if not sep:
        return name, None
    try:
        return name, float(weight)
    except ValueError:
        raise InputError(f"--lora weight must be a number, as in film:0.8 (got '{text}').") from None


def run(args) -> int:
    from editor.atomic import atomic_write_bytes
    from editor.cli_progress import StageProgress
    from editor.generate import GenerateRequest, generate
    from editor.storage import OutputStore
    from models.manager import ModelManager

    width, height = parse_size(args.size)
    lora, lora_weight = parse_lora(args.lora)
    request = GenerateRequest(
        prompt=args.prompt, model=args.model, preset=args.preset, image=args.image, strength=args.strength,
        lora=lora, lora_weight=lora_weight, seed=args.seed, steps=args.steps, guidance=args.guidance,
        width=width, height=height, negative_prompt=args.negative, num_images=args.num_images,
    )

    manager = ModelManager(device=args.device)
    result = generate(manager, request, progress=StageProgress(), memory="auto")
    store = OutputStore(args.out)
    saved = [store.save(image, result.report) for image in result.images]
    report = dict(result.report, outputs=[{"path": str(s.path), "sha256": s.sha256, "new": s.created} for s in saved])
    translation = report["translation"]
    if translation["backend"] not in ("none",):
        print(f"prompt ({translation['backend']}): {translation['source_text']} -> {translation['text']}")
    for s in saved:
        print(s.path)
    print(f"memory plan: {report['memory_plan']['explanation']}")
    if report.get("prompt_truncated"):
        print(f"note: the prompt is {report['prompt_tokens']} tokens; {report['model']} reads the first "
              f"{report['max_sequence_length']}, the rest was left out")
    if args.report:
        atomic_write_bytes(Path(args.report), json.dumps(report, ensure_ascii=False, indent=2).encode("utf-8"))
    return 0
