"""Selecting on a ~1 MP copy and scaling the mask back to the photo exactly."""

from __future__ import annotations

import cv2
import numpy as np

from editor.select import Selector, Tap
from editor.select.adjust import Adjustments, signed_distance
from editor.select.work_copy import SELECT_PIXELS, WorkCopy, work_copy
from tests.editor.select.conftest import cup_on_table, ellipse, iou


def test_a_photo_within_the_budget_is_used_as_it_is():
    photo = np.zeros((600, 800, 3), np.uint8)
    copy = work_copy(photo)
    assert not copy.scaled and copy.rgb.shape == photo.shape and copy.scale == 1.0


def test_a_big_photo_is_reduced_to_about_one_megapixel():
    copy = work_copy(np.zeros((3000, 4000, 3), np.uint8))
    w, h = copy.size
    assert copy.scaled and 0.95 * SELECT_PIXELS <= w * h <= 1.05 * SELECT_PIXELS
    assert abs(w / h - 4 / 3) < 0.01


def test_pixel_centres_map_onto_pixel_centres():
    copy = WorkCopy(np.zeros((100, 150, 3), np.uint8), (600, 400))  # 4× smaller
    assert copy.point(1.5, 1.5) == (0.0, 0.0)  # the centre of the photo's first 4×4 block
    assert copy.point(597.5, 397.5) == (149.0, 99.0)


def test_a_work_copy_edge_lands_exactly_on_the_photo_pixels_it_covers():
    copy = WorkCopy(np.zeros((100, 1000, 3), np.uint8), (6000, 600))  # 6 photo pixels per work pixel
    hard = np.zeros((100, 1000), bool)
    hard[:, :400] = True
    mask = copy.to_photo(signed_distance(hard)) > 0
    assert mask.shape == (600, 6000)
    assert mask[:, :2400].all() and not mask[:, 2400:].any()


def test_the_mask_of_a_24_megapixel_photo_has_its_size_and_its_object(tmp_path):
    small, _ = cup_on_table(800, 1200)
    height, width = 4000, 6000
    photo = cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)
    cup = ellipse(height, width, width * 0.45, height * 0.5, width * 0.16, height * 0.22)
    selection = Selector(model=None).select(photo, (Tap(width * 0.45, height * 0.5),))
    mask = selection.mask
    assert mask.shape == (height, width) and mask.dtype == np.float32
    assert iou(mask, cup) >= 0.97
    # Away from the object's edge (a few work-copy pixels), every photo pixel is right.
    edge_distance = np.abs(signed_distance(cup))
    scale = width / selection.report["work_size"][0]
    far = edge_distance > 6 * scale
    assert ((mask > 0.5) == cup)[far].mean() >= 0.9999
    assert selection.report["work_size"][0] * selection.report["work_size"][1] <= 1.05 * SELECT_PIXELS


def test_grow_is_in_photo_pixels_on_a_big_photo():
    small, _ = cup_on_table(480, 640)
    photo = cv2.resize(small, (3200, 2400), interpolation=cv2.INTER_LINEAR)
    selector = Selector(model=None)
    tap = (Tap(3200 * 0.45, 2400 * 0.5),)
    plain = selector.select(photo, tap).mask > 0.5
    grown = selector.select(photo, tap, Adjustments(grow_px=40)).mask > 0.5
    assert selector.select(photo, tap).report["reused_photo"]
    # The cup's outline is about 2π·sqrt(rx·ry) long: 40 px more all round adds about that times 40.
    rx, ry = 3200 * 0.16, 2400 * 0.22
    expected = 2 * np.pi * np.sqrt((rx * rx + ry * ry) / 2) * 40
    assert 0.85 * expected <= grown.sum() - plain.sum() <= 1.15 * expected
