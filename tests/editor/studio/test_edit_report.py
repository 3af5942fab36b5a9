"""The edit job's report: each key stated once, by the stage that knows it; the time the user waited."""

from __future__ import annotations

import time

import numpy as np
import pytest
from PIL import Image

from editor.studio import EditRequest, InvertRequest
from editor.studio.edit_job import merged

FAST = dict(steps=3, skip_steps=1, seed=3, model="tiny")


@pytest.fixture
def photo_and_mask():
    rng = np.random.default_rng(5)
    photo = Image.fromarray(rng.integers(0, 256, (40, 56, 3), dtype=np.uint8))
    mask = np.zeros((40, 56), np.float32)
    mask[8:32, 16:40] = 1
    return photo, mask


def test_a_key_stated_by_two_sections_is_refused():
    assert merged({"a": 1}, {"b": 2}) == {"a": 1, "b": 2}
    with pytest.raises(ValueError, match="stated twice"):
        merged({"license": "apache-2.0"}, {"license": "apache-2.0"})


def test_an_edit_report_names_its_model_and_licence_once(studio, photo_and_mask):
    photo, mask = photo_and_mask
    report = studio.edit(EditRequest(image=photo, mask=mask, source_prompt="a cup", target_prompt="a red cup",
                                     **FAST)).report
    assert "licence" not in report and "licence_note" not in report
    assert report["license"] and report["model"] == "tiny"  # the registry name, not its label
    assert report["model_label"].startswith("tiny (random weights")
    assert (report["width"], report["height"]) == photo.size  # the photo's, not the work area's
    assert report["denoise_steps"] == 2 and report["inversion"] == "computed"


def test_an_inversion_reports_the_same_keys_for_what_it_shares_with_an_edit(studio, photo_and_mask):
    photo, mask = photo_and_mask
    inverted = studio.invert(InvertRequest(image=photo, mask=mask, source_prompt="a cup", **FAST)).report
    assert "target_translation" not in inverted and inverted["license"] and "licence" not in inverted
    assert inverted["source_translation"]["source_text"] == "a cup"


def test_the_reported_seconds_include_saving(studio, photo_and_mask, monkeypatch):
    """What the page says ("done in N s") is what the user waited: a slow save counts."""
    photo, mask = photo_and_mask
    store = studio.store
    save_job = store.save_job

    def slow_save(record, files):
        time.sleep(0.6)
        return save_job(record, files)

    monkeypatch.setattr(store, "save_job", slow_save)
    started = time.perf_counter()
    outcome = studio.edit(EditRequest(image=photo, mask=mask, source_prompt="a cup", target_prompt="a red cup",
                                      **FAST))
    waited = time.perf_counter() - started
    assert outcome.report["seconds"] >= 0.6
    assert outcome.report["seconds"] <= waited + 0.01


def test_a_photos_own_notes_reach_the_report(studio, tmp_path):
    """A CMYK photo file is converted, and the report says so (the app sends the file, not a copy)."""
    path = tmp_path / "cmyk.jpg"
    Image.new("CMYK", (56, 40), (0, 80, 160, 0)).save(path)
    mask = np.zeros((40, 56), np.float32)
    mask[8:32, 16:40] = 1
    report = studio.edit(EditRequest(image=str(path), mask=mask, source_prompt="a cup", target_prompt="a red cup",
                                     **FAST)).report
    assert any("CMYK" in note for note in report["notes"])


def test_the_whole_photo_is_pasted_once_by_the_job(studio, photo_and_mask, monkeypatch):
    """The session hands back its decoded crop; only the job pastes (into the whole photo)."""
    from editor.kv_edit import session as session_module

    pastes = []
    real = session_module.paste_back
    monkeypatch.setattr(session_module, "paste_back", lambda *a, **k: pastes.append(1) or real(*a, **k))
    photo, mask = photo_and_mask
    outcome = studio.edit(EditRequest(image=photo, mask=mask, source_prompt="a cup", target_prompt="a red cup",
                                      **FAST))
    assert pastes == []
    np.testing.assert_array_equal(np.asarray(outcome.image)[mask == 0], np.asarray(photo)[mask == 0])
