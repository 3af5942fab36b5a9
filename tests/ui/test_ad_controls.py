"""The Ad tab's layout controls as data: colour pickers' values, controls <-> AdLayout."""

from __future__ import annotations

from editor.ad import AdLayout, TextSettings
from editor.ad.composite import PlacementRequest
from ui.ad_tab import as_hex, layout_from_controls, layout_values

BUILT = AdLayout(TextSettings("left", "left", 96, 0.45, "noto-sans-cjk-kr", "#1b1b1b", "#c0392b", "accent"),
                 PlacementRequest(0.72, 0.9, 0.75), "stack")


def test_colour_pickers_answer_in_several_notations_and_all_become_hex():
    assert as_hex("#A1B2C3") == "#a1b2c3"
    assert as_hex("#abc") == "#aabbcc"
    assert as_hex("#a1b2c3ff") == "#a1b2c3"
    assert as_hex("rgba(170, 34, 51, 1)") == "#aa2233"
    assert as_hex("rgb(0.5, 255, 12)") == "#00ff0c"
    assert as_hex("") is None and as_hex(None) is None


def test_controls_show_a_layout_and_give_it_back_unchanged():
    assert layout_from_controls(BUILT, *layout_values(BUILT)) == BUILT


def test_edited_controls_change_only_what_was_edited():
    values = list(layout_values(BUILT))
    values[2], values[4], values[7] = 80, "rgba(18, 52, 86, 1)", 0.6  # size, text colour, product height
    edited = layout_from_controls(BUILT, *values)
    assert edited.text.size == 80 and edited.text.color == "#123456" and edited.product.height == 0.6
    assert edited.text.width == BUILT.text.width and edited.logo == "stack" and edited.text.font == BUILT.text.font


def test_moving_the_text_to_another_side_lets_the_composition_place_the_product_again():
    values = list(layout_values(BUILT))
    values[0] = "right"
    moved = layout_from_controls(BUILT, *values)
    assert moved.text.position == "right" and moved.product is None and moved.text.width is None


def test_suggested_colours_are_squares_without_near_duplicates_or_anything_but_colour_codes():
    from ui.ad_tab import distinct_colours, swatches

    assert distinct_colours(["#381100", "#381101", "#ffffff", "<b>x</b>"]) == ["#381100", "#ffffff"]
    squares = swatches(["#381100", "#381101"])
    assert squares.count("<span") == 1 and "background:#381100" in squares
    assert swatches([]) == "—"


def test_the_badge_control_shows_where_the_badges_are_and_moves_them_all():
    from dataclasses import replace

    built = replace(BUILT, badges=(("new", "above"), ("discount", "beside")))
    values = list(layout_values(built))
    assert values[10] == "beside"  # the discount badge's place (the one a shop owner moves most)
    assert layout_from_controls(built, *values) == built  # shown as it is: each badge keeps its own place
    values[10] = "corner"
    moved = layout_from_controls(built, *values)
    assert dict(moved.badges) == {"new": "corner", "discount": "corner"}
    assert moved.text == built.text and moved.product == built.product  # only the badges moved
    values[10] = "none"
    assert dict(layout_from_controls(built, *values).badges) == {"new": "none", "discount": "none"}
    # A layout whose copy earned no badge yet: the place is kept for the badges it will earn.
    assert dict(layout_from_controls(BUILT, *(list(layout_values(BUILT))[:10] + ["corner"])).badges) == {
        "discount": "corner", "new": "corner"}
