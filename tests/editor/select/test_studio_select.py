"""`Studio.select`: the job a front end asks for, with the photo read as every job reads it."""

from __future__ import annotations

import pytest
from PIL import Image

from editor.errors import InputError
from editor.select.request import SelectRequest
from editor.studio import JobContext, Studio, StudioConfig
from tests.editor.select.conftest import cup_on_table, iou


@pytest.fixture
def studio(tmp_path):
    return Studio(StudioConfig(output_dir=tmp_path / "out"))


def test_select_returns_the_mask_at_the_photo_size_and_saves_nothing(studio, tmp_path):
    photo, cup = cup_on_table()
    Image.fromarray(photo).save(tmp_path / "cup.png")
    stages = []
    outcome = studio.select(SelectRequest(tmp_path / "cup.png", points=[(290, 250)]),
                            JobContext(progress=lambda stage, step, total: stages.append(stage)))
    assert outcome.mask.shape == cup.shape and iou(outcome.mask, cup) >= 0.95
    assert outcome.report["method"] == "graph cut" and outcome.report["points"] == 1
    assert "select" in stages
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").rglob("*.png"))


def test_the_rest_of_the_photo_grown_and_feathered(studio):
    photo, cup = cup_on_table()
    rest = studio.select(SelectRequest(photo, points=[(290, 250)], invert=True, feather_px=6)).mask
    assert iou(rest, ~cup) >= 0.95
    assert ((rest > 0) & (rest < 1)).any()


def test_a_point_off_the_photo_is_one_line_naming_the_point(studio):
    photo, _ = cup_on_table()
    with pytest.raises(InputError) as caught:
        studio.select(SelectRequest(photo, points=[(290, 250)], negatives=[(700, 10)]))
    assert caught.value.field == "negatives" and "\n" not in str(caught.value)
    assert str(caught.value) == "The point (700, 10) is outside the 640×480 photo."


def test_a_cancelled_selection_stops(studio):
    photo, _ = cup_on_table()
    ctx = JobContext()
    ctx.cancel.set()
    with pytest.raises(Exception) as caught:
        studio.select(SelectRequest(photo, points=[(290, 250)]), ctx)
    assert getattr(caught.value, "key", "") == "cancelled"


def test_the_studio_client_offers_select_too():
    from serving.client import StudioClient
    from serving.wire import JOB_KINDS

    assert callable(getattr(StudioClient, "select")) and "select" in JOB_KINDS
