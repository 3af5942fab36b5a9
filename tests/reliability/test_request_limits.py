"""Every text a client sends has a length limit stated once (editor/limits.py), and every request
refuses a bad field when it is made: one line naming the field, in microseconds, before a queue
slot, a cut-out or a model is touched."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest

from editor.errors import InputError
from editor.limits import MAX_AD_FORMATS, MAX_AD_TEXT_CHARS, MAX_NAME_CHARS, MAX_PROMPT_CHARS
from editor.studio import AdRequest, CutoutRequest, EditRequest, GenerateRequest, InvertRequest

PHOTO = np.zeros((8, 8, 3), np.uint8)
MASK = np.ones((8, 8), np.float32)
PAGE = "가" * 10_000  # a pasted page: 10,000 characters


def ad(**changes) -> AdRequest:
    return AdRequest(**{"product": PHOTO, "headline": "New", **changes})


def refused(make) -> InputError:
    started = time.perf_counter()
    with pytest.raises(InputError) as caught:
        make()
    seconds = time.perf_counter() - started
    assert seconds < 1.0, f"took {seconds:.2f} s to refuse"  # the bound; it takes microseconds
    message = str(caught.value)
    assert "\n" not in message and len(message) < 300, message  # one short line, not the pasted text back
    return caught.value


@pytest.mark.parametrize("field", sorted(set(MAX_AD_TEXT_CHARS) - {"old_price"}))
def test_a_pasted_page_of_ad_copy_is_refused_when_the_request_is_made(field):
    error = refused(lambda: ad(**{field: PAGE}))
    assert error.key == "text_too_long" and error.field == field
    assert f"at most {MAX_AD_TEXT_CHARS[field]}" in str(error)
    ad(**{field: "가" * MAX_AD_TEXT_CHARS[field]})  # exactly at the limit is fine


@pytest.mark.parametrize("make, field", [
    (lambda: ad(background_prompt="a" * (MAX_PROMPT_CHARS + 1)), "background_prompt"),
    (lambda: ad(model="m" * 10_000), "model"),
    (lambda: ad(preset="p" * 10_000), "preset"),
    (lambda: ad(backdrop="s" * 10_000), "backdrop"),
    (lambda: ad(accent="#" * 10_000), "accent"),
    (lambda: ad(remover="r" * 10_000), "remover"),
    (lambda: ad(formats=("x" * 10_000,)), "formats"),
    (lambda: ad(formats=("instagram-square",) * (MAX_AD_FORMATS + 1)), "formats"),
    (lambda: ad(formats="instagram-square"), "formats"),  # a name, not a list of names
    (lambda: ad(formats=()), "formats"),
    (lambda: ad(seed=math.nan), "seed"),
    (lambda: ad(seed=-1), "seed"),
    (lambda: ad(steps=math.nan), "steps"),
    (lambda: ad(scale=math.nan), "scale"),
    (lambda: ad(scale=7.0), "scale"),
    (lambda: ad(around_product="yes"), "around_product"),
])
def test_every_other_ad_field_is_bounded(make, field):
    assert refused(make).field == field


@pytest.mark.parametrize("make, field", [
    (lambda: EditRequest(image=PHOTO, mask=MASK, source_prompt="a", target_prompt=PAGE * 100), "target_prompt"),
    (lambda: EditRequest(image=PHOTO, mask=MASK, source_prompt=PAGE, target_prompt="b"), "source_prompt"),
    (lambda: EditRequest(image=PHOTO, mask=MASK, target_prompt=""), "target_prompt"),
    (lambda: InvertRequest(image=PHOTO, mask=MASK, model="x" * 10_000), "model"),
    (lambda: InvertRequest(image=PHOTO, mask=MASK, steps=math.nan), "steps"),
    (lambda: InvertRequest(image=PHOTO, mask=MASK, guidance=math.inf), "guidance"),
    (lambda: CutoutRequest(image=PHOTO, remover="r" * 10_000), "remover"),
    (lambda: GenerateRequest(prompt=PAGE), "prompt"),
    (lambda: GenerateRequest(prompt="a", negative_prompt=PAGE), "negative_prompt"),
    (lambda: GenerateRequest(prompt="a", preset="p" * 10_000), "preset"),
    (lambda: GenerateRequest(prompt="a", style="s" * 10_000), "style"),
])
def test_studio_requests_refuse_oversized_text_and_bad_numbers(make, field):
    assert refused(make).field == field


def test_a_refused_value_is_quoted_short_in_the_message():
    error = refused(lambda: CutoutRequest(image=PHOTO, remover="y" * (MAX_NAME_CHARS - 1)))
    assert "y" * 70 not in str(error) and "…" in str(error)


def test_every_ad_text_field_of_the_request_has_a_limit():
    """No free text in an ad request escapes the limits (a field added later must be given one)."""
    from dataclasses import fields

    from editor.ad.request_checks import NAME_FIELDS

    pictures = {"product", "background", "mask_add", "mask_remove"}
    structured = {"formats", "placement", "seed", "steps", "scale", "around_product", "out_dir", "layouts", "brand",
                  "design"}  # design: a whole number from 1, checked by the workflow
    bounded = set(MAX_AD_TEXT_CHARS) | set(NAME_FIELDS) | {"background_prompt"}
    unbounded = {f.name for f in fields(AdRequest)} - pictures - structured - bounded
    assert unbounded == set()


def test_the_ad_tabs_nan_seed_is_refused_with_the_requests_message():
    """The Ad tab used to turn a NaN seed into 'Something went wrong: ValueError' (int(nan))."""
    from PIL import Image

    from ui.ad_tab import AdInputs, build_request

    inputs = AdInputs(Image.new("RGB", (8, 8)), None, "offline", "backdrop", None, "studio-white", "", "", "tiny",
                      math.nan, "New", "", "", "", ["instagram-square"], 1.0)
    error = refused(lambda: build_request(inputs))
    assert error.field == "seed" and error.key == "bad_whole"
