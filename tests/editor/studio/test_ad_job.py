"""Studio.cutout and Studio.make_ad: the ad jobs, their node cache per session, their records."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest
from PIL import Image

from editor.ad.samples import product_shot
from editor.errors import InputError
from editor.studio import AdRequest, CutoutRequest, JobContext

TEXTS = dict(headline="가을 신메뉴", subline="따뜻한 라떼 한 잔", price="4,500원", cta="주문하기")


@pytest.fixture(scope="module")
def shot():
    return product_shot("plain", 160, 160)


def test_an_ad_job_saves_every_format_and_a_zip_as_one_record_with_readable_names(studio, shot):
    outcome = studio.make_ad(AdRequest(product=shot.rgb, formats=("instagram-square", "story", "story"), scale=0.2,
                                       **TEXTS), JobContext(owner="me"))
    [record] = studio.store.history()
    assert record["task"] == "ad" and record["caption"] == "가을 신메뉴" and record["owner"] == "me"
    assert [f["role"] for f in record["files"]] == ["ad:instagram-square", "ad:story", "zip", "layout"]  # a format once
    files = outcome.saved.files
    assert files["ad:story"].name == "가을-신메뉴_story.png" and files["zip"].name == "가을-신메뉴_ads.zip"
    with zipfile.ZipFile(files["zip"]) as archive:
        assert sorted(archive.namelist()) == ["가을-신메뉴_instagram-square.png", "가을-신메뉴_story.png"]
    assert outcome.report["memory_plan"] is None  # a procedural background needs no model


def test_a_build_right_after_the_cutout_reuses_it(studio, shot):
    ctx = JobContext(session="shop")
    cut = studio.cutout(CutoutRequest(image=shot.rgb), ctx)
    assert cut.saved is not None and cut.report["coverage"] > 0.05
    built = studio.make_ad(AdRequest(product=shot.rgb, scale=0.2, **TEXTS), ctx)
    assert "cutout" in built.report["nodes"]["cached"] and "cutout" not in built.report["nodes"]["ran"]
    other = studio.make_ad(AdRequest(product=shot.rgb, scale=0.2, **TEXTS), JobContext(session="other shop"))
    assert "cutout" in other.report["nodes"]["ran"]  # sessions never share caches


def test_a_cutout_for_the_page_only_saves_nothing(studio, shot):
    outcome = studio.cutout(CutoutRequest(image=shot.rgb), JobContext(save=False))
    assert outcome.saved is None and studio.store.history() == []
    assert outcome.cutout.alpha.shape == shot.rgb.shape[:2]


def test_a_generated_background_runs_under_a_memory_plan_with_no_style(studio, shot):
    outcome = studio.make_ad(AdRequest(product=shot.rgb, model="tiny", background_prompt="나무 테이블", steps=2,
                                       scale=0.1, **TEXTS))
    r = outcome.report
    assert r["memory_plan"]["explanation"] and r["model"] == "tiny" and r["style"] is None
    assert r["background_kind"] == "prompt"


def test_bad_ad_requests_are_refused_before_any_work(studio, shot):
    with pytest.raises(InputError):
        studio.make_ad(AdRequest(product=shot.rgb, headline="", formats=("instagram-square",)))
    with pytest.raises(InputError) as info:
        CutoutRequest(image=shot.rgb, remover="scissors")
    assert info.value.field == "remover"
    with pytest.raises(InputError) as info:
        studio.make_ad(AdRequest(product=shot.rgb, background=shot.rgb, background_prompt="x", **TEXTS))
    assert info.value.key == "one_background" and "--" not in str(info.value)  # no CLI flag in the message
    assert studio.store.history() == []


def test_the_cutout_record_is_a_transparent_png(studio, shot):
    outcome = studio.cutout(CutoutRequest(image=shot.rgb, remover="offline"))
    with Image.open(outcome.saved.files["result"]) as saved:
        assert saved.mode == "RGBA"
        alpha = np.asarray(saved)[..., 3]
    assert alpha.min() == 0 and alpha.max() == 255
