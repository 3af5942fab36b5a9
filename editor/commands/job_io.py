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


def copy_out(saved_file: Path, out: Path) -> None:
    """Copy a saved result to where the user asked for it, atomically."""
    from editor.atomic import atomic_write

    atomic_write(out, lambda tmp: shutil.copyfile(saved_file, tmp))


def write_report(path: Path | None, report: dict) -> None:
    if path is None:
        return
    from editor.atomic import atomic_write_text

    atomic_write_text(path, json.dumps(report, indent=2, ensure_ascii=False) + "\n")


def print_notes(*groups) -> None:
    for note in dict.fromkeys(n for group in groups for n in group):
        print(f"note: {note}")
