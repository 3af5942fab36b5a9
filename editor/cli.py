"""`python -m editor SUBCOMMAND ...` for QA reviewers and scripts.

Subcommands are discovered from `editor/commands/`. A user-facing error prints one line on
stderr and exits 2; the full trace goes to the log file (INTACT_LOG, default ~/.cache/intact/intact.log).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import pkgutil
import sys
from pathlib import Path

from editor.errors import IntactError

log = logging.getLogger("intact")


def _setup_logging() -> Path:
    path = Path(os.environ.get("INTACT_LOG", Path.home() / ".cache" / "intact" / "intact.log"))
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    return path


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m editor", description="Intact: edit photos and make ads")
    sub = parser.add_subparsers(dest="command", required=True)
    import editor.commands as commands

    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        importlib.import_module(f"editor.commands.{info.name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    log_path = _setup_logging()
    try:
        return int(args.func(args) or 0)
    except IntactError as exc:
        log.exception("command failed")
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("cancelled", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug: still one line for the user, trace in the log
        log.exception("unexpected failure")
        print(f"error: unexpected {type(exc).__name__}: {exc} (details in {log_path})", file=sys.stderr)
        return 1
