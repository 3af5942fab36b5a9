"""One vocabulary: every word the CLI and the UI offer for a concept (KV cache modes, memory
modes, tasks, background kinds, cut-out methods) is one the code behind them runs, and a word
outside the vocabulary is refused at the door with a message that lists the right ones.

These tests follow each offered word to what consumes it (a store that round-trips keys and
values, a memory plan the manager applies, a planner that has plans for the task, a remover the
cut-out resolves), so a word added on one side only fails here."""

from __future__ import annotations

import argparse
from types import SimpleNamespace

import pytest
import torch

from editor.ad.cutout import resolve_remover
from editor.ad.workflow import BACKGROUND_KINDS
from editor.kv_edit.kv_cache import INVERSION_FREE_MODE, make_kv_store
from editor.kv_edit.options import EditOptions
from editor.studio.requests import KV_CACHE_CHOICES
from models.errors import IntactError
from models.manager import PIPELINE_CLASSES, ModelManager
from models.memory.planner import candidates
from models.vocabulary import AUTO, KV_EDIT, PLAN_KINDS, TASKS


def _choices(parser: argparse.ArgumentParser, *path: str, flag: str) -> list[str]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction) and path:
            return _choices(action.choices[path[0]], *path[1:], flag=flag)
        if flag in action.option_strings:
            return list(action.choices)
    raise AssertionError(f"no {flag} in {path}")


def _offered_kv_cache_words() -> set[str]:
    import app
    from editor.cli import build_parser
    from ui.app_state import KV_CACHE_CHOICES as UI_CHOICES

    return {*_choices(build_parser(), "edit", flag="--kv-cache"), *_choices(app.build_parser(), flag="--kv-cache"),
            *UI_CHOICES, *KV_CACHE_CHOICES}


def test_every_kv_cache_word_offered_reaches_a_working_store_or_the_inversion_free_mode():
    offered = _offered_kv_cache_words() - {AUTO}
    key = torch.randn(1, 2, 6, 8, generator=torch.Generator().manual_seed(0))
    value = torch.randn(1, 2, 6, 8, generator=torch.Generator().manual_seed(1))
    assert INVERSION_FREE_MODE in offered and len(offered) >= 3
    for word in sorted(offered):
        assert EditOptions(kv_cache=word).kv_cache == word
        if word == INVERSION_FREE_MODE:
            assert EditOptions(kv_cache=word).inversion_free
            continue
        store = make_kv_store(word, "cpu", torch.float32)
        store.put(3, 1, key, value)
        got_key, got_value = store.get(3, 1)
        # 8-bit stores round; every store must give back the keys/values it was given, roughly.
        torch.testing.assert_close(got_key.float(), key, atol=0.1, rtol=0.1, msg=f"store '{word}'")
        torch.testing.assert_close(got_value.float(), value, atol=0.1, rtol=0.1, msg=f"store '{word}'")


def test_the_planner_only_picks_kv_cache_modes_that_are_offered_and_run():
    offered = _offered_kv_cache_words()
    for accelerator in (False, True):
        picked = {c.kv_cache for c in candidates(KV_EDIT, accelerator, ())}
        assert picked and picked <= offered, picked - offered


def test_a_kv_cache_word_outside_the_vocabulary_is_refused_with_the_known_ones():
    from editor.cli import build_parser

    with pytest.raises(SystemExit):
        build_parser().parse_args(["edit", "--kv-cache", "fp16"])
    with pytest.raises(ValueError, match="device"):
        EditOptions(kv_cache="fp16")
    with pytest.raises(ValueError, match="Known modes: .*device"):
        make_kv_store("fp16", "cpu", torch.float32)


def test_every_memory_mode_offered_is_applied_by_the_model_manager():
    import app
    from ui.app_state import MEMORY_MODES

    offered = {*_choices(app.build_parser(), flag="--memory-mode"), *MEMORY_MODES}
    assert AUTO in offered
    manager = ModelManager(device="cpu")
    for mode in sorted(offered - {AUTO}):
        notes = manager.apply_memory_plan(SimpleNamespace(offload=mode, vae_tiling=False, text_encoders="device"))
        assert isinstance(notes, list)
    with pytest.raises(IntactError, match="Unknown offload mode"):
        manager.apply_memory_plan(SimpleNamespace(offload="everywhere"))


def test_every_task_has_memory_plans_and_every_pipeline_task_is_known():
    for task in PLAN_KINDS:
        assert candidates(task, False, ()), f"no memory plan for task '{task}'"
    for family in PIPELINE_CLASSES.values():
        assert set(family) <= set(TASKS)


def test_cutout_methods_and_background_kinds_offered_are_the_ones_that_run():
    from editor.cli import build_parser
    from ui.ad_tab import GENERATED_KINDS

    for path in (("ad",), ("cutout",)):
        for remover in _choices(build_parser(), *path, flag="--remover"):
            resolve_remover(remover)  # refuses an unknown name with InputError
    with pytest.raises(IntactError, match="Unknown remover"):
        resolve_remover("scissors")
    assert set(GENERATED_KINDS) <= set(BACKGROUND_KINDS)
