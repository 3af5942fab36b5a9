"""One broken data file (a truncated style JSON, a preset with an unknown key, a broken ad backdrop) is skipped with a warning naming its path in the log, listed by `Studio.data_problems()`
(file names only, for the Status tab), and never stops the app or the CLI from starting."""

from __future__ import annotations

import json
import logging
import re
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def broken_data(tmp_path, monkeypatch):
    """A styles folder with a truncated JSON, a presets folder with an unknown key, and a copy of the
    ad backdrops with one broken file, each where the app finds it."""
    styles = tmp_path / "styles"
    styles.mkdir()
    (styles / "film.json").write_text('{"display_name": "Film", "trigger_wo', encoding="utf-8")  # truncated
    presets = tmp_path / "presets"
    presets.mkdir()
    data = json.loads((ROOT / "assets" / "presets" / "cafe.json").read_text(encoding="utf-8"))
    data.update(name="bakery", colour="red")  # an unknown key
    (presets / "bakery.json").write_text(json.dumps(data, indent=2), encoding="utf-8")
    backgrounds = tmp_path / "backdrops"
    import editor.ad.backgrounds as bglib

    shutil.copytree(bglib.BACKDROP_DIR, backgrounds)
    (backgrounds / "neon.json").write_text('{"kind": "laser", "colors": ["#ff00ff"]}', encoding="utf-8")
    monkeypatch.setenv("INTACT_STYLES_DIR", str(styles))
    monkeypatch.setenv("INTACT_PRESETS_DIR", str(presets))
    monkeypatch.setattr(bglib, "BACKDROP_DIR", backgrounds)
    return tmp_path


def test_the_studio_lists_each_broken_file_by_name_with_one_line_and_no_folder(broken_data, caplog):
    from editor.studio import Studio, StudioConfig

    studio = Studio(StudioConfig(output_dir=broken_data / "out"))
    with caplog.at_level(logging.WARNING):
        problems = studio.data_problems()
    by_file = {p.file: p for p in problems}
    assert set(by_file) == {"film.json", "bakery.json", "neon.json"}
    assert by_file["film.json"].kind == "style" and "not valid JSON" in by_file["film.json"].message
    assert by_file["bakery.json"].kind == "preset" and "unknown field 'colour'" in by_file["bakery.json"].message
    assert by_file["neon.json"].kind == "backdrop" and "kind must be one of" in by_file["neon.json"].message
    for problem in problems:
        assert str(broken_data) not in problem.line() and "\n" not in problem.line()
    # The operator finds each file by its full path in the log.
    for name in ("styles/film.json", "presets/bakery.json", "backdrops/neon.json"):
        assert any(str(broken_data / name) in r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)


def test_the_other_files_stay_usable_and_asking_for_a_broken_one_says_why(broken_data):
    from editor.ad.backgrounds import list_backdrops
    from editor.errors import InputError
    from editor.presets import get_preset, load_presets
    from models.lora import get_style, load_styles

    assert "realism" in load_styles() and "film" not in load_styles()
    assert "cafe" in load_presets() and "bakery" not in load_presets()
    assert "studio-white" in list_backdrops() and "neon" not in list_backdrops()
    with pytest.raises(InputError, match=r"Preset 'bakery' cannot be used: bakery.json: line \d+: unknown field"):
        get_preset("bakery")
    with pytest.raises(InputError, match="Style 'film' cannot be used: film.json: not valid JSON"):
        get_style("film")


def test_the_app_builds_and_its_status_tab_lists_the_skipped_files(broken_data, caplog):
    import app as app_module
    from ui.app_state import Services
    from ui.status import status_markdown, works_markdown

    args = app_module.build_parser().parse_args(["--model", "tiny", "--output-dir", str(broken_data / "out")])
    config = app_module.config_from_args(args)
    with caplog.at_level(logging.WARNING):
        app_module.create_demo(config)  # before: a traceback and exit 1
    assert any("3 data file(s) skipped" in r.getMessage() for r in caplog.records)
    services = Services(config)
    problems = services.studio.data_problems()
    owner = works_markdown(services, "ko", problems)  # the shop owner sees which files, in Korean, by name only
    assert "건너뛴 데이터 파일" in owner
    assert "- 프리셋 파일 `bakery.json`: 읽을 수 없어" in owner and "- 스타일 파일 `film.json`" in owner
    assert "- 광고 배경 파일 `neon.json`" in owner
    section = owner[owner.index("### 건너뛴"):]
    words = re.sub(r"`[^`]*`", "", section)  # file names are quoted content, not words
    assert not re.findall(r"[A-Za-z]{2,}", words), words
    operator = status_markdown(services, "ko", problems)  # the operator reads why (the log adds the folder)
    assert "- preset bakery.json: line" in operator and "- style film.json:" in operator
    assert "- backdrop neon.json:" in operator
    assert str(broken_data) not in owner + operator


def test_the_cli_starts_and_runs_with_broken_data_files(broken_data, capsys):
    from editor.cli import main

    out = broken_data / "images"
    rc = main(["generate", "--model", "tiny", "--prompt", "a cup", "--steps", "1", "--size", "32x32", "--seed", "1",
               "--out", str(out), "--output-dir", str(broken_data / "records")])
    assert rc == 0, capsys.readouterr().err
    assert len(list(out.glob("*.png"))) == 1
    rc = main(["ad", "--help"])  # the ad command lists the backdrops when it is built
    assert rc == 0 and "neon" not in capsys.readouterr().out
