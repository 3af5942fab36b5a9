"""Intact web app: `python app.py` (see `python app.py --help`).

Starts without any model weights: tabs whose model is missing say which model and the command
that fetches it. Binds 127.0.0.1 unless told otherwise (`--host 0.0.0.0`, `--share`). On a
Hugging Face Space the platform's GRADIO_SERVER_NAME / GRADIO_SERVER_PORT are honoured.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from ui.gpu import CUTOUT_QUEUE, GPU_QUEUE

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no phoning home from shops' machines
# The libraries' own notices (transformers: "requires torchvision, falling back ...") are for
# their developers, not for a shop owner's console; errors still show.
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

DEFAULT_PORT = 7860
DEFAULT_HOST = "127.0.0.1"
# Largest accepted upload: a 40-megapixel photo (the image loader's limit) as PNG fits; more is refused.
MAX_UPLOAD = "64mb"


def build_parser() -> argparse.ArgumentParser:
    # Light imports only: `--help` answers without loading torch, gradio or the Studio.
    from editor.options import KV_CACHE_CHOICES
    from editor.storage import default_root as default_output_dir
    from models.registry import diffusion_models
    from models.vocabulary import MEMORY_MODES
    models = [spec.name for spec in diffusion_models()]
    parser = argparse.ArgumentParser(
        prog="python app.py",
        description="Intact: photo & ad studio (Gradio web app). Korean and English UI.",
    )
    parser.add_argument(
        "--model", default="auto", choices=["auto", *models],
        help="default diffusion model in every tab (default: auto = the first real model on this "
        "machine, else 'tiny-flux2', random weights, for testing)",
    )
    parser.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", DEFAULT_HOST),
                        help="address to bind (default: %(default)s); 0.0.0.0 serves other machines on your network")
    parser.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", DEFAULT_PORT)),
                        help="port to listen on (default: %(default)s)")
    parser.add_argument("--share", action="store_true",
                        help="also open a public *.gradio.live link (off by default)")
    parser.add_argument("--output-dir", type=Path, default=None,
                        help=f"where results and history.jsonl are saved (default: $INTACT_OUTPUT_DIR or "
                        f"{default_output_dir()})")
    parser.add_argument("--memory-mode", default="auto", choices=MEMORY_MODES,
                        help="memory mode (default: auto = the memory planner fits each job to this device); "
                        "force an offload instead: none (all weights on the accelerator), model "
                        "(components move to CPU between uses), group (weights streamed, least memory)")
    parser.add_argument("--kv-cache", default="auto", choices=KV_CACHE_CHOICES,
                        help="KV cache mode, where KV-Edit keeps the background keys/values (default: auto, from "
                        "the memory plan): device, cpu, fp8, int8, or none (inversion-free)")
    parser.add_argument("--device", default=None, choices=["cuda", "cpu", "mps"],
                        help="compute device (default: cuda when available, else cpu)")
    parser.add_argument("--private-gallery", action=argparse.BooleanOptionalAction,
                        default=None,
                        help="each browser session sees only its own results in the Gallery (default: on when "
                        "others can reach the app: a Hugging Face Space, --share, or a non-loopback --host; "
                        "off when it serves only this machine)")
    parser.add_argument("--max-edit-sessions", type=int, default=2,
                        help="how many browser sessions keep their inversion in memory (default: %(default)s); "
                        "the least recently used one inverts again on its next edit")
    parser.add_argument("--queue-size", type=int, default=16,
                        help="most requests waiting in the queue (default: %(default)s); more are refused with "
                        "'queue full'")
    serving = parser.add_argument_group(
        "serving many users (Ray Serve; needs requirements-serve.txt)",
        "Run the jobs on Studio replicas of a Ray cluster instead of in this process. A session's edits go to "
        "the replica holding its inversion. Results are written by the replicas: --output-dir must be a folder "
        "every replica and this app reach at the same path.")
    serving.add_argument("--ray", metavar="ADDRESS", default=None,
                         help="the Ray cluster to serve from: 'auto' (the one `ray start --head` started on this "
                         "machine) or its address host:port (default: none, everything runs in this process)")
    serving.add_argument("--ray-replicas", type=int, default=1,
                         help="Studio replicas to deploy when the cluster does not run them yet, one GPU each where "
                         "the cluster has GPUs (default: %(default)s)")
    serving.add_argument("--ray-cpu-replicas", type=int, default=0,
                         help="extra replicas without a GPU for cut-outs and ads without a generated background "
                         "(default: %(default)s: the Studio replicas do them)")
    return parser


def config_from_args(args: argparse.Namespace):
    from ui.app_state import AppConfig, default_output_dir
    from ui.model_choice import default_model

    model = default_model() if args.model == "auto" else args.model
    return AppConfig(
        model=model,
        output_dir=(args.output_dir or default_output_dir()).expanduser().resolve(),
        kv_cache=args.kv_cache,
        memory_mode=args.memory_mode,
        device=args.device,
        queue_size=args.queue_size,
        private_gallery=gallery_is_private(args),
        max_edit_sessions=args.max_edit_sessions,
    )


def gallery_is_private(args: argparse.Namespace) -> bool:
    if args.private_gallery is not None:
        return args.private_gallery
    loopback = args.host in ("127.0.0.1", "localhost", "::1")
    return bool(os.environ.get("SPACE_ID")) or args.share or not loopback


def serving_client(args: argparse.Namespace, config):
    """With --ray: the client of the Studio replicas on that cluster (deployed if not running yet)."""
    if not args.ray:
        return None
    from serving import ServingOptions, studio_client

    options = ServingOptions(replicas=args.ray_replicas, cpu_replicas=args.ray_cpu_replicas,
                             max_sessions=args.max_edit_sessions)
    return studio_client(args.ray, config.studio_config(), options)


def limit_decoded_pixels() -> None:
    """Make Pillow itself refuse, from the header, any picture above the configured megapixel limit,
    wherever in this process one is opened. Uploads are read by our loader (which checks the header
    against the same limit first); this is the backstop. Pillow raises only above twice its limit
    (between 1× and 2× it merely warns), hence `pillow_pixel_guard`. Pictures between half the
    limit and the limit make Pillow warn; those warnings are ours to ignore, not the log's."""
    import warnings

    from PIL import Image

    from editor.images import pillow_pixel_guard

    Image.MAX_IMAGE_PIXELS = pillow_pixel_guard()
    warnings.simplefilter("ignore", Image.DecompressionBombWarning)


