"""Bad inputs through the real command lines, each in its own process.

For every case: the exit code is 2, stderr is exactly one line starting with "error:", no
"Traceback" reaches the terminal (the trace is in the log), and no output file is left behind.
Cases that must *succeed* despite odd input (CMYK, EXIF rotation, a mask of another size, a
prompt beyond the model's token limit, glyphs the font lacks) are checked for a correct output.

All processes of this module are started together (3 at a time) in one fixture, so the suite pays
the interpreter start-up about once per three cases.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[2]
PARALLEL = 3
LONG_PROMPT = " ".join(["a small red ceramic cup on a wooden table"] * 30)  # ~300 T5 tokens; tiny reads 32


@dataclass
class Outcome:
    rc: int
    stdout: str
    stderr: str
    seconds: float


class EvilPickle:
    """Unpickling this creates a marker file: proof that someone unpickled a user file."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (Path.touch, (Path(self.marker),))


def _write_inputs(d: Path) -> dict[str, Path]:
    rng = np.random.default_rng(7)
    p: dict[str, Path] = {}

    def save(name: str, image: Image.Image, **kw) -> Path:
        p[name] = d / name
        image.save(p[name], **kw)
        return p[name]

    rgb = rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)
    save("photo.png", Image.fromarray(rgb))
    mask = np.zeros((48, 64), np.uint8)
    mask[12:36, 20:44] = 255
    save("mask.png", Image.fromarray(mask))
    save("mask_other_size.png", Image.fromarray(mask).resize((128, 96), Image.NEAREST))
    save("mask_empty.png", Image.fromarray(np.zeros((48, 64), np.uint8)))
    (d / "text.png").write_text("this is not an image")
    p["text.png"] = d / "text.png"
    data = p["photo.png"].read_bytes()
    (d / "truncated.png").write_bytes(data[: len(data) // 2])
    p["truncated.png"] = d / "truncated.png"
    # A 100-byte PNG that claims 12000×12000: refused from its header.
    from tests.reliability.test_images import png_header_only

    (d / "bomb.png").write_bytes(png_header_only(12_000, 12_000))
    p["bomb.png"] = d / "bomb.png"
    # A CMYK JPEG whose EXIF says "rotate 90°": stored 64×48, upright 48×64.
    exif = Image.Exif()
    exif[0x0112] = 6
    save("cmyk_rotated.jpg", Image.fromarray(rgb).convert("CMYK"), format="JPEG", quality=95, exif=exif.tobytes())
    upright_mask = np.zeros((64, 48), np.uint8)
    upright_mask[8:40, 10:30] = 255
    save("mask_upright_double.png", Image.fromarray(upright_mask).resize((96, 128), Image.NEAREST))
    # A studio product shot for the cut-out and the ad.
    product = Image.new("RGB", (96, 96), (245, 245, 245))
    ImageDraw.Draw(product).ellipse((28, 22, 70, 80), fill=(200, 40, 40))
    save("product.png", product)
    # A 16-bit greyscale product shot.
    save("product16.png", Image.fromarray((np.asarray(product.convert("L")).astype(np.uint16) * 257)))
    return p


def _styles(d: Path) -> dict[str, Path]:
    """A styles folder with a pickle disguised as .safetensors and a truncated safetensors file."""
    import pickle

    folder = d / "styles"
    folder.mkdir()
    meta = {"display_name": "x", "trigger_words": [], "default_weight": 0.8, "base_model": "tiny"}
    (folder / "pickled.json").write_text(json.dumps(meta))
    marker = d / "UNPICKLED"
    (folder / "pickled.safetensors").write_bytes(pickle.dumps(EvilPickle(marker)))
    (folder / "broken.json").write_text(json.dumps(meta))
    from safetensors.numpy import save as st_save

    good = st_save({"lora_A.weight": np.zeros((4, 4), np.float32)})
    (folder / "broken.safetensors").write_bytes(good[: len(good) // 2])
    return {"styles": folder, "marker": marker}


def _bad_preset(d: Path) -> Path:
    folder = d / "presets"
    folder.mkdir()
    text = (ROOT / "assets" / "presets" / "cafe.json").read_text(encoding="utf-8")
    data = json.loads(text)
    data["name"] = "mine"
    data["steps"] = "many"
    (folder / "mine.json").write_text(json.dumps(data, indent=2, ensure_ascii=False), encoding="utf-8")
    return folder


def _broken_tiny(d: Path) -> Path:
    """A copy of the saved tiny model whose transformer weights are cut in half."""
    from models.tiny import ensure_tiny

    broken = d / "tiny-broken"
    shutil.copytree(ensure_tiny(), broken)
    weights = next((broken / "transformer").glob("*.safetensors"))
    data = weights.read_bytes()
    weights.write_bytes(data[: len(data) // 2])
    return broken


def _cases(d: Path, p: dict[str, Path], styles: dict[str, Path], presets: Path, broken_tiny: Path):
    out = d / "out"
    edit = ["editor", "edit", "--model", "tiny", "--steps", "2", "--skip-steps", "0", "--source", "a cup"]
    gen = ["editor", "generate", "--model", "tiny", "--steps", "1", "--size", "32x32", "--prompt", "a cup"]
    # name: (argv, extra env, phrase in the error (None = must succeed), paths that must not exist)
    return {
        "edit_text_file": (edit + ["--image", p["text.png"], "--mask", p["mask.png"], "--target", "x", "--out", out / "e1.png"],
                           {}, "is not an image", [out / "e1.png"]),
        "edit_truncated": (edit + ["--image", p["truncated.png"], "--mask", p["mask.png"], "--target", "x", "--out", out / "e2.png"],
                           {}, "damaged or truncated", [out / "e2.png"]),
        "edit_bomb": (edit + ["--image", p["bomb.png"], "--mask", p["mask.png"], "--target", "x", "--out", out / "e3.png"],
                      {}, "limit is 40 megapixels", [out / "e3.png"]),
        "edit_megapixel_setting": (edit + ["--image", p["photo.png"], "--mask", p["mask.png"], "--target", "x", "--out", out / "e4.png"],
                                   {"INTACT_MAX_MEGAPIXELS": "0.001"}, "limit is 0.001 megapixels", [out / "e4.png"]),
        "edit_mask_not_image": (edit + ["--image", p["photo.png"], "--mask", p["text.png"], "--target", "x", "--out", out / "e5.png"],
                                {}, "'text.png' is not an image", [out / "e5.png"]),
        "edit_out_not_png": (edit + ["--image", p["photo.png"], "--mask", p["mask.png"], "--target", "x", "--out", out / "e6.jpg"],
                             {}, "must be a .png file", [out / "e6.jpg"]),
        "edit_bad_option": (edit[:-4] + ["--steps", "3", "--skip-steps", "5", "--source", "a", "--image", p["photo.png"],
                                         "--mask", p["mask.png"], "--target", "x", "--out", out / "e7.png"],
                            {}, "skip_steps (at most steps - 1) must be", [out / "e7.png"]),
        "edit_bad_kv_cache": (edit + ["--kv-cache", "floppy", "--image", p["photo.png"], "--mask", p["mask.png"], "--target", "x",
                                      "--out", out / "e8.png"], {}, "invalid choice: 'floppy'", [out / "e8.png"]),
        "edit_model_missing": (["editor", "edit", "--model", "flux-dev", "--steps", "2", "--skip-steps", "0", "--source", "a", "--image", p["photo.png"],
                                "--mask", p["mask.png"], "--target", "x", "--out", out / "e9.png"],
                               {}, "python -m models download flux-dev", [out / "e9.png"]),
        "edit_model_corrupt": (edit + ["--image", p["photo.png"], "--mask", p["mask.png"], "--target", "x", "--out", out / "e10.png"],
                               {"INTACT_MODEL_TINY": str(broken_tiny)}, "could not be loaded", [out / "e10.png"]),
        "edit_not_flux": (["editor", "edit", "--model", "opus-mt-ko-en", "--source", "a", "--image", p["photo.png"],
                           "--mask", p["mask.png"], "--target", "x", "--out", out / "e11.png"],
                          {}, "cannot do kv-edit", [out / "e11.png"]),
        "gen_init_not_image": (gen + ["--image", p["text.png"], "--out", out / "g1"], {}, "is not an image", [out / "g1"]),
        "gen_bad_size": (gen[:-4] + ["--size", "33x32", "--prompt", "a", "--out", out / "g2"], {}, "multiple of 16", [out / "g2"]),
        "gen_style_traversal": (gen + ["--lora", "../../../etc/passwd", "--out", out / "g3"], {}, "Unknown style", [out / "g3"]),
        "gen_pickled_lora": (gen + ["--lora", "pickled", "--out", out / "g4"], {"INTACT_STYLES_DIR": str(styles["styles"])},
                             "not a readable safetensors file", [out / "g4", styles["marker"]]),
        "gen_truncated_lora": (gen + ["--lora", "broken", "--out", out / "g5"], {"INTACT_STYLES_DIR": str(styles["styles"])},
                               "not a readable safetensors file", [out / "g5"]),
        "gen_preset_error": (gen + ["--preset", "mine", "--out", out / "g6"], {"INTACT_PRESETS_DIR": str(presets)},
                             "Preset 'mine' cannot be used: mine.json: line ", [out / "g6"]),
        "gen_model_corrupt": (gen + ["--out", out / "g7"], {"INTACT_MODEL_TINY": str(broken_tiny)}, "could not be loaded",
                              [out / "g7"]),
        "cutout_text_file": (["editor", "cutout", "--image", p["text.png"], "--out", out / "c1.png"], {}, "is not an image",
                             [out / "c1.png"]),
        "cutout_out_not_png": (["editor", "cutout", "--image", p["product.png"], "--out", out / "c2.jpg"], {},
                               "must be a .png file", [out / "c2.jpg"]),
        "ad_truncated_product": (["editor", "ad", "--product", p["truncated.png"], "--headline", "x", "--out", out / "a1"], {},
                                 "damaged or truncated", [out / "a1"]),
        "ad_bad_background": (["editor", "ad", "--product", p["product.png"], "--headline", "x", "--background", p["text.png"],
                               "--out", out / "a2"], {}, "is not an image", [out / "a2"]),
        "ad_bad_format": (["editor", "ad", "--product", p["product.png"], "--headline", "x", "--format", "billboard",
                           "--out", out / "a3"], {}, "Unknown ad format", [out / "a3"]),
        # Output paths are checked before any work (a folder, a place under a file, a read-only place).
        "edit_report_is_folder": (edit + ["--image", p["photo.png"], "--mask", p["mask.png"], "--target", "x",
                                          "--out", out / "r1.png", "--report", out], {}, "is a folder", [out / "r1.png"]),
        "edit_out_under_file": (edit + ["--image", p["photo.png"], "--mask", p["mask.png"], "--target", "x",
                                        "--out", p["photo.png"] / "r2.png"], {}, "it is a file", []),
        "edit_out_read_only": (edit + ["--image", p["photo.png"], "--mask", p["mask.png"], "--target", "x",
                                       "--out", "/proc/1/r3.png"], {}, "permission denied", []),
        "edit_output_dir_is_file": (edit + ["--image", p["photo.png"], "--mask", p["mask.png"], "--target", "x",
                                            "--out", out / "r4.png", "--output-dir", p["photo.png"]], {},
                                    "is a file, not a folder", [out / "r4.png"]),
        "edit_empty_target": (edit + ["--image", p["photo.png"], "--mask", p["mask.png"], "--target", "",
                                      "--out", out / "r5.png"], {}, "The target prompt is empty", [out / "r5.png"]),
        "edit_device_tpu": (edit + ["--image", p["photo.png"], "--mask", p["mask.png"], "--target", "x",
                                    "--out", out / "r6.png", "--device", "tpu"], {}, "invalid choice: 'tpu'", [out / "r6.png"]),
        "edit_device_cuda_without_gpu": (edit + ["--image", p["photo.png"], "--mask", p["mask.png"], "--target", "x",
                                                 "--out", out / "r7.png", "--device", "cuda"], {}, "No CUDA GPU",
                                         [out / "r7.png"]),
        "gen_out_is_file": (gen + ["--out", p["photo.png"]], {}, "is a file, not a folder", []),
        "gen_report_is_folder": (gen + ["--out", out / "g8", "--report", out], {}, "is a folder", [out / "g8"]),
        "cutout_out_is_folder": (["editor", "cutout", "--image", p["product.png"], "--out", out], {}, "is a folder", []),
        "cutout_report_is_folder": (["editor", "cutout", "--image", p["product.png"], "--out", out / "c3.png",
                                     "--report", out], {}, "is a folder", [out / "c3.png"]),
        "ad_report_is_folder": (["editor", "ad", "--product", p["product.png"], "--headline", "x", "--out", out / "a4",
                                 "--report", out], {}, "is a folder", [out / "a4"]),
        "ad_out_under_file": (["editor", "ad", "--product", p["product.png"], "--headline", "x",
                               "--out", p["photo.png"] / "a5"], {}, "it is a file", []),
        "ad_pasted_headline": (["editor", "ad", "--product", p["product.png"], "--headline", "가" * 10_000,
                                "--out", out / "a6"], {}, "The headline is too long (10000 characters, at most 80)",
                               [out / "a6"]),
        "models_bad_flag": (["models", "list", "--bogus"], {}, "unrecognized arguments: --bogus", []),
        "models_plan_bad_size": (["models", "plan", "--size", "12"], {}, "argument --size", []),
        "models_unknown": (["models", "download", "imaginary-model"], {}, "Unknown model", []),
        "models_offline": (["models", "download", "flux-dev"], {}, "HF_HUB_OFFLINE", []),
        # Odd but valid inputs: handled, not rejected.
        "ok_edit_cmyk_rotated_resized_mask_long_prompt": (
            edit + ["--image", p["cmyk_rotated.jpg"], "--mask", p["mask_upright_double.png"], "--target", LONG_PROMPT,
                    "--out", out / "ok1.png", "--report", out / "ok1.json"], {}, None, []),
        "ok_edit_empty_mask": (edit + ["--image", p["photo.png"], "--mask", p["mask_empty.png"], "--target", "x",
                                       "--out", out / "ok2.png"], {}, None, []),
        "ok_generate_long_prompt": (gen[:-2] + ["--prompt", LONG_PROMPT, "--out", out / "ok3", "--report", out / "ok3.json"],
                                    {}, None, []),
        "ok_ad_missing_glyphs_16bit": (["editor", "ad", "--product", p["product16.png"], "--headline", "가을 신메뉴 ☃𝄞",
                                        "--price", "₩4,500", "--out", out / "ok4"], {}, None, []),
    }


def _run(argv, env: dict, timeout: float = 600) -> Outcome:
    started = time.monotonic()
    child_env = {**os.environ, "PYTHONUNBUFFERED": "1", **env}
    proc = subprocess.run([sys.executable, "-m", *map(str, argv)], cwd=ROOT, env=child_env, capture_output=True,
                          text=True, timeout=timeout)
    return Outcome(proc.returncode, proc.stdout, proc.stderr, time.monotonic() - started)


@pytest.fixture(scope="module")
def cli(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli-reliability")
    paths = _write_inputs(d)
    cases = _cases(d, paths, _styles(d), _bad_preset(d), _broken_tiny(d))
    (d / "out").mkdir()
    with ThreadPoolExecutor(PARALLEL) as pool:
        futures = {name: pool.submit(_run, *cases[name][:2]) for name in IN_SUBPROCESS + SUCCEEDING}
        outcomes = {name: f.result() for name, f in futures.items()}
    return {"dir": d, "paths": paths, "cases": cases, "outcomes": outcomes}


# Each in its own process: one case per command line and per kind of failure.
IN_SUBPROCESS = [
    "edit_text_file", "edit_bomb", "edit_model_corrupt", "gen_pickled_lora", "gen_preset_error", "cutout_text_file",
    "ad_truncated_product", "models_offline",
]
# The same entry points (`editor.cli.main`, `models.cli.main`) called in this process: the rest of the matrix
# without paying an interpreter start-up for each.
IN_PROCESS = [
    "edit_truncated", "edit_megapixel_setting", "edit_mask_not_image", "edit_out_not_png", "edit_bad_option",
    "edit_bad_kv_cache", "edit_model_missing", "edit_not_flux", "gen_init_not_image", "gen_bad_size",
    "gen_style_traversal", "gen_truncated_lora", "gen_model_corrupt", "cutout_out_not_png", "ad_bad_background",
    "ad_bad_format", "models_unknown",
    "edit_report_is_folder", "edit_out_under_file", "edit_out_read_only", "edit_output_dir_is_file",
    "edit_empty_target", "edit_device_tpu", "edit_device_cuda_without_gpu", "gen_out_is_file", "gen_report_is_folder",
    "cutout_out_is_folder", "cutout_report_is_folder", "ad_report_is_folder", "ad_out_under_file",
    "ad_pasted_headline", "models_bad_flag", "models_plan_bad_size",
]
SUCCEEDING = [n for n in ("ok_edit_cmyk_rotated_resized_mask_long_prompt", "ok_edit_empty_mask",
                          "ok_generate_long_prompt", "ok_ad_missing_glyphs_16bit")]


def no_leftovers(folder: Path) -> list[Path]:
    """Temporary files an interrupted atomic write would leave (".name.xxxx.tmp" and friends)."""
    return [f for f in folder.rglob(".*") if f.is_file()]


def run_in_process(argv, env: dict, monkeypatch, capsys) -> Outcome:
    import logging

    for key, value in {"TRANSFORMERS_VERBOSITY": "error", "DIFFUSERS_VERBOSITY": "error", **env}.items():
        monkeypatch.setenv(key, value)  # restored after the test; the CLI sets the first two itself
    if argv[0] == "editor":
        from editor.cli import main
    else:
        from models.cli import main
    handlers = list(logging.getLogger().handlers)
    started = time.monotonic()
    capsys.readouterr()
    try:
        rc = main([str(a) for a in argv[1:]])
    except SystemExit as exc:  # argparse
        rc = exc.code
    finally:
        for handler in set(logging.getLogger().handlers) - set(handlers):  # the CLI adds its log file each call
            logging.getLogger().removeHandler(handler)
            handler.close()
    captured = capsys.readouterr()
    return Outcome(rc, captured.out, captured.err, time.monotonic() - started)


def check_clean_failure(cli, name: str, o: Outcome) -> None:
    _, _, phrase, must_not_exist = cli["cases"][name]
    lines = o.stderr.strip().splitlines()
    assert o.rc == 2, (o.rc, o.stderr[-2000:])
    assert len(lines) == 1, f"stderr should be one line, got {len(lines)}:\n{o.stderr[-2000:]}"
    assert lines[0].startswith("error: ") and phrase in lines[0], lines[0]
    assert "Traceback" not in o.stderr + o.stdout
    for path in must_not_exist:
        assert not path.exists(), f"{path} was left behind"
    assert no_leftovers(cli["dir"] / "out") == []


@pytest.mark.slow
@pytest.mark.parametrize("name", IN_SUBPROCESS)
def test_bad_input_in_a_real_process_gives_one_line_exit_2_and_no_output(cli, name):
    check_clean_failure(cli, name, cli["outcomes"][name])


@pytest.mark.parametrize("name", IN_PROCESS)
def test_bad_input_gives_one_line_exit_2_and_no_output(cli, name, monkeypatch, capsys):
    argv, env, _, _ = cli["cases"][name]
    if name == "edit_device_cuda_without_gpu":
        import torch

        if torch.cuda.is_available():
            pytest.skip("this machine has a CUDA GPU")
    check_clean_failure(cli, name, run_in_process(argv, env, monkeypatch, capsys))


def test_output_paths_are_refused_before_any_work(cli, monkeypatch, capsys):
    """A bad --report is found before the photo is even read: no model is loaded, nothing is saved."""
    import editor.studio.studio as studio_module

    def no_work(*args, **kwargs):
        raise AssertionError("the job ran before its output paths were checked")

    for job in ("edit", "generate", "cutout", "make_ad"):
        monkeypatch.setattr(studio_module.Studio, job, no_work)
    for name in ("edit_report_is_folder", "gen_report_is_folder", "cutout_report_is_folder", "ad_report_is_folder",
                 "edit_output_dir_is_file"):
        argv, env, _, _ = cli["cases"][name]
        check_clean_failure(cli, name, run_in_process(argv, env, monkeypatch, capsys))


def test_editor_failures_are_logged_with_their_traceback(cli):
    log = Path(os.environ["INTACT_LOG"]).read_text(encoding="utf-8", errors="replace")
    assert "Traceback (most recent call last)" in log
    assert "is not an image Intact can read" in log


def test_a_pickled_lora_is_never_unpickled(cli):
    assert cli["outcomes"]["gen_pickled_lora"].rc == 2
    assert not (cli["dir"] / "UNPICKLED").exists()


def _ok(cli, name) -> Outcome:
    o = cli["outcomes"][name]
    assert o.rc == 0, o.stderr[-3000:]
    assert "Traceback" not in o.stderr + o.stdout
    return o


@pytest.mark.slow
def test_cmyk_exif_rotated_photo_with_a_mask_of_another_size_and_a_long_prompt_is_edited(cli):
    o = _ok(cli, "ok_edit_cmyk_rotated_resized_mask_long_prompt")
    assert "note: turned upright" in o.stdout and "note: converted from CMYK" in o.stdout
    assert "resized to the image's 48×64" in o.stdout
    out = cli["dir"] / "out"
    result = np.asarray(Image.open(out / "ok1.png"))
    assert result.shape == (64, 48, 3)  # upright, as the EXIF orientation says
    from editor.images import load_image, load_mask

    source = load_image(cli["paths"]["cmyk_rotated.jpg"])
    mask, notes = load_mask(cli["paths"]["mask_upright_double.png"], source.size)
    assert any("resized" in n for n in notes)
    keep = mask == 0
    np.testing.assert_array_equal(result[keep], source.rgb[keep])  # background bit-identical
    report = json.loads((out / "ok1.json").read_text(encoding="utf-8"))
    assert report["width"] == 48 and report["height"] == 64


@pytest.mark.slow
def test_empty_mask_returns_the_photo_unchanged(cli):
    o = _ok(cli, "ok_edit_empty_mask")
    assert "note: the mask is empty" in o.stdout
    out = np.asarray(Image.open(cli["dir"] / "out" / "ok2.png"))
    np.testing.assert_array_equal(out, np.asarray(Image.open(cli["paths"]["photo.png"])))


@pytest.mark.slow
def test_prompt_beyond_the_token_limit_is_truncated_and_reported(cli):
    o = _ok(cli, "ok_generate_long_prompt")
    assert "note: the prompt is" in o.stdout and "reads the first 32" in o.stdout
    assert "it/s" not in o.stderr and "%|" not in o.stderr  # no library progress bars: only the command's lines
    report = json.loads((cli["dir"] / "out" / "ok3.json").read_text(encoding="utf-8"))
    assert report["prompt_truncated"] is True
    assert report["prompt_tokens"] > report["max_sequence_length"] == 32
    assert len(list((cli["dir"] / "out" / "ok3").glob("*.png"))) == 1


@pytest.mark.slow
def test_glyphs_the_font_lacks_are_left_out_with_a_note_and_16_bit_products_work(cli):
    o = _ok(cli, "ok_ad_missing_glyphs_16bit")
    assert "no glyph" in o.stdout and "𝄞" in o.stdout  # a musical symbol no Korean font here has
    ad = Image.open(next((cli["dir"] / "out" / "ok4").glob("*_instagram-square.png")))
    assert ad.size == (1080, 1080)


@pytest.mark.parametrize("kv_cache", ["device", "cpu", "fp8", "int8", "none"])
def test_a_full_mask_edits_with_every_kv_cache_mode(tiny_pipe, kv_cache):
    """A mask over every token leaves no background to cache: every store must cope with that."""
    from editor.kv_edit import EditOptions, EditSession, kv_cache_modes

    assert kv_cache in kv_cache_modes()
    rgb = np.random.default_rng(1).integers(0, 256, (32, 48, 3), dtype=np.uint8)
    session = EditSession(tiny_pipe, rgb, np.ones((32, 48), np.float32), model_name="tiny")
    result = session.edit("b", EditOptions(steps=2, skip_steps=0, kv_cache=kv_cache), source_prompt="a")
    assert result.image.size == (48, 32)
    assert result.report["background_tokens"] == 0
