"""`python app.py` starts with no model weights, answers HTTP, lists its API, and documents its flags."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.app.app_server import ROOT, http_status, running_app

FLAGS = ("--model", "--port", "--host", "--share", "--output-dir", "--memory-mode", "--kv-cache", "--queue-size")


@pytest.fixture(scope="module")
def app():
    with running_app() as running:
        yield running


def test_help_documents_every_flag_and_the_safe_defaults():
    out = subprocess.run([sys.executable, "app.py", "--help"], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode == 0, out.stderr
    for flag in FLAGS:
        assert flag in out.stdout
    assert "7860" in out.stdout  # default port
    assert "127.0.0.1" in out.stdout  # default host: loopback only
    assert "random weights, for testing" in out.stdout  # what the tiny fallback is


def test_help_loads_neither_torch_nor_gradio_and_start_sh_answers_it_without_setting_up():
    probe = ("import sys, app; app.build_parser().format_help(); "
             "print(sorted(m for m in ('torch', 'gradio', 'transformers') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60,
                         check=True)
    assert out.stdout.strip() == "[]"
    answer = subprocess.run(["bash", "scripts/start.sh", "--help"], cwd=ROOT, capture_output=True, text=True,
                            timeout=60, check=False)
    assert answer.returncode == 0 and answer.stdout.startswith("usage: python app.py")
    assert answer.stderr == ""  # no third-party warnings before the answer


def test_the_console_names_the_apps_own_share_flag():
    from app import started_lines

    lines = started_lines("http://127.0.0.1:7860/", None)
    assert "Running on local URL:  http://127.0.0.1:7860" in lines and "--share" in lines
    assert "share=True" not in lines and "launch()" not in lines


def test_unknown_model_is_refused_by_the_flag_parser():
    out = subprocess.run([sys.executable, "app.py", "--model", "no-such-model"], cwd=ROOT, capture_output=True,
                         text=True, timeout=60, check=False)
    assert out.returncode == 2
    assert "invalid choice" in out.stderr


def test_app_starts_without_weights_and_answers_http_200(app):
    models_dir = Path(os.environ["INTACT_MODELS_DIR"])
    assert not (models_dir / "flux-dev").exists()  # really no real weights here
    assert http_status(app.url) == 200


def test_app_binds_loopback_by_default(app):
    # The app answers HTTP as soon as gradio is up; its own lines are printed just after: wait for them.
    started = f"Running on local URL:  {app.url.rstrip('/')}"
    deadline = time.monotonic() + 60
    while started not in app.log() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert started in app.log()
    assert "share=True" not in app.log() and "[transformers]" not in app.log()  # the app's words only
    port = int(app.url.rstrip("/").rsplit(":", 1)[1])
    other = _non_loopback_address()
    if other is not None:  # a machine with a network interface: the app must not answer there
        with socket.socket() as s:
            s.settimeout(2)
            assert s.connect_ex((other, port)) != 0


def _non_loopback_address() -> str | None:
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("192.0.2.1", 9))  # TEST-NET address: no packet is sent by connect() on UDP
            address = s.getsockname()[0]
    except OSError:
        return None
    return None if address.startswith("127.") else address


def test_page_config_labels_tiny_as_random_weights(app):
    with urllib.request.urlopen(app.url + "config", timeout=30) as response:
        config = json.loads(response.read())
    text = json.dumps(config, ensure_ascii=False)
    assert "test model with random weights" in text  # the warning above the tabs
    assert "random weights, for testing" in text  # the model pickers
    assert "편집" in text and "Edit" in text  # both UI languages are shipped to the browser


def test_api_is_listed_by_gradio_client(app):
    from gradio_client import Client

    client = Client(app.url, verbose=False)
    endpoints = client.view_api(return_format="dict", print_info=False)["named_endpoints"]
    for name in ("/invert", "/edit", "/continue_editing", "/gallery", "/open_in_edit", "/status"):
        assert name in endpoints
    edit_params = [p["parameter_name"] for p in endpoints["/edit"]["parameters"]]
    assert edit_params[:4] == ["model", "editor_value", "source_prompt", "target_prompt"]
    assert "kv_cache" in edit_params


def test_status_names_missing_models_and_the_command_that_fetches_them(app):
    # The Status tab is the operator's view on this machine: it may name the fetch command.
    from gradio_client import Client

    _works, *_operator, table, info = Client(app.url, verbose=False).predict(api_name="/status")
    rows = {row[0]: row for row in table["data"]}
    assert "missing" in rows["flux-dev (non-commercial licence)"][2]
    assert "python -m models download flux-dev" in rows["flux-dev (non-commercial licence)"][4]
    assert "available" in rows["tiny (random weights, for testing)"][2]
    assert "CPU" in info or "CUDA" in info  # the device line
