"""The layer rule: UI and CLI -> Studio -> domain -> model backends, never upwards; gradio only in ui/ and app.py.

Imports are read from the source with `ast` (nothing is imported), including imports inside
functions, since a lazy import upwards is still an upward dependency.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# package -> the packages of this project it may import (besides itself)
ALLOWED = {
    "models": set(),
    "editor": {"models"},  # the domain, the Studio (editor/studio) and the CLI (editor/commands)
    "serving": {"editor", "models"},
    "ui": {"editor", "models", "serving"},
}
OURS = {"models", "editor", "serving", "ui", "app"}


def imported_modules(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
    return found


def python_files(package: str):
    return sorted((ROOT / package).rglob("*.py"))


def test_no_package_imports_a_layer_above_it():
    wrong = []
    for package, allowed in ALLOWED.items():
        for path in python_files(package):
            for line, module in imported_modules(path):
                top = module.split(".")[0]
                if top in OURS and top != package and top not in allowed:
                    wrong.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
    assert not wrong, "imports against the layer rule:\n" + "\n".join(wrong)


def test_the_studio_and_the_domain_import_no_front_end_package():
    """editor/ (the Studio included) knows nothing of the CLI's argparse wiring or a browser."""
    wrong = []
    for path in python_files("editor"):
        if "commands" in path.relative_to(ROOT / "editor").parts[:1]:
            continue  # the CLI lives in editor/commands and may use the Studio
        for line, module in imported_modules(path):
            if module.startswith("editor.commands") or module.split(".")[0] in {"argparse", "gradio"}:
                if not path.name.startswith(("cli", "__main__")):
                    wrong.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
    assert not wrong, "\n".join(wrong)


def test_gradio_is_imported_only_by_the_web_front_end():
    wrong = []
    for package in ("editor", "models", "serving"):
        for path in python_files(package):
            for line, module in imported_modules(path):
                if module.split(".")[0] in {"gradio", "gradio_client"}:
                    wrong.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
    assert not wrong, "\n".join(wrong)


def test_the_checker_itself_sees_an_upward_import(tmp_path):
    """The rule above can fail: a models/ file importing editor is reported."""
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from editor.studio import Studio\n")
    assert (2, "editor.studio") in imported_modules(bad)
