"""The model registry and how models are found on this machine."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from models.download import DownloadError, download
from models.loading import load_pipeline, resolve
from models.locate import ModelNotAvailableError, env_var_for, locate
from models.registry import MODELS, UnknownModelError, get_spec

REPO = Path(__file__).resolve().parents[2]


def test_registry_names_every_model_the_product_supports():
    for name in ("flux-dev", "flux-schnell", "z-image-turbo", "tiny", "opus-mt-ko-en"):
        assert name in MODELS
    assert get_spec("flux-dev").max_sequence_length == 512
    assert get_spec("flux-schnell").max_sequence_length == 256


def test_tiny_is_labelled_as_random_weights():
    assert "random weights" in get_spec("tiny").label
    assert all(("random weights" in spec.label) == name.startswith("tiny") for name, spec in MODELS.items())


def test_unknown_model_names_the_known_ones():
    with pytest.raises(UnknownModelError, match="flux-dev"):
        get_spec("flux-pro")


def test_missing_model_names_the_model_and_keeps_paths_for_the_operator():
    location = locate("flux-dev")
    assert not location.available
    with pytest.raises(ModelNotAvailableError) as info:
        resolve("flux-dev")
    message, hint = str(info.value), info.value.operator_hint
    assert "flux-dev" in message and "\n" not in message
    # Server paths and commands are for the operator (CLI, log), never in the user's message.
    assert os.environ["INTACT_MODELS_DIR"] not in message and "python -m" not in message
    assert "python -m models download flux-dev" in hint
    assert os.environ["INTACT_MODELS_DIR"] in hint


def test_missing_model_raises_before_any_loading():
    with pytest.raises(ModelNotAvailableError):
        load_pipeline("flux-schnell")


def test_download_refuses_clearly_when_offline():
    with pytest.raises(DownloadError, match="HF_HUB_OFFLINE"):
        download("flux-dev")


def test_env_var_points_at_a_local_folder(tmp_path, monkeypatch):
    folder = tmp_path / "my-flux"
    folder.mkdir()
    (folder / "model_index.json").write_text("{}")
    monkeypatch.setenv(env_var_for("flux-dev"), str(folder))
    location = locate("flux-dev")
    assert location.available and location.path == folder and location.source == "env"


def test_an_incomplete_folder_does_not_count_as_available(tmp_path, monkeypatch):
    monkeypatch.setenv(env_var_for("flux-dev"), str(tmp_path))  # no model_index.json
    assert not locate("flux-dev").available


def _run_models_cli(*args):
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    return subprocess.run([sys.executable, "-m", "models", *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)


def test_models_list_prints_every_model_with_availability_size_and_licence():
    result = _run_models_cli("list")
    assert result.returncode == 0, result.stderr
    for name in MODELS:
        assert name in result.stdout
    assert "missing; looked in" in result.stdout
    assert "random weights, for testing" in result.stdout
    assert "Apache-2.0" in result.stdout and "33.7 GB" in result.stdout


def test_models_download_fails_with_one_clear_line_when_offline():
    result = _run_models_cli("download", "flux-dev")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "HF_HUB_OFFLINE" in result.stderr
    assert "Traceback" not in result.stderr


def test_rembg_models_are_found_where_rembg_itself_puts_them(tmp_path, monkeypatch):
    monkeypatch.setenv("U2NET_HOME", str(tmp_path))
    assert not locate("isnet-general-use").available
    model_dir = tmp_path / "models" / "isnet-general-use"
    model_dir.mkdir(parents=True)
    (model_dir / "isnet-general-use.onnx").write_bytes(b"onnx")
    location = locate("isnet-general-use")
    assert location.available and location.path == model_dir


def test_rembg_models_from_older_flat_layout_are_still_found(tmp_path, monkeypatch):
    monkeypatch.setenv("U2NET_HOME", str(tmp_path))
    (tmp_path / "birefnet-general-lite.onnx").write_bytes(b"onnx")
    assert locate("birefnet-general-lite").path == tmp_path
