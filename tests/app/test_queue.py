"""The app as built in-process: one accelerator queue, a bounded queue, lazy models, flags → config."""

from __future__ import annotations

from pathlib import Path

import pytest

import app as app_module

ACCELERATOR_ENDPOINTS = {"invert", "edit", "generate", "build_ad", "apply_layout", "other_design", "build_ad_batch"}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    args = app_module.build_parser().parse_args(
        ["--model", "tiny", "--queue-size", "7", "--output-dir", str(tmp_path_factory.mktemp("out"))])
    config = app_module.config_from_args(args)
    demo = app_module.create_demo(config)
    return config, demo


def _functions(demo) -> dict:
    return {fn.api_name: fn for fn in demo.fns.values() if fn.api_name}


def test_every_accelerator_event_shares_one_concurrency_id_with_limit_one(built):
    _config, demo = built
    fns = _functions(demo)
    assert ACCELERATOR_ENDPOINTS <= set(fns)
    ids = {fns[name].concurrency_id for name in ACCELERATOR_ENDPOINTS}
    assert ids == {"gpu"}
    assert all(fns[name].concurrency_limit == 1 for name in ACCELERATOR_ENDPOINTS)


def test_light_events_do_not_wait_for_the_accelerator(built):
    _config, demo = built
    fns = _functions(demo)
    for name in ("status", "gallery", "cutout_fix", "continue_editing", "cutout", "cancel_edit"):
        assert fns[name].concurrency_id != "gpu"


def test_only_accelerator_events_and_the_cut_out_wait_in_the_queue(built):
    """Everything else (status, gallery, brush previews, cancel, model pickers, page load) is answered
    directly: never behind a GPU job, never refused "Queue is full" (tests/reliability checks it live)."""
    _config, demo = built
    queued = {fn.api_name or fn.name for fn in demo.fns.values() if fn.queue}
    assert queued == ACCELERATOR_ENDPOINTS | {"cutout"}
    fns = _functions(demo)
    for name in ("status", "gallery", "cutout_fix", "continue_editing", "cancel_edit", "open_in_edit"):
        assert fns[name].queue is False


def test_queue_is_bounded_by_the_flag(built):
    _config, demo = built
    assert demo._queue.max_size == 7


def test_building_the_app_loads_no_model(built):
    _config, demo = built
    services = _services_of(demo)
    assert not services.studio.manager_started


def _services_of(demo):
    from ui.app_state import Services

    for fn in demo.fns.values():
        for cell in getattr(fn.fn, "__closure__", None) or ():
            if isinstance(cell.cell_contents, Services):
                return cell.cell_contents
    raise AssertionError("no Services object reachable from the event handlers")


def test_flags_become_the_app_config(tmp_path):
    args = app_module.build_parser().parse_args(
        ["--model", "tiny", "--kv-cache", "cpu", "--memory-mode", "group", "--output-dir", str(tmp_path / "o")])
    config = app_module.config_from_args(args)
    assert config.model == "tiny"
    assert config.kv_cache == "cpu" and config.memory_mode == "group"
    assert config.output_dir == (tmp_path / "o").resolve()


def test_defaults_are_loopback_port_7860_and_no_share(monkeypatch):
    monkeypatch.delenv("GRADIO_SERVER_NAME", raising=False)
    monkeypatch.delenv("GRADIO_SERVER_PORT", raising=False)
    args = app_module.build_parser().parse_args([])
    assert (args.host, args.port, args.share) == ("127.0.0.1", 7860, False)


def test_a_spaces_runtime_address_is_honoured(monkeypatch):
    monkeypatch.setenv("GRADIO_SERVER_NAME", "0.0.0.0")
    monkeypatch.setenv("GRADIO_SERVER_PORT", "7861")
    args = app_module.build_parser().parse_args([])
    assert (args.host, args.port) == ("0.0.0.0", 7861)


def test_auto_model_is_tiny_flux2_when_no_weights_are_here():
    args = app_module.build_parser().parse_args([])
    assert app_module.config_from_args(args).model == "tiny-flux2"


def test_launch_options_ship_korean_and_english():
    from ui.layout import launch_options

    options = launch_options()
    assert set(options["i18n"].translations_dict) == {"ko", "en"}
    assert Path(app_module.__file__).name == "app.py"
