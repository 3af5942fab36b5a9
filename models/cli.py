"""Command line for the model backends. Each subcommand is a small function; errors are one line."""

from __future__ import annotations

import argparse
import sys

from models.download import download
from models.errors import IntactError
from models.locate import locate
from models.registry import MODELS


def _human_bytes(n: int) -> str:
    if n <= 0:
        return "-"
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1000:
            return f"{n:.1f} {unit}" if unit != "B" else f"{n} B"
        n /= 1000
    return f"{n:.1f} PB"


def cmd_list(args) -> int:
    rows = []
    for name, spec in MODELS.items():
        loc = locate(name)
        if loc.source == "built-in-code":
            status = "available (built from a seed on first use; random weights, for testing)"
        elif loc.available:
            status = f"available at {loc.path}"
            if spec.random_weights:  # built already: still say what it is
                status += " (random weights, for testing)"
        else:
            status = "missing; looked in " + "; ".join(loc.looked_in)
        rows.append((name, spec.kind, _human_bytes(spec.size_bytes), spec.license, spec.licence_note, status))
    if args.json:
        import json

        keys = ("name", "kind", "size", "license", "licence_note", "status")
        print(json.dumps([dict(zip(keys, r)) for r in rows], ensure_ascii=False, indent=2))
        return 0
    width = max(len(r[0]) for r in rows)
    for name, kind, size, licence, note, status in rows:
        mark = f"  [{note}]" if note else ""
        print(f"{name:<{width}}  {kind:<11}  {size:>8}  {licence}{mark}\n{'':<{width}}  {status}")
    return 0


def cmd_download(args) -> int:
    path = download(args.name)
    print(f"{args.name}: ready at {path}")
    return 0


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a bad flag is one line on stderr and exit 2, as every other error here."""

    def error(self, message: str):
        print(f"error: {message} (see {self.prog} --help)", file=sys.stderr)
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="python -m models", description="Intact model backends")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("list", help="every known model, whether it is on this machine, size and licence")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_list)
    p = sub.add_parser("download", help="fetch a model (needs internet; fails clearly when offline)")
    p.add_argument("name", help="model name, see `list`")
    p.set_defaults(func=cmd_download)
    from models import plan_cli  # `plan`: memory estimates and plans (models/memory)

    plan_cli.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # --help, or a bad flag (already said in one line)
        return int(exc.code or 0)
    try:
        return args.func(args)
    except (IntactError, ValueError) as exc:
        hint = getattr(exc, "operator_hint", "")  # this is the operator's own terminal
        print(f"error: {exc}" + (f" {hint}" if hint else ""), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("cancelled", file=sys.stderr)
        return 130
