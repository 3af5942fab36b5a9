"""One vocabulary: the CLI, the UI, the Studio and the engine accept the same words for the same
concepts (KV cache modes, memory modes, tasks, background kinds, cut-out methods)."""

from __future__ import annotations

import argparse

from editor.ad.cutout import remover_names
from editor.ad.workflow import BACKGROUND_KINDS
from editor.kv_edit.kv_cache import KV_STORES, kv_cache_modes
from editor.kv_edit.options import EditOptions
from editor.studio.requests import KV_CACHE_CHOICES
from models.manager import PIPELINE_CLASSES
from models.memory.planner import KV_MODES
from models.memory.planner import TASKS as PLAN_TASKS
from models.vocabulary import AUTO, KV_CACHE_MODES, KV_STORE_MODES, OFFLOAD_MODES, PLAN_KINDS, TASKS


def _choices(parser: argparse.ArgumentParser, *path: str, flag: str) -> list[str]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction) and path:
            return _choices(action.choices[path[0]], *path[1:], flag=flag)
        if flag in action.option_strings:
            return list(action.choices)
    raise AssertionError(f"no {flag} in {path}")


def test_kv_cache_modes_are_one_set_everywhere():
    import app
    from editor.cli import build_parser
    from ui.app_state import KV_CACHE_CHOICES as UI_CHOICES

    assert tuple(KV_STORES) == KV_STORE_MODES and kv_cache_modes() == KV_CACHE_MODES
    assert set(KV_MODES) <= set(KV_CACHE_MODES)  # the planner ranks a subset (fp8 covers int8)
    expected = [AUTO, *KV_CACHE_MODES]
    assert list(KV_CACHE_CHOICES) == expected == list(UI_CHOICES)
    assert _choices(build_parser(), "edit", flag="--kv-cache") == expected
    assert _choices(app.build_parser(), flag="--kv-cache") == expected
    for mode in KV_CACHE_MODES:
        EditOptions(kv_cache=mode)  # the engine accepts every one


def test_memory_modes_and_tasks_have_one_spelling():
    import app
    from ui.app_state import MEMORY_MODES

    assert _choices(app.build_parser(), flag="--memory-mode") == [AUTO, *OFFLOAD_MODES] == list(MEMORY_MODES)
    assert PLAN_TASKS == PLAN_KINDS and set(PLAN_KINDS) <= {*TASKS, "generate"}
    for family in PIPELINE_CLASSES.values():
        assert set(family) <= set(TASKS)


def test_cutout_methods_and_background_kinds_are_the_same_in_the_cli_and_the_ui():
    from editor.cli import build_parser
    from ui.ad_tab import GENERATED_KINDS

    assert _choices(build_parser(), "ad", flag="--remover") == remover_names()
    assert _choices(build_parser(), "cutout", flag="--remover") == remover_names()
    assert set(GENERATED_KINDS) <= set(BACKGROUND_KINDS)
