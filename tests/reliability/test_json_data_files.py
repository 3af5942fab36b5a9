"""Every JSON file the project reads goes through one reader (`models.data_files`) with a size cap
and a depth cap: a 100,000-deep file is refused before `json.loads` recurses, NaN and infinity are
refused where numbers must be finite, and a broken data file (preset, style, backdrop, brand kit)
never stops the app or the CLI from starting: it is skipped and listed like the others. Data files
are held to the limits a request has (a preset prompt, a brand name)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEEP_OBJECT = '{"a":' * 100_000 + "1" + "}" * 100_000
DEEP_ARRAY = "[" * 200_000 + "]" * 200_000


def _cli(*args: str, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "HF_HUB_OFFLINE": "1", **(env or {})})


@pytest.mark.parametrize("text, words", [
    (DEEP_OBJECT, "nested more than 32 levels"),
    (DEEP_ARRAY, "nested more than 32 levels"),
    ('{"a": NaN}', "NaN is not allowed"),
    ('{"a": -Infinity}', "-Infinity is not allowed"),
    ('{"a": 1e400}', "numbers must be finite"),
    ('{"a": ', "not valid JSON"),
])
def test_the_one_reader_refuses_deep_nesting_and_non_finite_numbers_with_one_line(text, words):
    from models.data_files import JsonFileError, parse_json

    with pytest.raises(JsonFileError, match=words) as info:
        parse_json(text)
    assert "\n" not in str(info.value)


def test_brackets_inside_strings_do_not_count_as_nesting():
    from models.data_files import parse_json

    assert parse_json('{"a": "' + "[" * 10_000 + '"}') == {"a": "[" * 10_000}


def test_the_reader_refuses_a_big_file_a_fifo_and_a_folder_at_once(tmp_path):
    from models.data_files import JsonFileError, read_json_file

    big = tmp_path / "big.json"
    big.write_text("[" + "1," * 600_000 + "1]")
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    for path, words in ((big, "bytes; at most"), (fifo, "named pipe"), (tmp_path, "a folder")):
        with pytest.raises(JsonFileError, match=words):
            read_json_file(path)  # a FIFO would block a plain open forever


@pytest.fixture
def deep_data(tmp_path, monkeypatch):
    """A deep preset, a deep style, a NaN backdrop and a brand kit with a 100,000-character name,
    each where the app finds it; the shipped files stay usable."""
    import editor.ad.backgrounds as bglib

    presets, styles, backdrops, brands = (tmp_path / n for n in ("presets", "styles", "backdrops", "brands"))
    presets.mkdir()
    styles.mkdir()
    (presets / "deep.json").write_text(DEEP_OBJECT)
    long_prompt = json.loads((ROOT / "assets" / "presets" / "cafe.json").read_text(encoding="utf-8"))
    long_prompt.update(name="long", prompt="{prompt} " + "x" * 100_000)
    (presets / "long.json").write_text(json.dumps(long_prompt))
    (styles / "deep.json").write_text(DEEP_ARRAY)
    shutil.copytree(bglib.BACKDROP_DIR, backdrops)
    (backdrops / "nan.json").write_text('{"kind": "solid", "colors": ["#ffffff"], "shadow": {"contact": NaN}}')
    (backdrops / "nan-text.json").write_text('{"kind": "solid", "colors": ["#ffffff"], "shadow": {"drop": "nan"}}')
    name = "가" * 100_000
    for key, body in (("long", {"version": 1, "name": name}), ("deep", None), ("ok", {"version": 1, "name": "OK"})):
        (brands / key).mkdir(parents=True)
        (brands / key / "brand.json").write_text(DEEP_ARRAY if body is None else json.dumps(body, ensure_ascii=False))
    monkeypatch.setenv("INTACT_PRESETS_DIR", str(presets))
    monkeypatch.setenv("INTACT_STYLES_DIR", str(styles))
    monkeypatch.setenv("INTACT_BRAND_DIR", str(brands))
    monkeypatch.setattr(bglib, "BACKDROP_DIR", backdrops)
    return tmp_path


def test_deep_nan_and_oversized_data_files_are_skipped_and_listed_never_fatal(deep_data):
    from editor.ad.backgrounds import list_backdrops
    from editor.presets import load_presets
    from editor.studio import Studio, StudioConfig
    from models.lora import load_styles

    problems = {p.file: p for p in Studio(StudioConfig(output_dir=deep_data / "out")).data_problems()}
    assert "nested more than 32 levels" in problems["deep.json"].message
    assert "'prompt' has 100009 characters; at most 4000" in problems["long.json"].message
    assert "NaN is not allowed" in problems["nan.json"].message
    assert "not a finite number" in problems["nan-text.json"].message
    assert problems["long/brand.json"].kind == "brand" and "at most 60" in problems["long/brand.json"].message
    assert "nested more than" in problems["deep/brand.json"].message
    for problem in problems.values():
        assert "\n" not in problem.line() and str(deep_data) not in problem.line() and len(problem.line()) < 300
    assert "cafe" in load_presets() and "realism" in load_styles() and "studio-white" in list_backdrops()
    from editor.ad.brand import BrandStore

    assert BrandStore().names() == ["OK"]  # the 100,000-character name is never offered


def test_the_app_builds_with_deep_data_files(deep_data):
    import app as app_module

    args = app_module.build_parser().parse_args(["--model", "tiny", "--output-dir", str(deep_data / "out")])
    app_module.create_demo(app_module.config_from_args(args))  # before: RecursionError and exit


def test_the_cli_refuses_a_deep_layout_and_a_fifo_layout_in_one_line(tmp_path):
    from PIL import Image

    photo = tmp_path / "cup.png"
    Image.new("RGB", (64, 48), "white").save(photo)
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 120_000 + "]" * 120_000)  # under the layout's 256 KB, far over json.loads' recursion
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)
    for layout, words in ((deep, "nested more than 32 levels"), (fifo, "The layout file cannot be read")):
        done = _cli("editor", "ad", "--product", str(photo), "--headline", "x", "--layout", str(layout),
                    "--out", str(tmp_path / "out"), "--output-dir", str(tmp_path / "rec"), timeout=60)
        assert done.returncode == 2, done.stderr
        [line] = done.stderr.strip().splitlines()
        assert line.startswith("error:") and words in line
        assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


@pytest.mark.parametrize("value", ["inf", "-5", "nan", "1e400", "abc"])
def test_plan_refuses_a_memory_budget_that_is_not_a_finite_non_negative_number(value):
    done = _cli("models", "plan", "--model", "flux-dev", "--gpu-gb", value, timeout=60)
    assert done.returncode == 2
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("error: argument --gpu-gb: a memory budget is a number of GB from 0")
