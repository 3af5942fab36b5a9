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
    # backslashreplace: a message quoting what the user typed may hold lone surrogates (an
    # undecodable byte on the command line); logging it must never print a "Logging error" trace.
    handler = logging.FileHandler(path, encoding="utf-8", errors="backslashreplace")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    return path


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a bad flag is one line on stderr (as every other error here), not usage + error."""

    def error(self, message: str):
        _say(f"error: {message} (see {self.prog} --help)")
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="python -m editor", description="Intact: edit photos and make ads")
    sub = parser.add_subparsers(dest="command", required=True)
    import editor.commands as commands

    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"editor.commands.{info.name}")
        if hasattr(module, "register"):  # helpers (job_io) live beside the commands
            module.register(sub)
    return parser


def _subparser(parser: argparse.ArgumentParser, command: str) -> argparse.ArgumentParser | None:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action.choices.get(command)
    return None


def _quiet_libraries() -> None:
    # transformers/diffusers warn on import (e.g. "requires torchvision") and would bury the one
    # line a user must read; only errors from them reach stderr. Set before they are imported.
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("DIFFUSERS_VERBOSITY", "error")


def _quiet_library_progress_bars() -> None:
    # Loading bars from diffusers/transformers would drown the command's own one-line progress.
    from diffusers.utils import logging as diffusers_logging
    from transformers.utils import logging as transformers_logging

    diffusers_logging.disable_progress_bar()
    transformers_logging.disable_progress_bar()


def _user_problem(exc: BaseException) -> str | None:
    """The one-line message for failures that are the user's to fix rather than bugs, else None."""
    import errno

    from models.memory.oom import is_out_of_memory

    if is_out_of_memory(exc):
        return ("Ran out of memory. Use a smaller image or fewer steps, a lighter KV cache (--kv-cache cpu, "
                "int8 or none), or close other programs using the memory.")
    # A full disk while saving: writes are atomic, so nothing half-written was left behind.
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        where = f" ({exc.filename})" if exc.filename else ""
        return f"The disk is full{where}: the result could not be saved (nothing half-written is left). Free some space and try again."
    return None


def flag_for(parser: argparse.ArgumentParser | None, field: str | None) -> str | None:
    """The command-line flag that sets the request field `field` (e.g. "background_prompt" ->
    "--background-prompt"), read from the command's own parser so no table repeats the flags."""
    if parser is None or not field:
        return None
    for action in parser._actions:
        if action.dest == field and action.option_strings:
            return action.option_strings[-1]
    return None


def user_message(exc: Exception, parser: argparse.ArgumentParser | None = None) -> str:
    """An IntactError as the CLI says it: the neutral message, then what only an operator at this
    machine needs (the flag to change, where a model was looked for, how to fetch it)."""
    text = str(exc)
    flag = flag_for(parser, getattr(exc, "field", None))
    if flag:
        text += f" (see {flag})"
    hint = getattr(exc, "operator_hint", "")
    if hint:
        text += f" {hint}"
    return text


def _say(text: str) -> None:
    # On a terminal a progress line may still be open (no newline yet): clear it, so the message
    # stands alone on its line instead of being glued to "invert 3/28".
    prefix = "\r\033[K" if sys.stderr.isatty() else ""
    print(prefix + text, file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    _quiet_libraries()
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, or a bad flag (already said in one line)
        return int(exc.code or 0)
    command_parser = _subparser(parser, args.command)
    log_path = _setup_logging()
    _quiet_library_progress_bars()
    try:
        return int(args.func(args) or 0)
    except IntactError as exc:
        log.exception("command failed")
        _say(f"error: {user_message(exc, command_parser)}")
        return 2
    except KeyboardInterrupt:
        _say("cancelled")
        return 130
    except Exception as exc:  # a bug: still one line for the user, trace in the log
        message = _user_problem(exc)
        if message is not None:
            log.exception("command failed")
            _say(f"error: {message}")
            return 2
        log.exception("unexpected failure")
        _say(f"error: unexpected {type(exc).__name__}: {exc} (details in {log_path})")
        return 1
