"""Every named endpoint of the app, called with gradio_client against the launched app (tiny model)."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.app.app_server import running_app

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def app():
    with running_app() as running:
        yield running


@pytest.fixture()
def client(app):
    from gradio_client import Client

    return Client(app.url, verbose=False)  # a fresh browser session per test


@pytest.fixture(scope="module")
def photo(tmp_path_factory) -> Path:
    """An odd-sized noise photo: any change outside the mask would show."""
    path = tmp_path_factory.mktemp("api") / "photo.png"
    rng = np.random.default_rng(7)
    Image.fromarray(rng.integers(0, 256, (72, 90, 3), dtype=np.uint8)).save(path)
    return path


@pytest.fixture(scope="module")
def stroke(tmp_path_factory) -> Path:
    """A brush layer as the editor sends it: transparent except an opaque stroke."""
    layer = np.zeros((72, 90, 4), dtype=np.uint8)
    layer[20:44, 25:61] = (255, 40, 120, 255)
    path = tmp_path_factory.mktemp("api") / "stroke.png"
    Image.fromarray(layer, "RGBA").save(path)
    return path


def editor_value(photo: Path, *layers: Path) -> dict:
    from gradio_client import handle_file

    return {"background": handle_file(str(photo)), "layers": [handle_file(str(p)) for p in layers], "composite": None}


EDIT_OPTIONS = {"steps": 4, "skip_steps": 1, "inversion_guidance": 1.5, "guidance": 3.5, "re_init": False,
                "attn_mask": False, "attn_scale": 1.0, "seed": 42, "kv_cache": "auto"}


def test_invert_then_two_edits_keep_every_pixel_outside_the_stroke_and_invert_once(client, photo, stroke):
    status = client.predict("tiny", editor_value(photo, stroke), "a noisy picture", **EDIT_OPTIONS,
                            api_name="/invert")
    assert "Inverted" in status

    first = client.predict("tiny", editor_value(photo, stroke), "a noisy picture", "a red square", **EDIT_OPTIONS,
                           api_name="/edit")
    second = client.predict("tiny", editor_value(photo, stroke), "a noisy picture", "a blue square", **EDIT_OPTIONS,
                            api_name="/edit")
    original = np.asarray(Image.open(photo).convert("RGB"))
    for markdown, _compare, _overlay, files, report, _history in (first, second):
        result_path, mask_path = files
        result = np.asarray(Image.open(result_path).convert("RGB"))
        mask = np.asarray(Image.open(mask_path))
        assert result.shape == original.shape
        outside = mask == 0
        assert np.array_equal(result[outside], original[outside])
        assert not np.array_equal(result[~outside], original[~outside])  # the painted area did change
        assert outside[:20].all() and not outside[20:44, 25:61].any()  # the mask is the stroke
        assert report["inversion"] == "reused"  # neither edit inverted again after /invert
        assert "Done in" in markdown and f"{report['denoise_steps']} steps" in markdown  # the bar's step count
        assert report["memory_plan"]["explanation"] and report["memory_plan"]["fallback_used"] is False
        assert "random weights, for testing" in report["model_label"]
    assert len(second[5]) == 2  # the session's history holds both edits


def test_continue_editing_makes_the_last_result_the_new_image(client, photo, stroke):
    *_, files, _report, _history = client.predict("tiny", editor_value(photo, stroke), "a picture", "a cat",
                                                  **EDIT_OPTIONS, api_name="/edit")
    value, _status = client.predict(api_name="/continue_editing")
    assert value["layers"] == []
    continued = np.asarray(Image.open(value["background"]).convert("RGB"))
    assert np.array_equal(continued, np.asarray(Image.open(files[0]).convert("RGB")))


def test_continue_editing_before_any_edit_says_so(client):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match="no result to continue from"):
        client.predict(api_name="/continue_editing")


def test_edit_without_a_stroke_asks_for_one(client, photo):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match="paint the region to change"):
        client.predict("tiny", editor_value(photo), "a picture", "a cat", **EDIT_OPTIONS, api_name="/edit")


def test_edit_with_a_missing_model_names_it_without_server_paths(client, photo, stroke):
    import os

    from gradio_client.exceptions import AppError

    with pytest.raises(AppError) as caught:
        client.predict("flux-dev", editor_value(photo, stroke), "a picture", "a cat", **EDIT_OPTIONS, api_name="/edit")
    assert "flux-dev" in str(caught.value)
    assert os.environ["INTACT_MODELS_DIR"] not in str(caught.value) and "python -m" not in str(caught.value)


def test_generate_text_to_image_with_a_preset_and_korean_prompt(client):
    _status, images, files, report = client.predict(
        model="tiny", prompt="커피 한 잔", preset="cafe", negative="", lora="", lora_weight=0.8, init_image=None,
        strength=0.6, width=None, height=None, steps=None, guidance=None, seed=5, count=1, api_name="/generate")
    assert len(images) == 1 and len(files) == 1
    assert report["preset"] == "cafe" and report["seed"] == 5
    assert "cozy cafe" in report["prompt_sent"]  # the preset template was applied
    assert Image.open(files[0]).size == (report["width"], report["height"])


def test_the_speed_picked_in_the_page_reaches_the_job(client, photo, stroke):
    """Generate and Edit offer exact / fast / fastest; the job runs with the one picked and says so."""
    *_, report = client.predict(
        model="tiny", prompt="a cup", preset="", negative="", lora="", lora_weight=0.8, init_image=None,
        strength=0.6, width=64, height=64, steps=4, guidance=None, seed=1, count=1, speed="fast",
        api_name="/generate")
    assert report["speed"]["setting"] == "fast"
    *_, report, _history = client.predict("tiny", editor_value(photo, stroke), "a picture", "a cat",
                                          **{**EDIT_OPTIONS, "speed": "fastest"}, api_name="/edit")
    assert report["speed"] == "fastest"
    with pytest.raises(Exception, match="warp"):  # refused: the picker offers no such speed
        client.predict("tiny", editor_value(photo, stroke), "a picture", "a cat",
                       **{**EDIT_OPTIONS, "speed": "warp"}, api_name="/edit")


def test_generate_image_to_image_keeps_the_pictures_shape(client, photo):
    from gradio_client import handle_file

    _status, _images, files, report = client.predict(
        model="tiny", prompt="a painting", preset="", negative="", lora="", lora_weight=0.8,
        init_image=handle_file(str(photo)), strength=0.5, width=None, height=None, steps=2, guidance=None, seed=1,
        count=1, api_name="/generate")
    assert report["task"] == "img2img"
    assert Image.open(files[0]).size == (80, 64)  # 90×72 fitted to the 16-pixel grid


@pytest.fixture(scope="module")
def product(tmp_path_factory) -> Path:
    from editor.ad.samples import product_shot

    path = tmp_path_factory.mktemp("api") / "product.png"
    Image.fromarray(product_shot("plain", 120, 120).rgb).save(path)
    return path


def ad_inputs(product: Path, **changes) -> dict:
    from gradio_client import handle_file

    inputs = {"product": handle_file(str(product)), "mask_value": None, "remover": "offline", "bg_mode": "backdrop",
              "bg_image": None, "backdrop": "studio-white", "bg_preset": None, "bg_prompt": "", "model": "tiny",
              "seed": 0, "headline": "신메뉴 출시", "subline": "따뜻한 라떼", "price": "4,500원", "cta": "지금 주문",
              "formats": ["instagram-square", "web-banner"], "scale": 0.2, "old_price": "", "brand": ""}
    inputs.update(changes)
    return inputs


def test_cutout_gives_a_fixable_mask_and_a_preview(client, product):
    value, preview, message = client.predict(product=ad_inputs(product)["product"], remover="offline",
                                            api_name="/cutout")
    assert Image.open(value["background"]).size == (120, 120)
    assert Image.open(preview).size == (120, 120)
    assert "offline" in message

    # A red stroke removes product: the fixed preview differs from the automatic one there.
    layer = np.zeros((120, 120, 4), dtype=np.uint8)
    layer[50:70, 50:70] = (239, 68, 68, 255)
    stroke_path = Path(value["background"]).with_name("remove.png")
    Image.fromarray(layer, "RGBA").save(stroke_path)
    from gradio_client import handle_file

    fixed = client.predict(product=ad_inputs(product)["product"],
                           mask_value={"background": handle_file(value["background"]),
                                       "layers": [handle_file(str(stroke_path))], "composite": None},
                           api_name="/cutout_fix")
    before, after = np.asarray(Image.open(preview)), np.asarray(Image.open(fixed))
    assert not np.array_equal(before[50:70, 50:70], after[50:70, 50:70])
    assert np.array_equal(before[:40], after[:40])


def test_build_ad_renders_every_format_and_a_zip_and_text_changes_rerun_no_cutout_or_background(client, product):
    _status, previews, files, report, adjustable = client.predict(**ad_inputs(product), api_name="/build_ad")
    pngs = {Path(f).name: f for f in files if f.endswith(".png")}
    assert Image.open(pngs["신메뉴-출시_instagram-square.png"]).size == (216, 216)  # 1080 × 0.2
    assert Image.open(pngs["신메뉴-출시_web-banner.png"]).size == (240, 126)  # 1200×628 × 0.2
    archive = [f for f in files if f.endswith(".zip")]
    assert sorted(zipfile.ZipFile(archive[0]).namelist()) == ["신메뉴-출시_instagram-square.png",
                                                              "신메뉴-출시_web-banner.png"]
    assert len(previews) == 2 and adjustable["value"] == "instagram-square"  # the layout controls show it
    assert any(f.endswith("_layout.json") for f in files)

    # A flat backdrop has no horizon to follow the product (a sweep's does), so new text redraws no
    # background: only what the text moves (the product, the template's panel) is redone.
    client.predict(**ad_inputs(product, backdrop="night-navy"), api_name="/build_ad")
    _status, previews, files, report, _ = client.predict(**ad_inputs(product, backdrop="night-navy",
                                                                     headline="오늘만 할인"), api_name="/build_ad")
    ran = {key.split("[")[0] for key in report["nodes"]["ran"]}
    assert ran <= {"design", "placement", "composite", "text", "decor"}  # new text may move the product
    assert "text" in ran and "background" not in ran and "cutout" not in ran


def test_a_built_layout_is_adjusted_and_applied_without_a_new_cutout_or_background(client, product):
    # a 324 px square (scale 0.3): at 0.2 (216 px) no design has room for the text above the product;
    # a flat backdrop, whose picture does not follow the product (a sweep's horizon does)
    flat = dict(scale=0.3, backdrop="night-navy")
    client.predict(**ad_inputs(product, **flat), api_name="/build_ad")
    _status, _previews, _files, report, chosen = client.predict(
        **ad_inputs(product, **flat), name="instagram-square", position="top", align="center", text_size=70,
        font="nanum-gothic", text_colour="#123456", accent="rgba(170, 34, 51, 1)", emphasis="bold", product_size=0.5,
        product_x=0.5, product_y=0.9, api_name="/apply_layout")
    text = report["formats"]["instagram-square"]["layout"]["text"]
    assert (text["position"], text["align"], text["size"], text["font"]) == ("top", "center", 70, "nanum-gothic")
    assert text["price_emphasis"] == "bold" and chosen["value"] == "instagram-square"
    ran = {key.split("[")[0] for key in report["nodes"]["ran"]}
    assert "cutout" not in ran and "background" not in ran and "text" in ran


def test_a_batch_builds_every_product_into_one_zip(client, product, tmp_path):
    from gradio_client import handle_file

    from editor.ad.samples import product_shot

    other = tmp_path / "blue.png"
    Image.fromarray(product_shot("plain", 100, 100, colour=(40, 60, 150)).rgb).save(other)
    status, zip_path = client.predict(**ad_inputs(product), products=[handle_file(str(product)), handle_file(str(other))],
                                      csv_file=None, api_name="/build_ad_batch")
    assert "2" in status and "✓ blue" in status
    with zipfile.ZipFile(zip_path) as archive:
        names = set(archive.namelist())
    assert {"blue/instagram-square.png", "blue/web-banner.png", "manifest.json"} <= names


def test_gallery_lists_saved_results_and_reopens_one_in_edit_and_generate(client, photo, stroke):
    client.predict("tiny", editor_value(photo, stroke), "a picture", "a dog", **EDIT_OPTIONS, api_name="/edit")
    gallery, info, download = client.predict(api_name="/gallery")  # the session's State is not sent to clients
    assert len(gallery) >= 1
    assert info.startswith("Edit · a dog")  # newest first, readable
    assert gallery[0]["caption"] == "Edit · a dog"
    assert Image.open(download).size == (90, 72)  # the selected result, full size
    value, opened_status = client.predict(index=0, api_name="/open_in_edit")  # (the tab switch is no API value)
    opened = Image.open(value["background"])
    assert opened.size == (90, 72) and "Opened in the Edit tab" in opened_status
    image, _info = client.predict(index=0, api_name="/open_in_generate")
    assert Image.open(image).size == opened.size
    # One's own result can be deleted; then it is gone from the gallery.
    count = len(gallery)
    gallery, info, _download = client.predict(index=0, api_name="/delete_result")
    assert info == "Deleted." and len(gallery) == count - 1


def test_the_history_log_is_not_served_to_browsers(app, client, photo, stroke):
    import os

    from tests.app.app_server import http_status

    client.predict("tiny", editor_value(photo, stroke), "a picture", "a fox", **EDIT_OPTIONS, api_name="/edit")
    outputs = Path(os.environ["INTACT_OUTPUT_DIR"]).resolve()
    history = outputs / "history.jsonl"
    assert history.is_file()
    image = next((outputs / "jobs").glob("*/edit_a-fox.png"))
    assert http_status(f"{app.url}gradio_api/file={image}") == 200  # results are served...
    ad = next((outputs / "jobs").glob("*/*_instagram-square.png"), None)
    if ad is not None:  # Korean names are served too (percent-encoded, as a browser sends them)
        from urllib.parse import quote

        assert http_status(f"{app.url}gradio_api/file={quote(str(ad))}") == 200
    assert http_status(f"{app.url}gradio_api/file={history}") in (403, 404)  # ...the log of everyone's is not


def test_gallery_reopening_a_result_that_does_not_exist_says_so(client):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match="no saved result number 9999"):
        client.predict(index=9999, api_name="/open_in_edit")


def test_status_lists_models_device_and_the_memory_plan_in_use(client, photo, stroke):
    import os

    client.predict("tiny", editor_value(photo, stroke), "a picture", "a bird", **EDIT_OPTIONS, api_name="/edit")
    works, *_operator, table, info = client.predict(api_name="/status")
    # What works, in a shop owner's words...
    assert "Photo editing runs only with the test model" in works and "Working now" in works
    assert "python -m" not in works and os.environ["INTACT_OUTPUT_DIR"] not in works
    # ...and the operator's details, for a browser on this computer (the client is on loopback).
    names = [row[0] for row in table["data"]]
    assert "tiny (random weights, for testing)" in names and "flux-dev (non-commercial licence)" in names
    assert "Memory plan" in info and "KV cache" in info
    assert "In use now: model tiny" in info


def test_korean_edit_prompts_are_translated_for_flux(client, photo, stroke):
    markdown, *_rest, report, _history = client.predict(
        "tiny", editor_value(photo, stroke), "커피 한 잔", "빨간 컵", **EDIT_OPTIONS, api_name="/edit")
    assert report["target_translation"]["backend"] in {"glossary", "marian"}
    assert report["target_translation"]["text"] == "red cup"
    assert report["target_prompt"] == "red cup"  # what the model got
    from ui.edit_tab import report_markdown

    assert "Done in" in markdown and "“빨간 컵” was sent as “red cup”" in report_markdown("en", report)  # details


def test_two_browser_sessions_keep_their_own_inversions(app, photo, stroke, tmp_path):
    from gradio_client import Client

    alice, bob = Client(app.url, verbose=False), Client(app.url, verbose=False)
    other = tmp_path / "other.png"
    Image.fromarray(np.random.default_rng(11).integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(other)
    other_stroke = tmp_path / "other-stroke.png"
    layer = np.zeros((64, 64, 4), dtype=np.uint8)
    layer[8:30, 8:30] = (255, 40, 120, 255)
    Image.fromarray(layer, "RGBA").save(other_stroke)

    alice.predict("tiny", editor_value(photo, stroke), "a picture", **EDIT_OPTIONS, api_name="/invert")
    *_, bob_files, bob_report, _ = bob.predict("tiny", editor_value(other, other_stroke), "noise", "a cat",
                                               **EDIT_OPTIONS, api_name="/edit")
    *_, alice_files, alice_report, _ = alice.predict("tiny", editor_value(photo, stroke), "a picture", "a cat",
                                                     **EDIT_OPTIONS, api_name="/edit")
    assert bob_report["inversion"] == "computed"  # Bob's first edit inverted his own image
    assert alice_report["inversion"] == "reused"  # Bob's edit did not replace Alice's inversion
    assert Image.open(alice_files[0]).size == (90, 72) and Image.open(bob_files[0]).size == (64, 64)


def test_the_same_edit_through_the_cli_and_the_api_gives_the_same_report_fields_and_record(client, photo, stroke,
                                                                                           tmp_path):
    import json
    import os

    from editor.cli import main
    from editor.storage import OutputStore

    options = dict(EDIT_OPTIONS, kv_cache="device")
    *_, files, api_report, _history = client.predict("tiny", editor_value(photo, stroke), "a picture", "a cat",
                                                     **options, api_name="/edit")
    api_record = OutputStore(os.environ["INTACT_OUTPUT_DIR"]).history()[-1]  # the edit just made
    assert api_record["task"] == "edit" and api_record["caption"] == "a cat"
    assert main(["edit", "--image", str(photo), "--mask", str(stroke), "--source", "a picture", "--target", "a cat",
                 "--model", "tiny", "--steps", "4", "--skip-steps", "1", "--inversion-guidance", "1.5",
                 "--guidance", "3.5", "--attn-scale", "1.0", "--seed", "42", "--kv-cache", "device",
                 "--out", str(tmp_path / "out.png"), "--output-dir", str(tmp_path / "records"),
                 "--report", str(tmp_path / "report.json")]) == 0
    [cli_record] = OutputStore(tmp_path / "records").history()
    cli_report = json.loads((tmp_path / "report.json").read_text())
    assert cli_record["request"] == api_record["request"]
    assert set(cli_record) == set(api_record) and set(cli_record["report"]) == set(api_record["report"])
    assert set(api_report) <= set(cli_report)
    assert [f["role"] for f in cli_record["files"]] == [f["role"] for f in api_record["files"]]
    cli_pixels = np.asarray(Image.open(tmp_path / "out.png").convert("RGB"), np.int16)
    api_pixels = np.asarray(Image.open(files[0]).convert("RGB"), np.int16)
    assert np.abs(cli_pixels - api_pixels).max() <= 1  # one model, one request: the same picture


def test_a_24_mp_edit_reports_its_stages_and_the_sessions_cancel_stops_it(client, tmp_path):
    """A phone photo through /edit: progress names the stages while it runs; /cancel_edit from the
    same session stops it and nothing is saved."""
    import os
    import time

    size = (5664, 4248)
    rng = np.random.default_rng(1)
    photo = tmp_path / "phone.jpg"
    Image.fromarray(rng.integers(0, 256, (size[1] // 8, size[0] // 8, 3), dtype=np.uint8)).resize(
        size, Image.Resampling.NEAREST).save(photo, quality=85)
    layer = np.zeros((size[1], size[0], 4), np.uint8)
    layer[1000:2000, 2000:3500] = (255, 40, 120, 255)
    stroke = tmp_path / "stroke.png"
    Image.fromarray(layer, "RGBA").save(stroke)
    outputs = Path(os.environ["INTACT_OUTPUT_DIR"])
    saved_before = len(list(outputs.glob("jobs/*"))) if outputs.exists() else 0

    job = client.submit("tiny", editor_value(photo, stroke), "a picture", "a cat",
                        **{**EDIT_OPTIONS, "steps": 50}, api_name="/edit")
    seen, deadline = [], time.monotonic() + 300
    while time.monotonic() < deadline and not any(d.startswith(("Inverting", "Editing")) for d in seen):
        seen += [unit.desc for unit in job.status().progress_data or [] if unit.desc and unit.desc not in seen]
        time.sleep(0.05)
    assert any(d.startswith(("Inverting", "Editing")) for d in seen), seen  # the model is at work
    assert client.predict(api_name="/cancel_edit") == "Cancelling: the job stops at its next step."
    message, *_ = job.result(timeout=300)
    assert message == "Cancelled: nothing was saved."
    assert len(list(outputs.glob("jobs/*"))) == saved_before
