"""What every command shares: the Studio it runs its job on, and its output paths checked before
any work (a folder where a file should be, a read-only place) and written atomically after."""


from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from editor.errors import InputError


def add_studio_flags(parser) -> None:
    """Flags every model-running command takes."""
    parser.add_argument("--device", default=None, choices=["cuda", "cpu", "mps"],
                        help="compute device (default: cuda when available, else cpu)")
    parser.add_argument("--output-dir", default=None,
                        help="where the job's record is saved, as the app saves it (default: $INTACT_OUTPUT_DIR or outputs/)")
    parser.add_argument("--report", default=None, help="also write the job's report here, as JSON")


def make_studio(args):
    """The Studio for this run; its device and output folder are checked first (nothing runs yet)."""
    from editor.storage import default_root
    from editor.studio import Studio, StudioConfig

    check_output_folder(args.output_dir or str(default_root()), "output_dir")
    if args.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise InputError("No CUDA GPU is available on this machine.", key="no_cuda", field="device")
    output = Path(args.output_dir).expanduser() if args.output_dir else None
    brand_dir = getattr(args, "brand_dir", None)  # commands that use brand kits let the user point elsewhere
    # The command draws its own progress line; the libraries' tqdm bars would garble stderr.
    return Studio(StudioConfig(output_dir=output, device=args.device, progress_bars=False,
                               brand_dir=Path(brand_dir).expanduser() if brand_dir else None))


def check_output_file(path: str | None, field: str, suffixes: tuple[str, ...] = ()) -> Path | None:
    """Refuse an output path that cannot be written, before any work is done: a folder, a place
    under a file, a read-only folder, the wrong kind of file."""
    if path is None:
        return None
    out = Path(path).expanduser()
    if out.is_dir():
        raise InputError(f"The output '{out}' is a folder; give a file name.", key="output_is_folder", field=field)
    if suffixes and out.suffix.lower() not in suffixes:
        raise InputError(f"The output must be a {' or '.join(suffixes)} file; got '{out.name}'.", key="bad_output_kind",
                         field=field, name=out.name, kinds=" or ".join(suffixes))
    _check_writable_folder(out.parent, field)
    return out


def check_output_folder(path: str | None, field: str) -> Path | None:
    if path is None:
        return None
    out = Path(path).expanduser()
    if out.exists() and not out.is_dir():
        raise InputError(f"The output '{out}' is a file, not a folder.", key="output_not_folder", field=field)
    _check_writable_folder(out, field)
    return out


def _check_writable_folder(folder: Path, field: str) -> None:
    existing = folder
    while not existing.exists():  # the folder will be made: its nearest existing parent must allow it
        existing = existing.parent
    if not existing.is_dir():
        raise InputError(f"Cannot write under '{existing}': it is a file.", key="output_under_file", field=field)
    if not os.access(existing, os.W_OK | os.X_OK):
        raise InputError(f"Cannot write to '{existing}': permission denied.", key="output_read_only", field=field)


def publish(studio, saved, outputs: dict[Path, Path | bytes], report_path: Path | None = None,
            report: dict | None = None, settings: dict | None = None) -> None:
    """Deliver a saved job where the user asked (`outputs`: destination -> saved file, and the
    report), all or nothing: every file is written beside its destination first and renamed into
    place only once all are written. When one cannot be written (a full disk, a read-only folder)
    none is left, the job is withdrawn from the output folder and its history, and the one-line
    error names the destination. `settings` (QA's --embed-settings) go into each PNG delivered.
    A command that saves no job (select) passes `saved=None` and its outputs as bytes."""
    import tempfile

    from editor.atomic import fsync_dir

    staged: list[tuple[str, Path]] = []
    writes = [(target, _copier(source, settings)) for target, source in outputs.items()]
    if report_path is not None:
        body = (json.dumps(report, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
        writes.append((report_path, lambda fh, data=body: fh.write(data)))
    where = writes[0][0].parent if writes else Path(".")
    try:
        for target, write in writes:
            where = target.parent
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
            staged.append((tmp, target))
            with os.fdopen(fd, "wb") as fh:
                write(fh)
                fh.flush()
                os.fsync(fh.fileno())
        for tmp, target in staged:
            os.replace(tmp, target)
        for folder in {target.parent for _, target in staged}:
            fsync_dir(folder)
    except OSError as exc:
        for tmp, _ in staged:
            Path(tmp).unlink(missing_ok=True)
        if saved is None:
            raise InputError(f"The results could not be written to {where} ({_why(exc)}); nothing was kept there.",
                             key="out_not_written", field="out", where=str(where)) from None
        studio.store.withdraw(saved)
        raise InputError(f"The results could not be written to {where} ({_why(exc)}); nothing was kept there and "
                         f"the job was not recorded.", key="out_not_written", field="out", where=str(where)) from None


def _why(exc: OSError) -> str:
    import errno

    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return "the disk is full"
    if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return "it is read-only"
    return exc.strerror or type(exc).__name__


def _copier(source: Path | bytes, settings: dict | None):
    if isinstance(source, bytes):
        return lambda fh, data=source: fh.write(data)

    def write(fh) -> None:
        if settings and source.suffix.lower() == ".png":
            from PIL import Image

            from editor.storage import encode_png

            with Image.open(source) as image:
                fh.write(encode_png(image, settings))
            return
        with open(source, "rb") as src:
            shutil.copyfileobj(src, fh, 1 << 20)

    return write


def add_embed_flag(parser) -> None:
    parser.add_argument("--embed-settings", action="store_true",
                        help="QA: write the prompt, seed and model into each PNG delivered (published pictures "
                             "carry none by default)")


def embedded_settings(args, report: dict) -> dict | None:
    """The settings --embed-settings adds to the delivered PNGs: what reproduces the picture, no
    owner, no machine facts."""
    if not getattr(args, "embed_settings", False):
        return None
    keys = ("prompt", "source_prompt", "target_prompt", "negative_prompt", "headline", "seed", "steps", "guidance",
            "model", "preset", "style")
    picked = {k: getattr(args, k) for k in keys if getattr(args, k, None) not in (None, "")}
    if report.get("model"):
        picked["model"] = report["model"]
    return picked


def print_notes(*groups) -> None:
    for note in dict.fromkeys(n for group in groups for n in group):
        print(f"note: {note}")
