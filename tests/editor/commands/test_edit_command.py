"""`python -m editor edit` on the tiny model."""

from __future__ import annotations

import json

import numpy as np
from PIL import Image

from editor.cli import main


def _files(tmp_path, alpha_mask: bool = False):
    rng = np.random.default_rng(3)
    photo = rng.integers(0, 256, (45, 71, 3), dtype=np.uint8)
    Image.fromarray(photo).save(tmp_path / "in.png")
    region = np.zeros((45, 71), bool)
    region[10:30, 20:50] = True
    if alpha_mask:  # strokes painted on a transparent layer
        rgba = np.zeros((45, 71, 4), np.uint8)
        rgba[..., :3] = 255
        rgba[..., 3] = region * 255
        Image.fromarray(rgba, "RGBA").save(tmp_path / "mask.png")
    else:
        Image.fromarray(region.astype(np.uint8) * 255).save(tmp_path / "mask.png")
    return photo, region


def test_cli_edit_writes_png_and_report_with_exact_background(tmp_path, capsys):
    photo, region = _files(tmp_path, alpha_mask=True)
    code = main([
        "edit", "--image", str(tmp_path / "in.png"), "--mask", str(tmp_path / "mask.png"),
        "--source", "a white cup", "--target", "a red cup", "--out", str(tmp_path / "out.png"),
        "--model", "tiny", "--steps", "3", "--skip-steps", "1", "--re-init", "--attn-mask",
        "--attn-scale", "0.5", "--seed", "5", "--report", str(tmp_path / "report.json"),
    ])
    assert code == 0
    out = np.asarray(Image.open(tmp_path / "out.png").convert("RGB"))
    np.testing.assert_array_equal(out[~region], photo[~region])
    report = json.loads((tmp_path / "report.json").read_text())
    for field in ("model", "width", "height", "image_tokens", "foreground_tokens", "steps", "kv_cache_mode",
                  "kv_cache_bytes", "inversion_seconds", "denoise_seconds", "peak_memory_bytes"):
        assert field in report
    assert report["model"] == "tiny" and report["model_label"] == "tiny (random weights, for testing)"
    assert (report["width"], report["height"], report["steps"], report["seed"]) == (71, 45, 3, 5)
    assert report["re_init"] and report["attn_mask"] and report["attn_scale"] == 0.5
    assert "wrote" in capsys.readouterr().out


def test_cli_edit_rejects_bad_input_with_one_line_and_writes_nothing(tmp_path, capsys):
    _files(tmp_path)
    common = ["--source", "a", "--target", "b", "--model", "tiny"]
    code = main(["edit", "--image", str(tmp_path / "missing.png"), "--mask", str(tmp_path / "mask.png"),
                 "--out", str(tmp_path / "out.png"), *common])
    assert code == 2
    code_mode = main(["edit", "--image", str(tmp_path / "in.png"), "--mask", str(tmp_path / "mask.png"),
                      "--out", str(tmp_path / "out.png"), "--kv-cache", "floppy", *common])
    assert code_mode == 2
    code_model = main(["edit", "--image", str(tmp_path / "in.png"), "--mask", str(tmp_path / "mask.png"),
                       "--out", str(tmp_path / "out.png"), "--source", "a", "--target", "b", "--model", "opus-mt-ko-en"])
    assert code_model == 2
    err = capsys.readouterr().err
    assert "File not found" in err and "floppy" in err and "cannot do kv-edit" in err
    assert not (tmp_path / "out.png").exists()


def test_cli_speed_setting_reaches_the_edit_and_is_reported(tmp_path, capsys):
    _files(tmp_path)
    code = main(["edit", "--image", str(tmp_path / "in.png"), "--mask", str(tmp_path / "mask.png"),
                 "--source", "a", "--target", "b", "--out", str(tmp_path / "out.png"), "--model", "tiny",
                 "--steps", "6", "--kv-cache", "none", "--speed", "fastest", "--report", str(tmp_path / "r.json"),
                 "--output-dir", str(tmp_path / "records")])
    assert code == 0
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["speed"] == "fastest" and "elastic_refresh" in report
    assert "speed: fastest" in capsys.readouterr().out
    assert main(["edit", "--image", str(tmp_path / "in.png"), "--mask", str(tmp_path / "mask.png"), "--source", "a",
                 "--target", "b", "--out", str(tmp_path / "x.png"), "--speed", "warp"]) == 2
