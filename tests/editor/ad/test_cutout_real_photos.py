"""Cut-outs of real photographs (scikit-image's bundled samples) with the real u2netp model and
with the offline matting. The model file is fetched by scripts/setup.sh; these tests fail,
never skip, when it is missing."""

from __future__ import annotations

import numpy as np
import pytest
from skimage import data

from editor.ad.cutout import AUTO_PREFERENCE, CutoutModelMissingError, RembgSessions, cut_out, resolve_remover
from models.registry import MODELS

# Points of the coffee photo (x, y), read off the picture: the crema in the cup, the saucer on
# both sides and below the cup; and the wooden table around it.
COFFEE_PRODUCT = [(270, 130), (150, 300), (330, 330), (450, 250)]
COFFEE_TABLE = [(20, 20), (580, 20), (580, 380), (20, 380), (540, 120), (60, 250)]


def solid_iou(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a > 0.5, b > 0.5
    return float((a & b).sum() / (a | b).sum())


@pytest.fixture(scope="module")
def coffee():
    return data.coffee()


def test_u2netp_cuts_the_cup_and_saucer_out_of_the_coffee_photo(real_cutout_model, coffee):
    real_cutout_model("u2netp")
    cut = cut_out(coffee, "u2netp")
    assert cut.method == "u2netp"
    assert all(cut.alpha[y, x] > 0.9 for x, y in COFFEE_PRODUCT)
    assert all(cut.alpha[y, x] < 0.1 for x, y in COFFEE_TABLE)
    assert 0.3 < cut.verdict.coverage < 0.65
    assert cut.verdict.plausible and not cut.needs_review


def test_auto_uses_the_trained_model_that_setup_fetched(real_cutout_model, coffee):
    real_cutout_model("u2netp")
    assert resolve_remover("auto") == "u2netp"
    assert cut_out(coffee).method == "u2netp"


@pytest.mark.parametrize("photo", ["astronaut", "chelsea"])
def test_u2netp_finds_the_subject_of_other_real_photos(real_cutout_model, photo):
    real_cutout_model("u2netp")
    cut = cut_out(getattr(data, photo)(), "u2netp")
    assert cut.verdict.coverage > 0.3 and "empty" not in cut.verdict.codes


def test_a_session_kept_by_its_owner_is_reused_and_released(real_cutout_model, coffee):
    real_cutout_model("u2netp")
    sessions = RembgSessions()
    first = cut_out(coffee, "u2netp", sessions=sessions)
    assert sessions.loaded == ["u2netp"]
    again = cut_out(coffee, "u2netp", sessions=sessions)
    assert np.array_equal(first.alpha, again.alpha)
    sessions.release()
    assert sessions.loaded == []


def test_opening_a_missing_model_never_downloads(tmp_path, monkeypatch):
    import pooch

    monkeypatch.setenv("U2NET_HOME", str(tmp_path))

    def no_network(*args, **kwargs):
        raise AssertionError("rembg tried to download a model")

    monkeypatch.setattr(pooch, "retrieve", no_network)
    with pytest.raises(CutoutModelMissingError) as info:
        RembgSessions().session("u2netp")
    assert info.value.field == "remover" and info.value.key == "model_missing"
    assert "python -m models download u2netp" in info.value.operator_hint
    assert str(tmp_path) not in str(info.value)  # server paths stay in the operator hint


def test_auto_prefers_the_best_model_on_this_machine(tmp_path, monkeypatch):
    monkeypatch.setenv("U2NET_HOME", str(tmp_path))
    assert set(AUTO_PREFERENCE) == {n for n, s in MODELS.items() if s.family == "rembg"}
    assert resolve_remover("auto") == "offline"
    for name in reversed(AUTO_PREFERENCE):  # add models from the least to the most preferred
        folder = tmp_path / "models" / name
        folder.mkdir(parents=True)
        (folder / f"{name}.onnx").write_bytes(b"onnx")
        assert resolve_remover("auto") == name


def test_offline_matting_finds_the_cup_on_the_wooden_table_and_says_it_is_unsure(real_cutout_model, coffee):
    real_cutout_model("u2netp")
    offline = cut_out(coffee, "offline")
    assert all(offline.alpha[y, x] > 0.9 for x, y in COFFEE_PRODUCT)
    assert all(offline.alpha[y, x] < 0.1 for x, y in COFFEE_TABLE)
    assert solid_iou(offline.alpha, cut_out(coffee, "u2netp").alpha) > 0.9  # two independent methods agree
    assert "unsure" in offline.verdict.codes and offline.needs_review


@pytest.mark.parametrize("photo", ["astronaut", "chelsea", "rocket"])
def test_offline_matting_never_fails_silently_on_busy_photos(photo):
    cut = cut_out(getattr(data, photo)(), "offline")
    assert cut.alpha.shape == getattr(data, photo)().shape[:2]
    assert cut.needs_review and cut.verdict.concerns
    assert all("\n" not in c.message and c.key.startswith("cutout_check.") for c in cut.verdict.concerns)
