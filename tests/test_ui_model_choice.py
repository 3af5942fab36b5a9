"""Which model a tab starts with, and what a missing model's panel says."""

from __future__ import annotations

import json

import pytest

from models.locate import ModelNotAvailableError
from ui.model_choice import (
    default_model,
    missing_model_message,
    model_choices,
    model_note,
)


@pytest.fixture()
def empty_models_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("INTACT_MODELS_DIR", str(tmp_path))
    return tmp_path


def _fake_downloaded(models_dir, name):
    folder = models_dir / name
    folder.mkdir()
    (folder / "model_index.json").write_text(json.dumps({"_class_name": "FluxPipeline"}))


def test_without_weights_every_tab_falls_back_to_tiny(empty_models_dir):
    assert default_model() == "tiny"
    assert default_model(family="flux") == "tiny"


def test_the_first_real_model_on_disk_wins_over_tiny(empty_models_dir):
    _fake_downloaded(empty_models_dir, "flux-schnell")
    assert default_model() == "flux-schnell"
    assert default_model(family="flux") == "flux-schnell"


def test_a_chosen_model_is_kept_even_when_missing_so_its_panel_can_say_how_to_fetch_it(empty_models_dir):
    assert default_model(preferred="flux-dev") == "flux-dev"
    assert default_model(family="flux", preferred="z-image-turbo") == "tiny"  # not a FLUX model


def test_missing_models_stay_listed_and_are_marked(empty_models_dir):
    labels = {name: label for label, name in model_choices()}
    assert labels["tiny"] == "tiny (random weights, for testing)"
    assert "not downloaded" in labels["flux-dev"]
    assert [name for _label, name in model_choices(family="flux")] == ["flux-dev", "flux-schnell", "tiny"]


def test_missing_model_note_names_the_model_and_the_fetch_command(empty_models_dir):
    note = model_note("flux-dev", "ko")
    assert "이 컴퓨터에 이 모델이 없습니다" in note
    assert "flux-dev" in note and "python -m models download flux-dev" in note
    assert missing_model_message("tiny") is None
    assert "random weights, for testing" in model_note("tiny", "en")


def test_require_available_raises_the_locators_error(empty_models_dir):
    # The tabs no longer check this themselves: the workflows ask the manager before planning.
    from models.manager import ModelManager

    manager = ModelManager(device="cpu")
    with pytest.raises(ModelNotAvailableError, match="z-image-turbo"):
        manager.require_available("z-image-turbo")
    manager.require_available("tiny")  # built in code: always there
