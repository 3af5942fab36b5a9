"""`python -m editor select`: a mask PNG from points, and one-line errors (exit 2) for bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from editor.cli import main
from tests.editor.select.conftest import cup_on_table, iou


@pytest.fixture
def photo(tmp_path):
    image, cup = cup_on_table()
    Image.fromarray(image).save(tmp_path / "cup.jpg", quality=95)
    return tmp_path / "cup.jpg", cup


def test_select_writes_the_mask_and_a_report(tmp_path, photo, capsys):
    path, cup = photo
    code = main(["select", "--image", str(path), "--point", "290,250", "--out", str(tmp_path / "mask.png"),
                 "--report", str(tmp_path / "r.json")])
    assert code == 0
    mask = np.asarray(Image.open(tmp_path / "mask.png"))
    assert mask.shape == cup.shape and set(np.unique(mask)) <= {0, 255}
    assert iou(mask > 127, cup) >= 0.95
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["method"] == "graph cut" and report["width"] == 640
    assert "wrote" in capsys.readouterr().out


def test_negative_points_grow_and_invert_are_taken(tmp_path, photo):
    path, cup = photo
    code = main(["select", "--image", str(path), "--point", "290,250", "--negative", "40,40", "--grow", "5",
                 "--feather", "4", "--invert", "--out", str(tmp_path / "rest.png")])
    assert code == 0
    rest = np.asarray(Image.open(tmp_path / "rest.png"))
    assert iou(rest > 127, ~cup) >= 0.93 and ((rest > 0) & (rest < 255)).any()


@pytest.mark.parametrize("flags, says", [
    (["--point", "700,10"], "error: The point (700, 10) is outside the 640×480 photo. (see --point)"),
    (["--point", "nan,3"], "error: The point (nan, 3) is not a position on the photo: x and y must be numbers. "
                           "(see --point)"),
    (["--point", "abc"], "error: A point is X,Y in photo pixels (for example 420,310); got 'abc'. (see --point)"),
    (["--negative", "3,3"], "error: Tap the thing to select first (at least one point on it). (see --point)"),
    (["--point", "5,5", "--negative", "5,-1"], "error: The point (5, -1) is outside the 640×480 photo. "
                                                "(see --negative)"),
    (["--point", "5,5", "--grow", "9999"], "error: grow must be a whole number from -512 to 512; got 9999. "
                                           "(see --grow)"),
])
def test_bad_points_get_one_line_and_nothing_is_written(tmp_path, photo, capsys, flags, says):
    path, _ = photo
    code = main(["select", "--image", str(path), *flags, "--out", str(tmp_path / "mask.png")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err == says
    assert not (tmp_path / "mask.png").exists()


def test_a_missing_photo_and_a_wrong_output_kind_are_one_line(tmp_path, photo, capsys):
    assert main(["select", "--image", str(tmp_path / "nope.jpg"), "--point", "1,1",
                 "--out", str(tmp_path / "m.png")]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
    path, _ = photo
    assert main(["select", "--image", str(path), "--point", "1,1", "--out", str(tmp_path / "m.jpg")]) == 2
    assert "(see --out)" in capsys.readouterr().err
