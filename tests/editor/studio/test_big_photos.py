"""Phone photos: the Studio edits a crop around the mask at the working size and pastes it back
into the full photo; every stage reports progress and can be cancelled.

The working size is shrunk here (the real one is about 1 MP) so the tiny model runs in seconds;
benchmarks/big_photo_bench.py measures the real sizes.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from PIL import Image

from editor.studio import EditRequest, JobCancelled, JobContext

H, W = 240, 320
WORKING = 64 * 64
FAST = dict(steps=3, skip_steps=1, seed=3, model="tiny", source_prompt="a white cup", target_prompt="a red cup")


@pytest.fixture
def small_budget(studio):
    studio.config = replace(studio.config, working_pixels=WORKING)
    return studio


@pytest.fixture
def photo_and_mask():
    rng = np.random.default_rng(5)
    photo = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)  # noise: any stray change shows
    mask = np.zeros((H, W), np.float32)
    mask[60:170, 90:230] = 1
    mask[100, 40] = 0.5  # a lone soft pixel far from the rest
    return photo, mask


def test_a_big_photo_is_edited_on_a_working_size_crop_and_only_masked_pixels_change(small_budget, photo_and_mask):
    photo, mask = photo_and_mask
    outcome = small_budget.edit(EditRequest(image=photo, mask=mask, **FAST))
    result = np.asarray(outcome.image)
    assert result.shape == photo.shape
    assert np.array_equal(result[mask == 0], photo[mask == 0])  # bit for bit
    assert not np.array_equal(result[mask == 1], photo[mask == 1])
    area = outcome.report["work_area"]
    assert area["scaled"] and area["size"][0] * area["size"][1] <= WORKING * 1.1
    x0, y0, x1, y1 = area["box"]
    assert x0 <= 40 and y0 <= 60 and x1 >= 230 and y1 >= 170  # the crop holds every painted pixel
    r = outcome.report
    assert (r["width"], r["height"]) == (W, H)  # the photo's size, not the crop's
    assert r["working_width"] * r["working_height"] <= WORKING * 1.1
    saved = Image.open(outcome.saved.files["result"])
    assert saved.size == (W, H) and np.array_equal(np.asarray(saved)[mask == 0], photo[mask == 0])


def test_every_stage_reports_progress_in_order_and_the_step_count_is_the_reports(small_budget, photo_and_mask):
    photo, mask = photo_and_mask
    seen = []
    outcome = small_budget.edit(EditRequest(image=photo, mask=mask, **FAST),
                                JobContext(session="s", progress=lambda *a: seen.append(a)))
    stages = list(dict.fromkeys(stage for stage, _, _ in seen))
    assert stages == ["prepare", "load", "invert", "edit", "decode", "paste", "save"]
    edit_steps = [(step, total) for stage, step, total in seen if stage == "edit"]
    assert edit_steps[-1] == (outcome.report["denoise_steps"],) * 2  # the bar and the report agree


@pytest.mark.parametrize("stage", ["prepare", "invert", "edit", "decode", "paste"])
def test_cancel_at_any_stage_stops_the_edit_and_saves_nothing(small_budget, photo_and_mask, stage):
    photo, mask = photo_and_mask
    ctx = JobContext(session="s")

    def progress(at, step, total):
        if at == stage:
            assert small_budget.cancel("s")  # as the Cancel button does

    ctx.progress = progress
    with pytest.raises(JobCancelled):
        small_budget.edit(EditRequest(image=photo, mask=mask, **FAST), ctx)
    assert small_budget.saved_results() == []


def test_a_photo_within_the_working_size_is_edited_whole_as_before(studio, photo_and_mask):
    photo, mask = photo_and_mask
    outcome = studio.edit(EditRequest(image=photo, mask=mask, **FAST))
    assert outcome.report["work_area"] == {"box": [0, 0, W, H], "size": [W, H], "scaled": False, "whole_photo": True}
    assert np.array_equal(np.asarray(outcome.image)[mask == 0], photo[mask == 0])


def test_the_users_corrected_english_reaches_the_model_for_english_only_models(studio, photo_and_mask):
    photo, mask = photo_and_mask
    request = EditRequest(image=photo, mask=mask, **{**FAST, "target_prompt": "나무 테이블 위의 녹차 한 잔"},
                          target_english="a cup of green tea on an oak table")
    report = studio.edit(request).report
    assert report["target_translation"]["backend"] == "edited"
    assert report["target_prompt"] == "a cup of green tea on an oak table"
    preview = studio.translate_preview("나무 테이블 위의 녹차 한 잔", "tiny")
    assert preview.editable and preview.text  # what the UI pre-fills the English box with
