"""Bad taps are refused with one line naming the point, before anything runs."""

from __future__ import annotations

import math

import numpy as np
import pytest

from editor.errors import InputError
from editor.select.points import MAX_TAPS, Tap, as_taps, check_on_photo, parse_point
from editor.select.request import SelectRequest


def one_line(exc: InputError) -> str:
    text = str(exc)
    assert "\n" not in text and text.strip() == text and text
    return text


def test_points_are_read_as_x_comma_y():
    assert parse_point("420,310") == (420.0, 310.0)
    assert parse_point(" 12.5 , 7 ") == (12.5, 7.0)
    assert as_taps(["10,20"], ["30,40"]) == (Tap(10, 20, True), Tap(30, 40, False))


@pytest.mark.parametrize("text", ["abc", "1", "1,2,3", "", "1;2", "x,1"])
def test_a_point_that_is_not_two_numbers_is_refused(text):
    with pytest.raises(InputError) as caught:
        as_taps([text])
    assert caught.value.key == "select_bad_point" and caught.value.field == "points"
    assert "X,Y" in one_line(caught.value)


@pytest.mark.parametrize("point", [(math.nan, 3), (3, math.inf), ("nan,4", None), (-math.inf, 0)])
def test_a_point_that_is_not_a_number_is_refused(point):
    point = point[0] if point[1] is None else point
    with pytest.raises(InputError) as caught:
        as_taps([point])
    assert caught.value.key == "select_point_not_number"
    assert "not a position" in one_line(caught.value)


def test_a_bad_negative_point_names_the_negative_field():
    with pytest.raises(InputError) as caught:
        as_taps([(1, 1)], [(math.nan, 1)])
    assert caught.value.field == "negatives"


@pytest.mark.parametrize("x, y", [(-1, 5), (5, -0.5), (64, 5), (5, 48), (1e9, 1e9)])
def test_a_point_off_the_photo_is_refused_with_the_photo_size(x, y):
    with pytest.raises(InputError) as caught:
        check_on_photo(as_taps([(x, y)]), 64, 48)
    assert caught.value.key == "select_point_outside"
    assert "outside the 64×48 photo" in one_line(caught.value)


def test_the_photo_edges_are_on_the_photo():
    check_on_photo(as_taps([(0, 0), (63.9, 47.9)]), 64, 48)


def test_at_least_one_positive_tap_is_needed():
    for points, negatives in (([], []), ([], [(3, 3)])):
        with pytest.raises(InputError) as caught:
            as_taps(points, negatives)
        assert caught.value.key == "select_no_point"


def test_too_many_taps_are_refused():
    with pytest.raises(InputError) as caught:
        as_taps([(1, 1)] * (MAX_TAPS + 1))
    assert caught.value.key == "select_too_many_points"


def test_the_request_checks_its_points_and_adjustments_when_made():
    photo = np.zeros((8, 8, 3), np.uint8)
    assert SelectRequest(photo, points=[(1, 2)]).taps == (Tap(1, 2),)
    with pytest.raises(InputError):
        SelectRequest(photo, points=[(math.nan, 2)])
    with pytest.raises(InputError) as caught:
        SelectRequest(photo, points=[(1, 2)], grow_px=10_000)
    assert caught.value.field == "grow_px"
    with pytest.raises(InputError) as caught:
        SelectRequest(photo, points=[(1, 2)], feather_px=-1)
    assert caught.value.field == "feather_px"
    with pytest.raises(InputError) as caught:
        SelectRequest(None, points=[(1, 2)])
    assert caught.value.key == "no_image"
