"""Generation through the Studio on the tiny FLUX model: seeds, sizes, progress, img2img, presets,
Korean, styles, saving, and the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from editor.cli import main
from editor.errors import InputError
from editor.generate import GenerateRequest, _uses_negative_prompt
from editor.storage import OutputStore, read_params
from editor.studio import JobContext
from models.registry import get_spec
from tests.models.test_lora import make_lora


def _px(image: Image.Image) -> np.ndarray:
    return np.asarray(image, dtype=np.int16)


def tiny_request(**kw) -> GenerateRequest:
    return GenerateRequest(**{"prompt": "a cup of coffee", "model": "tiny", "seed": 7, "steps": 2,
                              "width": 32, "height": 48, **kw})


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"prompt": "  "}, "Write a prompt or choose a preset"),
        ({"model": "sdxl"}, "Unknown image model 'sdxl'"),
        ({"model": "opus-mt-ko-en"}, "Unknown image model"),
        ({"strength": 0}, "Strength must be above 0"),
        ({"strength": 1.5}, "strength must be a number from 0 to 1"),
        ({"seed": -1}, "seed must be a whole number"),
        ({"seed": 1.5}, "seed must be a whole number"),
        ({"steps": 0}, "steps must be"),
        ({"steps": float("nan")}, "steps must be"),
        ({"guidance": 50}, "guidance must be"),
        ({"guidance": float("nan")}, "guidance must be"),
        ({"width": 100, "height": 64}, "multiple of 16"),
        ({"width": 64, "height": None}, "both width and height"),
        ({"num_images": 0}, "number of images"),
        ({"style_weight": 5}, "style weight"),
        ({"prompt": "x" * 5000}, "too long"),
    ],
)
def test_bad_requests_are_refused_at_the_port(kwargs, message):
    with pytest.raises(InputError, match=message):
        tiny_request(**kwargs)


def test_same_seed_same_pixels_other_seed_other_pixels(studio):
    first = studio.generate(tiny_request()).images[0]
    again = studio.generate(tiny_request()).images[0]
    other = studio.generate(tiny_request(seed=8)).images[0]
    assert first.size == (32, 48)
    assert np.array_equal(_px(first), _px(again))
    assert np.abs(_px(first) - _px(other)).max() > 0


def test_progress_reports_every_step_and_the_report_records_the_settings(studio):
    calls = []
    result = studio.generate(tiny_request(steps=3, guidance=2.0), JobContext(progress=lambda *a: calls.append(a)))
    assert [c for c in calls if c[0] == "generate"] == [("generate", 1, 3), ("generate", 2, 3), ("generate", 3, 3)]
    r = result.report
    assert (r["model"], r["task"], r["pipeline"], r["seed"], r["steps"], r["guidance"]) == (
        "tiny", "text2img", "FluxPipeline", 7, 3, 2.0)
    assert (r["width"], r["height"], r["max_sequence_length"]) == (32, 48, 32)
    assert r["model_label"] == "tiny (random weights, for testing)"


def test_a_missing_seed_is_chosen_and_recorded_so_the_picture_can_be_remade(studio):
    result = studio.generate(tiny_request(seed=None))
    remade = studio.generate(tiny_request(seed=result.report["seed"]))
    assert np.array_equal(_px(result.images[0]), _px(remade.images[0]))


def test_image_to_image_runs_the_img2img_pipeline_on_the_shared_weights(studio, tmp_path):
    source = Image.fromarray(np.random.default_rng(0).integers(0, 256, (40, 70, 3), dtype=np.uint8), "RGB")
    path = tmp_path / "in.png"
    source.save(path)
    calls = []
    result = studio.generate(tiny_request(image=str(path), strength=0.5, steps=4, width=None, height=None),
                             JobContext(progress=lambda *a: calls.append(a)))
    assert result.report["pipeline"] == "FluxImg2ImgPipeline" and result.report["task"] == "img2img"
    assert result.images[0].size == (64, 32)  # the input's shape, on the 16 px grid
    assert [c for c in calls if c[0] == "generate"][-1] == ("generate", 2, 2)  # strength 0.5 of 4 steps
    assert result.report["denoise_steps"] == 2  # the count the progress bar shows
    assert studio.manager.pipeline("tiny", "img2img").transformer is studio.manager.base("tiny").transformer
    weaker = studio.generate(tiny_request(image=str(path), strength=0.25, steps=4, width=None, height=None))
    assert np.abs(_px(weaker.images[0]) - _px(result.images[0])).max() > 0


def test_korean_prompt_is_translated_and_ad_copy_never_reaches_the_model(studio, monkeypatch, tmp_path):
    monkeypatch.setenv("INTACT_MODEL_OPUS_MT_KO_EN", str(tmp_path / "absent"))
    result = studio.generate(tiny_request(prompt='맛있는 라면 한 그릇 "오늘만 50% 할인"'))
    r = result.report
    assert r["translation"]["backend"] == "glossary"
    assert r["translation"]["source_text"] == '맛있는 라면 한 그릇 "오늘만 50% 할인"'
    assert r["prompt_sent"] == "a bowl of delicious ramen"
    assert r["ad_copy"] == ["오늘만 50% 할인"]


def test_a_prompt_that_is_only_ad_copy_is_refused(studio):
    with pytest.raises(InputError, match="Nothing is left of the prompt"):
        studio.generate(tiny_request(prompt='"SALE"'))


def test_preset_template_and_its_settings_for_the_model_are_used(studio):
    result = studio.generate(tiny_request(preset="cafe", steps=None, width=None, height=None, prompt="latte"))
    r = result.report
    assert r["prompt_sent"].startswith("latte, professional product photo for a cozy cafe")
    assert (r["steps"], r["width"], r["height"]) == (4, 64, 64)  # the preset's override for tiny
    assert r["negative_prompt_sent"] is None  # FLUX does not read one
    assert r["prompt_truncated"] is True  # the tiny model reads 32 tokens; the report says so


def test_negative_prompt_goes_only_to_models_with_classifier_free_guidance():
    assert _uses_negative_prompt(get_spec("z-image-turbo"), 4.0)
    assert not _uses_negative_prompt(get_spec("z-image-turbo"), 0.0)
    assert not _uses_negative_prompt(get_spec("flux-dev"), 3.5)


def test_a_style_changes_the_picture_and_the_next_request_without_it_is_the_base_again(
    studio, monkeypatch, tmp_path, tiny_pipe
):
    make_lora(tmp_path, "film", tiny_pipe.transformer.config, seed=1)
    monkeypatch.setenv("INTACT_STYLES_DIR", str(tmp_path))
    base = studio.generate(tiny_request()).images[0]
    styled = studio.generate(tiny_request(style="film", style_weight=0.9))
    after = studio.generate(tiny_request()).images[0]
    assert styled.report["style"] == {"name": "film", "weight": 0.9}
    assert styled.report["prompt_sent"] == "film style, a cup of coffee"
    assert np.abs(_px(styled.images[0]) - _px(base)).max() > 0
    assert np.array_equal(_px(after), _px(base))


def test_results_are_saved_as_one_record_with_the_report_and_the_pngs_carry_none(studio):
    outcome = studio.generate(tiny_request(prompt="따뜻한 카페", num_images=2))
    [record] = studio.store.history()
    assert record["task"] == "generate" and record["request"]["seed"] == 7
    assert [f["role"] for f in record["files"]] == ["result", "result-2"]
    # the outcome adds what the user waited, saving included, which the record (written before the
    # save ended) cannot know
    waited = {k: v for k, v in outcome.report.items() if k != "seconds"}
    assert outcome.report["seconds"] >= outcome.report["generate_seconds"]
    assert record["report"] == json.loads(json.dumps(waited, ensure_ascii=False))
    assert read_params(outcome.saved.files["result"]) == {}  # published: no record inside
    assert outcome.saved.files["result"].name == "generate_따뜻한-카페_1.png"


def test_cli_generates_saves_the_record_and_writes_the_report(tmp_path, capsys):
    report_path = tmp_path / "report.json"
    argv = ["generate", "--prompt", "카페 라떼 \"OPEN\"", "--model", "tiny", "--seed", "5", "--size", "32x32",
            "--steps", "2", "--out", str(tmp_path / "out"), "--output-dir", str(tmp_path / "records"),
            "--report", str(report_path)]
    assert main(argv) == 0
    report = json.loads(report_path.read_text(encoding="utf-8"))
    [written] = report["outputs"]
    assert (tmp_path / "out" / "generate_카페-라떼-open.png").is_file() and written.endswith(".png")
    assert report["ad_copy"] == ["OPEN"] and report["translation"]["text"] == "cafe latte"
    assert written in capsys.readouterr().out
    [record] = OutputStore(tmp_path / "records").history()
    assert record["id"] == report["record"] and record["request"]["prompt"] == '카페 라떼 "OPEN"'


@pytest.mark.parametrize("argv, message", [
    (["--size", "64by64"], "size must look like"),
    (["--style", "film:strong"], "style weight must be a number"),
    (["--lora", "nope"], "Unknown style 'nope'"),
    (["--steps", "0"], "steps must be a whole number"),
])
def test_cli_errors_are_one_line_and_name_the_flag(tmp_path, capsys, argv, message):
    # argparse keeps the last of a repeated option, so the case's --size replaces the default one.
    code = main(["generate", "--prompt", "x", "--model", "tiny", "--steps", "1", "--size", "32x32",
                 "--out", str(tmp_path), "--output-dir", str(tmp_path / "records"), *argv])
    err = capsys.readouterr().err.strip()
    assert code == 2 and message in err and len(err.splitlines()) == 1
    assert "(see --" in err  # the CLI names the flag to change
