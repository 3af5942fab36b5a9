"""Every option is declared once (editor/options.py) and refused the same way everywhere.

These tests walk the declaration: for each option, values just outside its limits (and NaN,
infinity, a fraction where a whole number is due) are refused by the request, by the engine's
options and by the CLI flag, with the same field named; the limits inside are accepted.
"""

from __future__ import annotations

import math

import pytest

from editor import cli
from editor.errors import InputError
from editor.kv_edit.options import EditOptions
from editor.options import EDIT_OPTIONS, GENERATE_OPTIONS, Option, edit_option_defaults
from editor.studio.requests import EditRequest, GenerateRequest, InvertRequest


def refused_values(option: Option) -> list:
    if option.kind == "flag":
        return [1, "yes", None]
    if option.kind == "choice":
        return ["", "nonsense", None]
    out = [math.nan, math.inf, -math.inf, "3"]
    if option.kind == "whole":
        out += [int(option.low) - 1, int(option.high) + 1, 1.5]
        if option.multiple_of:
            out.append(int(option.low) + 1)
    else:
        out += [option.low - 0.01, option.high + 0.01]
        if option.above_low:
            out.append(option.low)
    return [v for v in out if not (v is None and option.optional)]


def accepted_values(option: Option) -> list:
    if option.kind == "flag":
        return [True, False]
    if option.kind == "choice":
        return list(option.choices)
    kind = int if option.kind == "whole" else float
    low = option.low + (option.step if option.above_low else 0)
    return [kind(low), kind(option.high)]


def cases(options):
    return [pytest.param(o, v, id=f"{o.name}={v!r}") for o in options for v in refused_values(o)]


PHOTO = dict(image="photo.png", mask="mask.png", source_prompt="a cup", target_prompt="a red cup")


@pytest.mark.parametrize(("option", "value"), cases(EDIT_OPTIONS))
def test_an_edit_request_refuses_a_value_outside_the_declaration(option, value):
    for request in (InvertRequest, EditRequest):
        kwargs = dict(PHOTO) if request is EditRequest else {k: PHOTO[k] for k in ("image", "mask", "source_prompt")}
        with pytest.raises(InputError) as caught:
            request(**kwargs, **{option.name: value})
        assert caught.value.field == option.name


@pytest.mark.parametrize("option", EDIT_OPTIONS, ids=lambda o: o.name)
def test_an_edit_request_takes_every_value_inside_the_declaration(option):
    for value in accepted_values(option):
        EditRequest(**PHOTO, **{option.name: value})


@pytest.mark.parametrize(("option", "value"), cases(o for o in EDIT_OPTIONS if o.name not in ("kv_cache", "skip_steps")))
def test_the_engine_options_refuse_the_same_values(option, value):
    """EditOptions (what the engine trusts) holds the same limits as the request."""
    with pytest.raises(InputError) as caught:
        EditOptions(**{option.name: value})
    assert caught.value.field == option.name


@pytest.mark.parametrize(("option", "value"), cases(GENERATE_OPTIONS))
def test_a_generation_request_refuses_a_value_outside_the_declaration(option, value):
    other = {"width": 512, "height": 512}  # width and height come as a pair
    kwargs = {"prompt": "a cup", "model": "tiny", **({} if option.name not in other else other),
              option.name: value}
    if option.name == "strength":
        kwargs["image"] = "photo.png"
    with pytest.raises(InputError) as caught:
        GenerateRequest(**kwargs)
    assert caught.value.field == option.name


def numeric(options):
    return [o for o in options if o.kind in ("whole", "number")]


@pytest.mark.parametrize("option", numeric(EDIT_OPTIONS), ids=lambda o: o.name)
def test_the_cli_refuses_what_the_request_refuses_with_the_options_flag(option, tmp_path, capsys):
    too_big = int(option.high) + 1 if option.kind == "whole" else option.high + 0.5
    code = cli.main(["edit", "--image", str(tmp_path / "in.png"), "--mask", str(tmp_path / "m.png"),
                     "--source", "a cup", "--target", "a red cup", "--out", str(tmp_path / "out.png"),
                     "--output-dir", str(tmp_path / "outputs"), option.flag, str(too_big)])
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.count("\n") == 1 and f"(see {option.flag})" in err
    with pytest.raises(InputError):
        option.check(too_big)


@pytest.mark.parametrize("option", [o for o in numeric(GENERATE_OPTIONS) if o.name not in ("width", "height",
                                                                                            "style_weight")],
                         ids=lambda o: o.name)
def test_the_generate_cli_refuses_what_the_request_refuses(option, tmp_path, capsys):
    too_big = int(option.high) + 1 if option.kind == "whole" else option.high + 0.5
    code = cli.main(["generate", "--prompt", "a cup", "--model", "tiny", "--out", str(tmp_path / "out"),
                     "--output-dir", str(tmp_path / "outputs"), option.flag, str(too_big)])
    err = capsys.readouterr().err
    assert code == 2, err
    assert f"(see {option.flag})" in err


@pytest.mark.parametrize("model", ["tiny", "tiny-flux2", "tiny-zimage", "flux-dev", "flux2-klein-base-4b"])
def test_every_model_default_is_inside_the_declaration(model):
    defaults = edit_option_defaults(model)
    assert set(defaults) == {o.name for o in EDIT_OPTIONS}
    for option in EDIT_OPTIONS:
        option.check(defaults[option.name])
    EditOptions.for_model(model)  # the engine accepts them as they are


def test_skipped_steps_follow_the_step_count_unless_given():
    assert EditOptions.for_model("tiny", steps=28).skip_steps == 4
    assert EditOptions.for_model("tiny", steps=4).skip_steps == 1
    assert EditOptions.for_model("tiny", steps=28, skip_steps=0).skip_steps == 0


def test_one_limit_per_option_name_across_jobs():
    """An option that two jobs share (steps, guidance, seed, speed) has the same limits in both."""
    edit = {o.name: o for o in EDIT_OPTIONS}
    for option in GENERATE_OPTIONS:
        if option.name in edit:
            other = edit[option.name]
            assert (option.kind, option.low, option.high, option.choices) == \
                   (other.kind, other.low, other.high, other.choices), option.name
