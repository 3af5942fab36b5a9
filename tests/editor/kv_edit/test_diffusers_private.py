"""Every private diffusers / accelerate name KV-Edit uses is listed in one module and present in
this install; a diffusers upgrade that moves one fails here with its name and its use, not deep in
an edit."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from editor.kv_edit import diffusers_private
from editor.kv_edit.diffusers_private import PRIVATE_NAMES, PrivateName, moved

ROOT = Path(__file__).resolve().parents[3]
KV_EDIT = ROOT / "editor" / "kv_edit"


def test_every_private_name_the_engine_uses_is_in_this_install():
    missing = moved()
    assert not missing, (
        "diffusers/accelerate no longer provide what editor/kv_edit/diffusers_private.py lists "
        "(update that module for the new version):\n" + "\n".join(missing)
    )


def test_a_moved_name_is_reported_with_what_it_was_for():
    gone = PrivateName("diffusers.pipelines.flux.pipeline_flux", "FluxPipeline._pack_latents_v2", "FLUX.1 latents")
    elsewhere = PrivateName("diffusers.models.transformers.transformer_flux_v9", "_get_qkv_projections", "FLUX.1 q/k/v")
    lines = moved((*PRIVATE_NAMES[:1], gone, elsewhere))
    assert len(lines) == 2
    assert lines[0].startswith("diffusers.pipelines.flux.pipeline_flux.FluxPipeline._pack_latents_v2 (used for: FLUX.1 latents)")
    assert "transformer_flux_v9" in lines[1] and "ModuleNotFoundError" in lines[1]


def _private_uses(path: Path) -> list[str]:
    """Imports of underscore names from diffusers/accelerate, and `._x` attributes read off a
    diffusers class (`FluxPipeline._pack_latents`) in one source file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in ("diffusers", "accelerate"):
            found += [f"import {alias.name}" for alias in node.names if alias.name.startswith("_")]
        if isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__"):
            owner = node.value
            if isinstance(owner, ast.Name) and owner.id[:1].isupper() and owner.id.endswith(("Pipeline", "Model")):
                found.append(f"{owner.id}.{node.attr}")
        if isinstance(node, ast.Constant) and node.value in ("_hf_hook", "_execution_device"):
            found.append(repr(node.value))
        if isinstance(node, ast.Attribute) and node.attr in ("_hf_hook", "_execution_device"):
            found.append(node.attr)
    return found


@pytest.mark.parametrize("path", sorted(p for p in KV_EDIT.rglob("*.py") if p.name != "diffusers_private.py"),
                         ids=lambda p: str(p.relative_to(KV_EDIT)))
def test_no_other_engine_module_reaches_for_a_private_name(path):
    assert _private_uses(path) == [], f"{path.relative_to(ROOT)}: go through editor/kv_edit/diffusers_private.py"


def test_the_listing_itself_is_read_by_the_checker():
    assert _private_uses(Path(diffusers_private.__file__))  # the one place they may live
