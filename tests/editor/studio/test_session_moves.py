"""What an edit's report says when its session's inversion is not where it was: evicted by the
replica's own bound, or made on another replica (a serving front end counts the session's earlier
inversions and sends the count with each job)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from editor.studio import EditRequest, JobContext

H, W = 40, 48
FAST = dict(steps=3, skip_steps=1, seed=3, model="tiny")


@pytest.fixture
def photo_and_mask():
    rng = np.random.default_rng(5)
    photo = Image.fromarray(rng.integers(0, 256, (H, W, 3), dtype=np.uint8))
    mask = np.zeros((H, W), np.float32)
    mask[8:32, 12:36] = 1
    return photo, mask


def edit(photo, mask, target="a red cup"):
    return EditRequest(image=photo, mask=mask, source_prompt="a white cup", target_prompt=target, **FAST)


def test_a_session_new_here_that_inverted_elsewhere_says_the_replica_changed_then_reuses(studio, photo_and_mask):
    photo, mask = photo_and_mask
    moved = studio.edit(edit(photo, mask), JobContext(session="s", earlier_inversions=2)).report
    assert moved["inversion"] == "recomputed (replica changed)" and moved["reused_inversion"] is False
    again = studio.edit(edit(photo, mask, "a blue cup"), JobContext(session="s", earlier_inversions=3)).report
    assert again["inversion"] == "reused"


def test_a_first_inversion_says_computed_whatever_the_count_once_the_session_is_known_here(studio, photo_and_mask):
    photo, mask = photo_and_mask
    assert studio.edit(edit(photo, mask), JobContext(session="s")).report["inversion"] == "computed"
    other = np.asarray(photo).copy()
    other[0, 0] ^= 0xFF  # another photo of the same session, on the same replica
    report = studio.edit(edit(Image.fromarray(other), mask), JobContext(session="s", earlier_inversions=1)).report
    assert report["inversion"] == "computed"


def test_an_evicted_session_says_so_and_a_new_photo_after_that_is_a_first_inversion(studio, photo_and_mask):
    photo, mask = photo_and_mask
    studio.edit(edit(photo, mask), JobContext(session="s"))
    studio.evict("s")
    assert studio.sessions.holding_inversions == 0
    evicted = studio.edit(edit(photo, mask), JobContext(session="s", earlier_inversions=1)).report
    assert evicted["inversion"] == "recomputed (evicted to make room)"
    other = np.asarray(photo).copy()
    other[0, 0] ^= 0xFF
    assert studio.edit(edit(Image.fromarray(other), mask), JobContext(session="s")).report["inversion"] == "computed"


def test_evicting_a_session_without_an_inversion_leaves_no_trace(studio, photo_and_mask):
    photo, mask = photo_and_mask
    studio.evict("never-edited")
    report = studio.edit(edit(photo, mask), JobContext(session="never-edited")).report
    assert report["inversion"] == "computed"
