"""The Edit tab as a thin adapter over the Studio: the plan that ran is shown, `--memory-mode`
forces it, Invert then Edit inverts once, and the status line says when the fallback plan ran."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from editor.studio import Studio
from models.manager import ModelManager
from ui.app_state import AppConfig, ClientState, Services
from ui.edit_tab import OptionValues, report_markdown, run_edit, run_invert
from ui.memory import plan_line

OPTIONS = OptionValues(steps=3, skip_steps=1, inversion_guidance=1.5, guidance=3.5, re_init=False, attn_mask=False,
                       attn_scale=1.0, seed=1, kv_cache="auto")


def _services(tmp_path, tiny_pipe, memory_mode: str = "auto") -> Services:
    config = AppConfig(model="tiny", output_dir=tmp_path, memory_mode=memory_mode)
    return Services(config, Studio(config.studio_config(), manager=ModelManager.from_pipeline("tiny", tiny_pipe)))


def _editor_value() -> dict:
    rng = np.random.default_rng(3)
    photo = Image.fromarray(rng.integers(0, 256, (40, 56, 3), dtype=np.uint8))
    layer = np.zeros((40, 56, 4), dtype=np.uint8)
    layer[8:24, 16:40, 3] = 255
    return {"background": photo.convert("RGBA"), "layers": [Image.fromarray(layer, "RGBA")], "composite": None}


def test_invert_then_edit_inverts_once_and_the_status_shows_the_plan_that_ran(tmp_path, tiny_pipe):
    services, state = _services(tmp_path, tiny_pipe), ClientState()
    inverted = run_invert(services, state, "tiny", _editor_value(), "noise", OPTIONS)
    assert inverted["inversion"] == "computed" and inverted["memory_plan"]["explanation"]
    *_, report, _paths = run_edit(services, state, "tiny", _editor_value(), "noise", "a cat", OPTIONS)
    assert report["inversion"] == "reused"  # the Edit reused the Invert button's inversion
    plan = report["memory_plan"]
    assert plan["fallback_used"] is False
    assert plan_line("en", plan) in report_markdown("en", report)
    assert services.studio.last_plan == plan  # what the Status tab shows as in use


def test_memory_mode_flag_forces_the_offload_of_the_plan_that_runs(tmp_path, tiny_pipe):
    services, state = _services(tmp_path, tiny_pipe, memory_mode="model"), ClientState()
    *_, report, _paths = run_edit(services, state, "tiny", _editor_value(), "noise", "a cat", OPTIONS)
    assert "offload=model" in report["memory_plan"]["name"]


def test_the_memory_line_speaks_in_gigabytes_and_says_when_the_fallback_ran_in_both_languages(monkeypatch):
    monkeypatch.setattr("ui.memory.accelerator_here", lambda: True)  # a machine with a graphics card
    entry = {"name": "offload=model kv=cpu vae=tiled", "explanation": "weights swap to RAM", "fallback_used": True,
             "estimated_ram_bytes": 12_300_000_000, "estimated_gpu_bytes": 7_000_000_000}
    assert plan_line("en", entry) == ("Memory: about 12.3 GB of main memory and 7.0 GB of graphics memory planned. "
                                      "The first plan ran out of memory; the job ran with less.")
    korean = plan_line("ko", entry)
    assert "12.3 GB" in korean and "부족해" in korean
    assert "weights swap" not in korean  # the planner's own words are for operators (the report)
    assert "ran with less" not in plan_line("en", dict(entry, fallback_used=False))
    assert plan_line("en", None) == ""


def test_a_missing_model_is_reported_before_any_planning(tmp_path, tiny_pipe, monkeypatch):
    from models.locate import ModelNotAvailableError

    monkeypatch.setenv("INTACT_MODELS_DIR", str(tmp_path / "empty"))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    services = _services(tmp_path, tiny_pipe)
    with pytest.raises(ModelNotAvailableError, match="flux-dev"):
        run_edit(services, ClientState(), "flux-dev", _editor_value(), "noise", "a cat", OPTIONS)
    assert services.studio.manager.loaded_name == "tiny"  # the resident model was not dropped for it


def test_on_a_machine_without_a_graphics_card_the_memory_line_names_none(monkeypatch):
    monkeypatch.setattr("ui.memory.accelerator_here", lambda: False)
    entry = {"name": "offload=none", "explanation": "", "fallback_used": False,
             "estimated_ram_bytes": 2_000_000_000, "estimated_gpu_bytes": 0}
    assert "graphics" not in plan_line("en", entry) and "2.0 GB of main memory" in plan_line("en", entry)
    assert "그래픽" not in plan_line("ko", entry) and "프로세서" in plan_line("ko", entry)
