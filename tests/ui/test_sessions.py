"""Per browser session the app keeps only a small ClientState; the Studio holds the heavy state
under the session's id, and the gr.State delete callback frees it."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from editor.studio import Studio
from models.manager import ModelManager
from ui.app_state import AppConfig, ClientState, Services, forget_client
from ui.edit_tab import OptionValues, run_edit


@pytest.fixture()
def services(tmp_path, tiny_pipe):
    config = AppConfig(model="tiny", output_dir=tmp_path, max_edit_sessions=2)
    return Services(config, Studio(config.studio_config(), manager=ModelManager.from_pipeline("tiny", tiny_pipe)))


class Request:
    def __init__(self, session_hash):
        self.session_hash, self.headers = session_hash, {}


def _editor_value(seed: int) -> dict:
    rng = np.random.default_rng(seed)
    photo = Image.fromarray(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8))
    layer = np.zeros((48, 64, 4), dtype=np.uint8)
    layer[10:30, 20:44, 3] = 255
    return {"background": photo.convert("RGBA"), "layers": [Image.fromarray(layer, "RGBA")], "composite": None}


OPTIONS = OptionValues(steps=3, skip_steps=1, inversion_guidance=1.5, guidance=3.5, re_init=False, attn_mask=False,
                       attn_scale=1.0, seed=1, kv_cache="device")


def test_each_browser_session_gets_its_own_id_even_from_one_initial_value(services):
    initial = ClientState()
    first, second = copy.deepcopy(initial), copy.deepcopy(initial)  # what gr.State does per session
    assert first.session_id(Request("tab-1")) == "tab-1" and second.session_id(Request("tab-2")) == "tab-2"
    assert initial.session is None


def test_second_edit_in_a_session_reuses_its_inversion_and_the_history_grows(services):
    state, request = ClientState(), Request("tab-1")
    *_, first, _ = run_edit(services, state, "tiny", _editor_value(5), "noise", "a cat", OPTIONS, request=request)
    *_, second, _ = run_edit(services, state, "tiny", _editor_value(5), "noise", "a dog", OPTIONS, request=request)
    assert first["inversion"] == "computed" and second["inversion"] == "reused"
    assert len(state.history) == 2 and state.last_result is not None


def test_a_new_mask_inverts_again(services):
    state, request = ClientState(), Request("tab-1")
    run_edit(services, state, "tiny", _editor_value(6), "noise", "a cat", OPTIONS, request=request)
    value = _editor_value(6)
    extra = np.zeros((48, 64, 4), dtype=np.uint8)
    extra[35:45, 5:15, 3] = 255
    value["layers"].append(Image.fromarray(extra, "RGBA"))
    *_, report, _ = run_edit(services, state, "tiny", value, "noise", "a cat", OPTIONS, request=request)
    assert report["inversion"] == "computed"


def test_closing_a_browser_tab_frees_its_inversion(services):
    state = ClientState()
    run_edit(services, state, "tiny", _editor_value(7), "noise", "a cat", OPTIONS, request=Request("closing"))
    assert services.studio.sessions.holding_inversions == 1
    forget_client(services.studio)(state)  # gr.State's delete callback when the tab closes or the TTL passes
    assert services.studio.sessions.holding_inversions == 0


def test_the_downloads_are_the_result_and_the_mask_it_was_made_with(services):
    _before, _after, mask, _report, (result_path, mask_path) = run_edit(
        services, ClientState(), "tiny", _editor_value(9), "noise", "a cat", OPTIONS)
    saved_mask = np.asarray(Image.open(mask_path)) / 255.0
    assert np.array_equal(saved_mask > 0.5, mask > 0.5)
    assert Path(result_path).parent == Path(mask_path).parent  # one job, one folder
    assert Path(result_path).name == "edit_a-cat.png"


def test_two_ad_sessions_get_separate_records(tmp_path):
    from editor.ad.samples import product_shot
    from ui.ad_tab import AdInputs, run_ad

    services = Services(AppConfig(model="tiny", output_dir=tmp_path))
    product = Image.fromarray(product_shot("plain", 96, 96).rgb)
    inputs = AdInputs(product, None, "offline", "backdrop", None, "studio-white", "", "", "tiny", 0, "신메뉴", "", "",
                      "", ["instagram-square"], 0.1)
    _, files_a, _ = run_ad(services, ClientState(), inputs, request=Request("a"))
    _, files_b, _ = run_ad(services, ClientState(), inputs, request=Request("b"))
    assert Path(files_a[0]).parent != Path(files_b[0]).parent
    assert Path(files_a[0]).name == Path(files_b[0]).name == "신메뉴_instagram-square.png"
    assert [Path(f).name for f in files_a[1:]] == ["신메뉴_ads.zip", "신메뉴_layout.json"]
