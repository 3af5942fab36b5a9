"""The KV-Edit engine's modules import one another without a cycle: each file can be read after
the ones it imports (attention -> families -> elastic -> engine -> session), and a module deep in
the engine never reaches back up, not even inside a function.

Imports are read from the source with `ast` (nothing is imported), including those inside
functions: a deferred import still ties the two modules together."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "editor.kv_edit"


def module_name(path: Path, root: Path) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def package_modules(root: Path, package: str = PACKAGE) -> dict[str, Path]:
    folder = root.joinpath(*package.split("."))
    return {module_name(path, root): path for path in sorted(folder.rglob("*.py"))}


def _imported(node: ast.AST, module: str, is_package: bool) -> list[str]:
    """The dotted names one import statement reaches (for `from X import y`: X and X.y)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if not isinstance(node, ast.ImportFrom):
        return []
    if node.level:  # relative: from the module's package, up level - 1 more
        base = module.split(".") if is_package else module.split(".")[:-1]
        base = base[: len(base) - (node.level - 1)]
        source = ".".join([*base, node.module] if node.module else base)
    else:
        source = node.module or ""
    return [source, *(f"{source}.{alias.name}" for alias in node.names)]


def import_graph(root: Path, package: str = PACKAGE) -> dict[str, set[str]]:
    """module -> the modules of `package` it imports. Importing a.b.c also runs the package
    a.b's __init__, so subpackages on the way count as imported too, except a module's own
    packages (they are already running whenever the module is imported)."""
    modules = package_modules(root, package)
    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        edges = set()
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            for name in _imported(node, module, path.name == "__init__.py"):
                parts = name.split(".")
                for end in range(len(package.split(".")) + 1, len(parts) + 1):
                    target = ".".join(parts[:end])
                    on_the_way = end < len(parts)
                    if target not in modules or target == module or (on_the_way and module.startswith(target + ".")):
                        continue
                    edges.add(target)
        graph[module] = edges
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as [a, b, ..., a], or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_the_kv_edit_engine_has_no_import_cycle():
    graph = import_graph(ROOT)
    assert "editor.kv_edit.attention" in graph and "editor.kv_edit.families.flux1" in graph
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle in editor/kv_edit: " + " -> ".join(cycle)


def test_the_attention_layer_does_not_know_the_families():
    """The processors get the layer map the engine holds; they never look a family up."""
    graph = import_graph(ROOT)
    assert not {name for name in graph["editor.kv_edit.attention"] if name.startswith("editor.kv_edit.families")}


def test_a_deferred_import_back_up_is_found(tmp_path):
    """The checker itself: a cycle closed by an import inside a function (as attention.py once had)."""
    package = tmp_path / "editor" / "kv_edit"
    (package / "families").mkdir(parents=True)
    for init in (tmp_path / "editor", package, package / "families"):
        (init / "__init__.py").write_text("")
    (package / "families" / "__init__.py").write_text("from editor.kv_edit.families.one import Adapter\n")
    (package / "families" / "one.py").write_text("from editor.kv_edit.attention import Processor\nclass Adapter: ...\n")
    (package / "attention.py").write_text(
        "class Processor: ...\n\ndef layers(model):\n    from editor.kv_edit.families import Adapter\n    return Adapter\n"
    )
    cycle = find_cycle(import_graph(tmp_path))
    assert cycle is not None and "editor.kv_edit.attention" in cycle and "editor.kv_edit.families" in cycle
