"""The option controls come from the one declaration (editor/options.py): same limits, same
steps, expert settings in the one closed section, and a label and help text in both languages."""

from __future__ import annotations

import gradio as gr
import pytest

from editor.errors import InputError
from editor.options import EDIT_OPTIONS, GENERATE_OPTIONS, Option, edit_option_defaults
from ui.i18n import EN, KO
from ui.option_controls import option_control, option_controls


@pytest.mark.parametrize("option", EDIT_OPTIONS + GENERATE_OPTIONS, ids=lambda o: o.name)
def test_each_control_offers_exactly_what_the_request_accepts(option):
    with gr.Blocks():
        control = option_control(option, edit_option_defaults("tiny").get(option.name, option.default))
    if option.kind == "flag":
        assert isinstance(control, gr.Checkbox)
    elif option.kind == "choice":
        assert [value for _, value in control.choices] == list(option.choices)
        for value in option.choices:
            option.check(value)
    else:
        assert (control.minimum, control.maximum) == (option.low, option.high)
        if isinstance(control, gr.Slider):
            assert control.step == option.step
        # The ends the control offers are accepted; one step beyond either is refused.
        for value in (option.high,) + (() if option.above_low else (option.low,)):
            option.check(int(value) if option.kind == "whole" else float(value))
        for value in (option.low - (option.step or 1), option.high + (option.step or 1)):
            with pytest.raises(InputError):
                option.check(int(value) if option.kind == "whole" else float(value))
    assert option.label in EN and option.label in KO and option.help in EN and option.help in KO


def test_expert_settings_sit_in_one_closed_section_and_everyday_ones_outside_it():
    with gr.Blocks():
        controls = option_controls(EDIT_OPTIONS, edit_option_defaults("tiny"), "t")
    sections = {name: accordion_of(control) for name, control in controls.items()}
    expert_parents = {sections[o.name] for o in EDIT_OPTIONS if o.expert}
    assert len(expert_parents) == 1
    [section] = expert_parents
    assert isinstance(section, gr.Accordion) and section.open is False
    assert all(sections[o.name] is None for o in EDIT_OPTIONS if not o.expert)


def accordion_of(block):
    """The closest Accordion around `block` (gradio puts form controls into a Form first)."""
    while block is not None and not isinstance(block, gr.Accordion):
        block = block.parent
    return block


def test_a_long_whole_number_range_is_a_number_box_and_an_automatic_value_an_empty_one():
    with gr.Blocks():
        seed = option_control(Option("seed", "whole", 42, 0, 2**32 - 1, 1))
        automatic = option_control(Option("steps", "whole", None, 1, 100, 1, optional=True))
    assert isinstance(seed, gr.Number) and seed.value == 42
    assert isinstance(automatic, gr.Number) and automatic.value is None
