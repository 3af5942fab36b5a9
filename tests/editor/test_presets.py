"""Presets are data: shipped files load and validate; mistakes name the file and the line."""

from __future__ import annotations

import json

import pytest

from editor.errors import InputError
from editor.presets import CATEGORIES, get_preset, load_presets, parse_preset
from models.registry import get_spec

GOOD = {
    "name": "bakery",
    "category": "cafe",
    "label": {"en": "Bakery", "ko": "빵집"},
    "prompt": "{prompt}, fresh bread on a rustic table",
    "negative_prompt": "blurry",
    "size": [768, 1024],
    "steps": 20,
    "guidance": 4.0,
    "model_overrides": {"tiny": {"steps": 2, "size": [32, 48]}},
}


def _parse(path):
    """One preset file read as the loader reads it (the loader itself skips a broken one)."""
    return parse_preset(path, path.read_text(encoding="utf-8"))


def _write(folder, name, data, raw=None):
    path = folder / f"{name}.json"
    path.write_text(raw if raw is not None else json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")
    return path


def test_shipped_presets_cover_every_shop_category_and_the_required_shops():
    presets = load_presets()
    assert {"cafe", "restaurant", "clothing", "cosmetics", "beauty-salon", "fitness"} <= set(presets)
    assert {p.category for p in presets.values()} == set(CATEGORIES)
    for preset in presets.values():
        assert "{prompt}" in preset.prompt and preset.steps >= 1 and preset.label["ko"]
        assert preset.width % 16 == 0 and preset.height % 16 == 0


def test_adding_a_preset_is_adding_a_file(tmp_path, monkeypatch):
    _write(tmp_path, "bakery", GOOD)
    monkeypatch.setenv("INTACT_PRESETS_DIR", str(tmp_path))
    bakery = get_preset("bakery")
    assert bakery.display_name("ko") == "빵집"
    assert bakery.render("croissants") == "croissants, fresh bread on a rustic table"
    assert "cafe" in load_presets()  # shipped ones are still there


def test_model_overrides_win_over_the_preset_defaults():
    cafe = get_preset("cafe")
    dev, schnell, tiny = (cafe.settings_for(get_spec(n)) for n in ("flux-dev", "flux-schnell", "tiny"))
    assert (dev.steps, dev.guidance, dev.width) == (28, 3.5, 1024)
    assert (schnell.steps, schnell.guidance, schnell.width) == (4, 0.0, 1024)
    assert (tiny.width, tiny.height, tiny.steps) == (64, 64, 4)


def test_an_empty_user_prompt_leaves_a_clean_template():
    assert get_preset("cafe").render("  ").startswith("professional product photo")


def test_unknown_preset_lists_the_available_ones():
    with pytest.raises(InputError, match="Unknown preset 'bar'.*cafe"):
        get_preset("bar")


@pytest.mark.parametrize(
    "change, message, culprit",
    [
        ({"steps": 0}, "'steps' must be a whole number", '"steps": 0'),
        ({"guidance": "high"}, "'guidance' must be a number", '"guidance": "high"'),
        ({"size": [100, 100]}, "multiples of 16", '"size"'),
        ({"prompt": "fresh bread"}, r"\{prompt\} exactly once", '"prompt"'),
        ({"prompt": "{prompt} in {city}"}, r"no other \{\.\.\.\} fields", '"prompt"'),
        ({"category": "bank"}, "'category' must be one of", '"category"'),
        ({"colour": "red"}, "unknown field 'colour'", '"colour"'),
        ({"name": "other"}, "must match the file name 'bakery'", '"name"'),
        ({"model_overrides": {"flux-pro": {"steps": 3}}}, "unknown model 'flux-pro'", '"flux-pro"'),
        ({"model_overrides": {"tiny": {"steps": 500}}}, "'steps' must be a whole number", '"steps": 500'),
    ],
)
def test_validation_errors_name_the_file_and_the_line_of_the_culprit(tmp_path, change, message, culprit):
    path = _write(tmp_path, "bakery", dict(GOOD, **change))
    lines = path.read_text(encoding="utf-8").splitlines()
    line = next(n for n, text in enumerate(lines, start=1) if culprit in text)
    assert line > 1  # so that the check below means something
    with pytest.raises(InputError, match=message) as caught:
        _parse(path)
    # The file's name, never its folder (the message may reach a browser).
    assert str(caught.value).startswith(f"Preset file {path.name}, line {line}:")
    assert str(tmp_path) not in str(caught.value)


def test_missing_fields_are_named(tmp_path):
    data = {k: v for k, v in GOOD.items() if k != "steps"}
    _write(tmp_path, "bakery", data)
    with pytest.raises(InputError, match="missing field 'steps'"):
        _parse(tmp_path / "bakery.json")


def test_broken_json_reports_the_line_of_the_syntax_error(tmp_path):
    raw = '{\n  "name": "bakery",\n  "category": "cafe"\n  "label": {}\n}\n'
    path = _write(tmp_path, "bakery", None, raw=raw)
    with pytest.raises(InputError, match=rf"{path.name}, line 4: not valid JSON"):
        _parse(path)