# Events that wait in Gradio's queue: those on the accelerator (one at a time) and the CPU cut-out.
QUEUED_EVENTS = (GPU_QUEUE, CUTOUT_QUEUE)


def answer_cheap_events_directly(demo) -> None:
    """Every other event (status, gallery, brush previews, continue editing, cancel, model pickers,
    page load) is answered off the queue: it never waits behind a GPU job, and is never refused
    "Queue is full" because GPU jobs filled the queue (Gradio's `max_size` counts every queued event,
    whatever its concurrency id). The browser calls such events with a direct HTTP request."""
    for fn in demo.fns.values():
        if fn.concurrency_id not in QUEUED_EVENTS:
            fn.queue = False


def create_demo(config, studio=None):
    """The queued Blocks for `config` (also what a Space's runner or a test can launch). `studio`:
    a StudioClient when the jobs run on serving replicas; None runs them in this process."""
    from ui.app_state import Services
    from ui.layout import build_app

    services = Services(config, studio=studio)
    demo = build_app(services)
    # Accelerator events share one concurrency id, limited to what the Studio runs at once (one
    # job in this process; a few per replica when serving); the cut-out has its own.
    demo.queue(max_size=config.queue_size, default_concurrency_limit=4)
    answer_cheap_events_directly(demo)
    report_data_problems(services.studio)
    return demo


def report_data_problems(studio) -> None:
    """Say at start-up which data files were skipped (each was logged with its path as it was read)."""
    problems = studio.data_problems()
    if problems:
        logging.getLogger("intact.app").warning("%d data file(s) skipped (listed on the Status tab): %s",
                                                len(problems), "; ".join(p.line() for p in problems))


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    config = config_from_args(args)
    config.output_dir.mkdir(parents=True, exist_ok=True)
    limit_decoded_pixels()  # process-wide Pillow setting: done by the server process only, not by importers
    demo = create_demo(config, studio=serving_client(args, config))
    from ui.layout import launch_options

    demo.launch(
        quiet=True,  # gradio's lines name its own API ("set `share=True` in `launch()`"): ours follow
        prevent_thread_lock=True,
        server_name=args.host,
        server_port=args.port,
        share=args.share,
        allowed_paths=[str(config.output_dir)],  # results only; nothing else on disk is served
        # ...and not the history log, which lists every user's prompts and result names.
        blocked_paths=[str(config.output_dir / "history.jsonl")],
        show_error=True,
        max_file_size=MAX_UPLOAD,
        **launch_options(),
    )
    print(started_lines(demo.local_url, demo.share_url), flush=True)
    demo.block_thread()
    return 0


def started_lines(local_url: str, share_url: str | None) -> str:
    """What the console says once the app answers: where to open it, and how to share it."""
    lines = [f"* Running on local URL:  {local_url.rstrip('/')}", "  Open it in your browser. Stop with Ctrl+C."]
    if share_url:
        lines.append(f"* Public link (anyone with it can use this app): {share_url}")
    else:
        lines.append("  To open it from other devices, start with --host 0.0.0.0 (your network) or --share "
                     "(a temporary public *.gradio.live link).")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
