"""The plausibility check: each way a cut-out goes wrong is named, in one plain line with a key."""

from __future__ import annotations

import numpy as np
import pytest

from editor.ad.plausibility import check_cutout
from editor.ad.samples import product_shot


def blank(h=100, w=100):
    return np.zeros((h, w), np.float32)


def test_a_product_shot_alpha_is_plausible():
    verdict = check_cutout(product_shot("plain", 160, 160).alpha)
    assert verdict.plausible and verdict.concerns == ()
    assert 0.1 < verdict.coverage < 0.4 and verdict.pieces == 1 and verdict.borders_touched == 0


def test_empty_cutout():
    verdict = check_cutout(blank())
    assert verdict.codes == ("empty",) and verdict.coverage == 0.0


def test_tiny_cutout_says_how_much_was_kept():
    alpha = blank()
    alpha[10:13, 10:13] = 1.0  # 0.09 % of the photo: a light flare
    verdict = check_cutout(alpha)
    assert "tiny" in verdict.codes
    tiny = verdict.concerns[verdict.codes.index("tiny")]
    assert tiny.values == {"percent": "0.1"} and "0.1%" in tiny.message


def test_whole_photo_kept():
    alpha = np.ones((100, 100), np.float32)
    alpha[:2, :2] = 0
    assert "whole_photo" in check_cutout(alpha).codes


def test_touching_all_four_borders_means_background_was_kept():
    alpha = blank()
    alpha[30:70, :] = 1.0
    alpha[:, 40:60] = 1.0  # a cross reaching every edge
    verdict = check_cutout(alpha)
    assert verdict.borders_touched == 4 and "touches_all_borders" in verdict.codes


def test_a_product_standing_on_the_bottom_edge_is_fine():
    alpha = blank()
    alpha[40:, 30:70] = 1.0
    assert check_cutout(alpha).plausible


def test_many_comparable_fragments():
    alpha = blank(120, 120)
    for y in (10, 50, 90):
        for x in (10, 50, 90):
            alpha[y : y + 20, x : x + 20] = 1.0
    verdict = check_cutout(alpha)
    assert verdict.pieces == 9 and "fragments" in verdict.codes
    assert verdict.concerns[verdict.codes.index("fragments")].values == {"count": 9}


def test_a_product_with_a_few_specks_is_not_fragmented():
    alpha = blank(120, 120)
    alpha[20:100, 30:90] = 1.0
    for x in (2, 6, 10, 14, 110):
        alpha[2:4, x : x + 2] = 1.0
    assert "fragments" not in check_cutout(alpha).codes


def test_a_wide_half_transparent_band_or_the_methods_own_doubt_is_unsure():
    alpha = blank()
    alpha[20:80, 20:80] = 0.5 + 0.01  # barely product, everywhere
    assert "unsure" in check_cutout(alpha).codes
    assert "unsure" in check_cutout(product_shot("plain", 96, 96).alpha, method_unsure=True).codes


@pytest.mark.parametrize("alpha", [blank(), np.ones((50, 50), np.float32)])
def test_concerns_are_one_line_with_a_catalogue_key(alpha):
    report = check_cutout(alpha).to_report()
    assert not report["plausible"]
    for concern in report["concerns"]:
        assert concern["key"] == "cutout_check." + concern["code"]
        assert "\n" not in concern["message"] and "--" not in concern["message"]
