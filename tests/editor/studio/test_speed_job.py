"""The speed setting through the Studio: generation runs with the family's step cache and leaves the
shared transformer exact; an edit keeps keyframes, and both plan for it and say so in the report."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from editor.errors import InputError
from editor.generate import GenerateRequest
from editor.studio import EditRequest
from models.speed import active_step_caches


def _generate(studio, **kw):
    request = GenerateRequest(**{"prompt": "a cup of coffee", "model": "tiny", "seed": 7, "steps": 14,
                                 "width": 32, "height": 48, **kw})
    return studio.generate(request)


def test_a_fast_generation_uses_the_step_cache_and_the_next_exact_one_is_unchanged(studio, tiny_pipe):
    before = np.asarray(_generate(studio).images[0])
    fast = _generate(studio, speed="fast")
    assert fast.report["speed"]["setting"] == "fast"
    assert fast.report["speed"]["step_cache"].startswith("TaylorSeer")
    assert "torch.compile runs on CUDA only" in fast.report["speed"]["not_applied"]
    assert active_step_caches(tiny_pipe.transformer) == []
    exact = _generate(studio)
    assert exact.report["speed"]["step_cache"] is None
    np.testing.assert_array_equal(np.asarray(exact.images[0]), before)


def test_a_fast_edit_keeps_keyframes_plans_for_them_and_keeps_the_background(studio):
    rng = np.random.default_rng(2)
    photo = Image.fromarray(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8))
    mask = np.zeros((48, 64), np.float32)
    mask[8:40, 16:48] = 1
    request = EditRequest(image=photo, mask=mask, source_prompt="a white cup", target_prompt="a red cup",
                          steps=8, skip_steps=1, seed=3, model="tiny", speed="fast")
    outcome = studio.edit(request)
    report = outcome.report
    assert report["speed"] == "fast" and report["elastic_keyframes"]["kept_share"] <= 1.0
    assert_plain_json(report)  # the app shows it as JSON, strictly (no number keys)
    assert "keyframes only" in report["memory_plan"]["explanation"]
    np.testing.assert_array_equal(np.asarray(outcome.image)[mask == 0], np.asarray(photo)[mask == 0])


@pytest.mark.parametrize("make", [
    lambda: GenerateRequest(prompt="a cup", model="tiny", speed="warp"),
    lambda: EditRequest(image=np.zeros((8, 8, 3), np.uint8), mask=np.ones((8, 8), np.float32),
                        target_prompt="a cup", speed="warp"),
])
def test_an_unknown_speed_is_refused_at_the_port(make):
    with pytest.raises(InputError, match="speed setting") as caught:
        make()
    assert caught.value.field == "speed"


def assert_plain_json(value, where="report"):
    if isinstance(value, dict):
        for key, item in value.items():
            assert isinstance(key, str), f"{where} has a {type(key).__name__} key: {key!r}"
            assert_plain_json(item, f"{where}.{key}")
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            assert_plain_json(item, f"{where}[{i}]")
