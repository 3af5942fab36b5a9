"""Per-session edit state: bounded number of live inversions, release on model change, no sharing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ui.app_state import AppConfig, EditState, Services, drop_edit_state
from ui.edit_tab import OptionValues, run_edit, run_invert


@pytest.fixture()
def services(tmp_path, tiny_pipe):
    from models.manager import ModelManager

    services = Services(AppConfig(model="tiny", output_dir=tmp_path, max_edit_sessions=2))
    services._manager = ModelManager.from_pipeline("tiny", tiny_pipe)  # the session's tiny pipeline, not a reload
    return services


def _editor_value(seed: int) -> dict:
    rng = np.random.default_rng(seed)
    photo = Image.fromarray(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8))
    layer = np.zeros((48, 64, 4), dtype=np.uint8)
    layer[10:30, 20:44, 3] = 255
    return {"background": photo.convert("RGBA"), "layers": [Image.fromarray(layer, "RGBA")], "composite": None}


OPTIONS = OptionValues(steps=3, skip_steps=1, inversion_guidance=1.5, guidance=3.5, re_init=False, attn_mask=False,
                       attn_scale=1.0, seed=1, kv_cache="device")


def test_a_third_session_releases_the_least_recently_used_inversion(services):
    a, b, c = EditState(), EditState(), EditState()
    for i, state in enumerate((a, b)):
        run_invert(services, state, "tiny", _editor_value(i), "noise", OPTIONS)
    run_invert(services, a, "tiny", _editor_value(0), "noise", OPTIONS)  # a used again: b is now the oldest
    run_invert(services, c, "tiny", _editor_value(2), "noise", OPTIONS)
    assert a.session is not None and c.session is not None
    assert b.session is None  # released; b's next edit simply inverts again
    *_, report, _paths = run_edit(services, b, "tiny", _editor_value(1), "noise", "a cat", OPTIONS)
    assert report["reused_inversion"] is False
    assert a.session is None  # now a is the least recently used of three


def test_second_edit_of_the_same_image_and_mask_reuses_the_inversion(services):
    state = EditState()
    *_, first, _ = run_edit(services, state, "tiny", _editor_value(5), "noise", "a cat", OPTIONS)
    *_, second, _ = run_edit(services, state, "tiny", _editor_value(5), "noise", "a dog", OPTIONS)
    assert first["reused_inversion"] is False and second["reused_inversion"] is True
    assert len(state.history) == 2 and state.last_result is not None


def test_a_new_mask_starts_a_new_session(services):
    state = EditState()
    run_edit(services, state, "tiny", _editor_value(6), "noise", "a cat", OPTIONS)
    first = state.session
    value = _editor_value(6)
    extra = np.zeros((48, 64, 4), dtype=np.uint8)
    extra[35:45, 5:15, 3] = 255
    value["layers"].append(Image.fromarray(extra, "RGBA"))
    *_, report, _ = run_edit(services, state, "tiny", value, "noise", "a cat", OPTIONS)
    assert state.session is not first and report["reused_inversion"] is False


def test_releasing_for_another_model_and_closing_a_browser_tab_free_the_inversion(services):
    state = EditState()
    run_invert(services, state, "tiny", _editor_value(7), "noise", OPTIONS)
    store = state.session.inversion.store
    assert store.nbytes > 0
    services.release_sessions(keep_model="tiny")
    assert state.session is not None  # same model: kept
    services.release_sessions(keep_model="flux-dev")
    assert state.session is None and store.nbytes == 0

    other = EditState()
    run_invert(services, other, "tiny", _editor_value(8), "noise", OPTIONS)
    store = other.session.inversion.store
    drop_edit_state(other)  # gr.State's delete callback when the tab closes or the TTL passes
    assert other.session is None and store.nbytes == 0


def test_saved_results_record_the_mask_used(services):
    state = EditState()
    _before, _after, mask, _report, (result_path, mask_path) = run_edit(
        services, state, "tiny", _editor_value(9), "noise", "a cat", OPTIONS)
    saved_mask = np.asarray(Image.open(mask_path)) / 255.0
    assert np.array_equal(saved_mask > 0.5, mask > 0.5)
    assert Path(result_path).parent.name == "images" and Path(mask_path).parent.name == "masks"


def test_two_ad_sessions_write_their_files_to_separate_folders(tmp_path):
    import copy

    from editor.ad.samples import product_shot
    from ui.ad_tab import AdInputs, AdState, run_ad

    services = Services(AppConfig(model="tiny", output_dir=tmp_path))
    initial = AdState()
    first, second = copy.deepcopy(initial), copy.deepcopy(initial)  # what gr.State does per session
    product = Image.fromarray(product_shot("plain", 96, 96).rgb)
    inputs = AdInputs(product, None, "offline", "style", None, "studio-white", "", "", "tiny", 0, "신메뉴", "", "",
                      "", ["instagram-square"], 0.1)
    _, files_a, _ = run_ad(services, first, inputs)
    _, files_b, _ = run_ad(services, second, inputs)
    assert Path(files_a[0]).parent != Path(files_b[0]).parent
    assert Path(files_a[0]).name == Path(files_b[0]).name == "ad-instagram-square.png"
    assert Path(files_a[-1]).name == "ad-formats.zip"
    first.workflow.close()
    second.workflow.close()
