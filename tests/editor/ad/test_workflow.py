"""The ad workflow end to end: formats, node caching, generated backgrounds (tiny model), CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from editor.ad import FORMATS, AdLayout, AdRequest, AdWorkflow
from editor.ad.composite import Placement, place_product
from editor.ad.formats import get_format, scaled
from editor.ad.samples import product_shot
from editor.errors import InputError, IntactError

TEXTS = dict(headline="봄맞이 특가 세일", subline="국내산 딸기로 만든 수제 딸기잼", price="12,900원", cta="지금 구매하기")


@pytest.fixture(scope="module")
def product_png(tmp_path_factory):
    path = tmp_path_factory.mktemp("ad") / "product.png"
    Image.fromarray(product_shot("plain", 160, 160).rgb).save(path)
    return str(path)


@pytest.fixture
def tiny_manager(tiny_pipe):
    from models.manager import ModelManager

    return ModelManager.from_pipeline("tiny", tiny_pipe)


def test_one_run_exports_every_format_with_its_own_layout(product_png):
    wf = AdWorkflow()
    result = wf.run(AdRequest(product=product_png, formats=tuple(FORMATS), scale=0.25, **TEXTS))
    assert set(result.images) == set(FORMATS)
    for name, image in result.images.items():
        assert image.size == scaled(get_format(name), 0.25).size
        elements = result.report["formats"][name]["elements"]
        assert [e["element"] for e in elements] == ["headline", "subline", "price", "cta"]
        assert all(e["contrast_ratio"] >= 4.5 and e["product_overlap"] == 0 and e["missing_glyphs"] == [] for e in elements)
    # Recomputed per format, not cropped: the headline sits differently relative to each canvas.
    rel = {n: tuple(np.round(np.array(r["elements"][0]["box"]) / np.tile(r["size"], 2), 2)) for n, r in result.report["formats"].items()}
    assert len(set(rel.values())) == len(FORMATS)


def test_full_size_story_is_written_as_a_1080_by_1920_png(product_png, tmp_path):
    wf = AdWorkflow()
    result = wf.run(AdRequest(product=product_png, formats=("story",), out_dir=str(tmp_path), **TEXTS))
    path = tmp_path / "ad-story.png"
    assert result.paths["story"] == str(path)
    with Image.open(path) as saved:
        assert saved.size == (1080, 1920) and saved.mode == "RGB"
        assert np.array_equal(np.asarray(saved), np.asarray(result.images["story"]))
    elements = result.report["formats"]["story"]["elements"]
    assert all(e["font_size"] >= 20 for e in elements)  # readable at full size, not thumbnail type
    json.dumps(result.report, ensure_ascii=False)  # the report is plain JSON


def test_changing_the_headline_reruns_the_design_and_text_but_not_the_cutout_or_background(product_png, tmp_path):
    wf = AdWorkflow()
    formats = ("instagram-square", "web-banner")
    base = dict(product=product_png, formats=formats, scale=0.25, out_dir=str(tmp_path), backdrop="mint-radial")
    first = wf.run(AdRequest(**base, **TEXTS))
    assert "background[instagram-square]" in first.report["nodes"]["ran"]
    second = wf.run(AdRequest(**base, **{**TEXTS, "headline": "여름 한정 특가"}))
    ran, cached = second.report["nodes"]["ran"], second.report["nodes"]["cached"]
    # The product shares the canvas with the text, so a new headline may move it (placement and
    # composite then rerun too); the cut-out, palette and background never rerun.
    assert {f"{n}[{f}]" for f in formats for n in ("design", "text", "save")} <= set(ran)
    # A new headline may move the text's panel (decor) and so the composite; never the cut-out or background.
    assert {key.split("[")[0] for key in ran} <= {"design", "placement", "decor", "composite", "text", "save"}
    assert "cutout" in cached and "palette" in cached and all(f"background[{f}]" in cached for f in formats)
    assert wf.graph.runs["background"] == 2 and wf.graph.runs["cutout"] == 1
    third = wf.run(AdRequest(**{**base, "backdrop": "night-navy"}, **TEXTS))
    assert "background[web-banner]" in third.report["nodes"]["ran"] and "cutout" in third.report["nodes"]["cached"]


def test_generated_backgrounds_without_a_model_are_a_clear_error(product_png):
    wf = AdWorkflow()
    for request in (AdRequest(product=product_png, headline="세일", background_prompt="a cafe table"),
                    AdRequest(product=product_png, headline="세일", around_product=True, background_prompt="a cafe")):
        with pytest.raises(IntactError, match="Upload a background photo"):
            wf.run(request)


def test_conflicting_background_choices_are_refused(product_png):
    from skimage import data

    with pytest.raises(InputError, match="Choose one background"):
        AdWorkflow().run(AdRequest(product=product_png, headline="세일", background=data.coffee(), backdrop="night-navy"))


def test_uploaded_real_photo_background(product_png):
    from skimage import data

    result = AdWorkflow().run(AdRequest(product=product_png, background=data.coffee(), scale=0.25, **TEXTS))
    report = result.report["formats"]["instagram-square"]
    assert report["background"]["kind"] == "upload"
    assert all(e["contrast_ratio"] >= 4.5 for e in report["elements"])


def test_background_generated_from_a_translated_prompt_with_the_tiny_model(product_png, tiny_manager):
    wf = AdWorkflow(manager=tiny_manager, model_name="tiny")
    calls = []
    request = AdRequest(product=product_png, background_prompt="카페 나무 테이블", scale=0.2, steps=2, **TEXTS)
    result = wf.run(request, progress=lambda stage, i, n: calls.append((stage, i, n)))
    bg = result.report["formats"]["instagram-square"]["background"]
    assert bg["kind"] == "prompt" and bg["model"] == "tiny"
    assert not any("\uac00" <= ch <= "\ud7a3" for ch in bg["prompt"])  # Hangul was translated for FLUX
    assert ("background", 2, 2) in calls
    again = wf.run(AdRequest(product=product_png, background_prompt="카페 나무 테이블", scale=0.2, steps=2,
                             **{**TEXTS, "headline": "새 헤드라인"}))
    assert "background[instagram-square]" in again.report["nodes"]["cached"]
    from editor.presets import get_preset

    styled = wf.run(AdRequest(product=product_png, background_prompt="카페 나무 테이블", preset="cafe", scale=0.2, steps=2, **TEXTS))
    assert "background[instagram-square]" in styled.report["nodes"]["ran"]
    assert styled.report["formats"]["instagram-square"]["background"]["prompt"] == get_preset("cafe").render(bg["prompt"])


def test_scene_generated_around_the_product_keeps_its_pixels_exact(product_png, tiny_manager):
    wf = AdWorkflow(manager=tiny_manager, model_name="tiny")
    request = AdRequest(product=product_png, around_product=True, background_prompt="a marble counter in a bakery",
                        scale=0.2, steps=2, **TEXTS)
    result = wf.run(request)
    fmt = result.report["formats"]["instagram-square"]
    assert fmt["background"]["kind"] == "around-product"
    assert fmt["background"]["kv_edit"]["foreground_tokens"] < fmt["background"]["kv_edit"]["image_tokens"]
    layer, alpha = place_product(result.cutout, Placement(**fmt["placement"]), tuple(fmt["size"]))
    final = np.asarray(result.images["instagram-square"])
    opaque = alpha == 1.0
    assert opaque.sum() > 100
    assert np.array_equal(final[opaque], layer[opaque].astype(np.uint8))
    # New words, the product where it was (its layout sent back): the scene is not generated again.
    kept = {name: AdLayout(product=layout.product, template=layout.template) for name, layout in result.layouts.items()}
    again = wf.run(AdRequest(product=product_png, around_product=True, background_prompt="a marble counter in a bakery",
                             scale=0.2, steps=2, layouts=kept, **{**TEXTS, "headline": "봄맞이 특가 행사"}))
    assert "background-around-product[instagram-square]" in again.report["nodes"]["cached"]


# ----------------------------------------------------------------------------------- CLI

def test_cli_ad_writes_every_requested_format_and_a_report(product_png, tmp_path, capsys):
    from editor.cli import main

    out, report = tmp_path / "ads", tmp_path / "r.json"
    rc = main(["ad", "--product", product_png, "--headline", "가을 신상 입고", "--price", "9,900원", "--cta", "구매하기",
               "--backdrop", "peach-gradient", "--format", "instagram-square", "web-banner",
               "--out", str(out), "--report", str(report)])
    assert rc == 0
    square, banner = out / "가을-신상-입고_instagram-square.png", out / "가을-신상-입고_web-banner.png"
    with Image.open(square) as a, Image.open(banner) as b:
        assert a.size == (1080, 1080) and b.size == (1200, 628)
    data = json.loads(report.read_text(encoding="utf-8"))
    headline = next(e for e in data["formats"]["web-banner"]["elements"] if e["element"] == "headline")
    assert headline["text"] == "가을 신상 입고"
    assert str(banner) in capsys.readouterr().out and (out / "가을-신상-입고_ads.zip").is_file()


def test_cli_cutout_writes_a_transparent_png_and_a_report(product_png, tmp_path):
    from editor.cli import main

    out, report = tmp_path / "cut.png", tmp_path / "cut.json"
    assert main(["cutout", "--image", product_png, "--out", str(out), "--remover", "offline", "--report", str(report)]) == 0
    with Image.open(out) as img:
        assert img.mode == "RGBA" and img.size == (160, 160)
        alpha = np.asarray(img)[..., 3]
    truth = product_shot("plain", 160, 160).alpha > 0.5
    assert ((alpha > 127) & truth).sum() / ((alpha > 127) | truth).sum() >= 0.95
    assert json.loads(report.read_text())["method"] == "offline"


def test_cli_cutout_without_the_rembg_model_says_how_to_get_it(product_png, tmp_path, capsys):
    from editor.cli import main

    rc = main(["cutout", "--image", product_png, "--out", str(tmp_path / "c.png"), "--remover", "isnet-general-use"])
    assert rc == 2
    err = capsys.readouterr().err
    assert "isnet-general-use" in err and "python -m models download isnet-general-use" in err
    assert not (tmp_path / "c.png").exists()


def test_brush_correction_in_the_request_is_applied_before_composing(product_png):
    remove = np.zeros((160, 160), np.float32)
    remove[:40] = 1.0  # paint the cap out, roughly: the stroke also covers the top of the neck
    wf = AdWorkflow()
    plain = wf.run(AdRequest(product=product_png, headline="세일", scale=0.2))
    fixed = wf.run(AdRequest(product=product_png, headline="세일", mask_remove=remove, scale=0.2))
    # The cap (rows 25-36) is gone; the fix follows the cap's lower edge, so the neck stays.
    assert plain.cutout.alpha[:36].max() == 1.0 and fixed.cutout.alpha[:36].max() < 0.05
    assert fixed.cutout.alpha[37:40].max(axis=1).min() == 1.0
    assert "mask corrected by hand" in fixed.report["cutout"]["notes"]
    assert "cutout" in fixed.report["nodes"]["ran"]  # the brush is an input of the cut-out node
    # A stroke layer of another size is scaled to the photo, as a mask file would be.
    scaled_stroke = np.zeros((16, 16), np.float32)
    scaled_stroke[:4] = 1.0
    again = wf.run(AdRequest(product=product_png, headline="세일", mask_remove=scaled_stroke, scale=0.2))
    np.testing.assert_array_equal(again.cutout.alpha, fixed.cutout.alpha)
