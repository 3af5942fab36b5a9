"""Which model a tab starts with, and what its note says (labels, licence, missing models)."""

from __future__ import annotations

import json

import pytest

from models.locate import ModelNotAvailableError
from models.vocabulary import KV_EDIT
from ui.model_choice import default_model, model_choices, model_note


@pytest.fixture()
def empty_models_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("INTACT_MODELS_DIR", str(tmp_path))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    return tmp_path


def _fake_downloaded(models_dir, name):
    folder = models_dir / name
    folder.mkdir()
    (folder / "model_index.json").write_text(json.dumps({"_class_name": "FluxPipeline"}))


def test_without_weights_every_tab_starts_with_the_tiny_model_that_mirrors_the_real_default(empty_models_dir):
    assert default_model() == "tiny-flux2"  # FLUX.2 [klein]'s architecture: reads Korean as written
    assert default_model(KV_EDIT) == "tiny-flux2"
    assert "tiny" in [name for _, name in model_choices(KV_EDIT)]  # the FLUX.1 one stays selectable


def test_a_real_model_on_disk_wins_over_tiny_and_commercial_licences_win_over_others(empty_models_dir):
    _fake_downloaded(empty_models_dir, "flux-dev")
    assert default_model(KV_EDIT) == "flux-dev"
    _fake_downloaded(empty_models_dir, "flux-schnell")
    assert default_model(KV_EDIT) == "flux-schnell"  # Apache-2.0 before the non-commercial dev
    _fake_downloaded(empty_models_dir, "flux2-klein-base-4b")
    _fake_downloaded(empty_models_dir, "z-image-turbo")
    assert default_model(KV_EDIT) == "flux2-klein-base-4b"  # not distilled: inverts best
    assert default_model() == "z-image-turbo"  # generation: few steps, reads Korean


def test_a_chosen_model_is_kept_when_it_can_do_the_task(empty_models_dir):
    assert default_model(preferred="flux-dev") == "flux-dev"
    assert default_model(KV_EDIT, preferred="z-image-turbo") == "z-image-turbo"  # every image model edits
    assert default_model(KV_EDIT, preferred="opus-mt-ko-en") == "tiny-flux2"  # not an image model: not offered
    assert default_model(KV_EDIT, preferred="tiny") == "tiny"


def test_missing_models_stay_listed_and_are_marked_in_the_users_language(empty_models_dir):
    labels = {name: label for label, name in model_choices(lang="en")}
    assert labels["tiny"] == "tiny — random weights, for testing"
    assert labels["flux-dev"] == "flux-dev — non-commercial licence, not installed"
    korean = dict((n, lbl) for lbl, n in model_choices(lang="ko"))
    assert korean["flux-schnell"] == "flux-schnell — 설치 안 됨"
    assert korean["tiny"] == "tiny — 무작위 가중치, 테스트용"
    # Without a language the labels are catalogue keys the browser translates.
    assert "__i18n__" in dict((n, str(lbl)) for lbl, n in model_choices())["tiny"]
    assert [name for _label, name in model_choices(KV_EDIT)] == [
        "flux-dev", "flux-schnell", "z-image-turbo", "flux2-klein-4b", "flux2-klein-base-4b", "tiny", "tiny-flux2",
        "tiny-zimage"]


def test_a_missing_models_note_says_so_without_server_paths_or_commands(empty_models_dir):
    note = model_note("flux-dev", "ko")
    assert "flux-dev" in note and "설치되어 있지 않습니다" in note
    assert str(empty_models_dir) not in note and "python -m" not in note
    assert "random weights, for testing" in model_note("tiny", "en")


def test_a_non_commercial_model_says_so_in_its_note(empty_models_dir):
    _fake_downloaded(empty_models_dir, "flux-dev")
    assert "non-commercial" in model_note("flux-dev", "en") and "비상업용" in model_note("flux-dev", "ko")


def test_the_manager_reports_a_missing_model_before_planning(empty_models_dir):
    from models.manager import ModelManager

    manager = ModelManager(device="cpu")
    with pytest.raises(ModelNotAvailableError, match="z-image-turbo"):
        manager.require_available("z-image-turbo")
    manager.require_available("tiny")  # built in code: always there
