"""A LoRA file full of NaN (or infinity) is refused with a clear message before it touches the shared
model; a generation that still comes out blank (numbers that overflow on the way) says so instead of
saving black pictures."""

from __future__ import annotations

import math

import pytest
import torch

from editor.errors import IntactError
from tests.models.test_lora import make_lora


def poisoned_lora(folder, pipe, name: str, value: float):
    """A real tiny LoRA whose every lora_B weight is `value`."""
    from safetensors.torch import load_file, save_file

    path = make_lora(folder, name, pipe.transformer.config, seed=5)
    tensors = load_file(path)
    for key in tensors:
        if "lora_B" in key:
            tensors[key] = torch.full_like(tensors[key], value)
    save_file(tensors, path)
    return path


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_a_lora_file_with_invalid_numbers_is_refused_naming_it(tmp_path, tiny_pipe, value):
    from models.lora import check_lora_values, read_lora_file

    path = poisoned_lora(tmp_path, tiny_pipe, "broken", value)
    read_lora_file(path)  # a well-formed safetensors LoRA...
    with pytest.raises(IntactError) as caught:
        check_lora_values(path)  # ...whose numbers are not
    assert caught.value.key == "lora_invalid_values" and caught.value.field == "style"
    assert "'broken.safetensors' holds invalid numbers" in str(caught.value) and str(tmp_path) not in str(caught.value)


def test_a_nan_style_never_reaches_the_model_and_nothing_is_saved(studio, tmp_path, tiny_pipe, monkeypatch):
    from editor.studio import GenerateRequest, JobContext

    poisoned_lora(tmp_path, tiny_pipe, "poison", math.nan)
    monkeypatch.setenv("INTACT_STYLES_DIR", str(tmp_path))
    weights = {k: v.clone() for k, v in tiny_pipe.transformer.state_dict().items()}
    with pytest.raises(IntactError, match="holds invalid numbers") as caught:
        studio.generate(GenerateRequest(prompt="a cup", model="tiny", style="poison", steps=1, width=32, height=32,
                                        seed=1), JobContext())
    assert caught.value.key == "lora_invalid_values"
    assert studio.store.history() == []
    assert studio.manager.styles.loaded == []  # not loaded as an adapter...
    after = tiny_pipe.transformer.state_dict()
    assert all(torch.equal(weights[k], after[k]) for k in weights)  # ...and the base weights are untouched
    # The next generation, without the style, works.
    outcome = studio.generate(GenerateRequest(prompt="a cup", model="tiny", steps=1, width=32, height=32, seed=1),
                              JobContext())
    assert len(outcome.images) == 1


def test_a_generation_that_overflows_to_black_says_so_and_saves_nothing(studio, tmp_path, tiny_pipe, monkeypatch):
    """Finite but enormous LoRA weights pass the file check and overflow inside the model (NaN):
    the pictures decode to pure black. They are never saved as if they were a result."""
    from editor.studio import GenerateRequest, JobContext

    poisoned_lora(tmp_path, tiny_pipe, "overflow", 1e30)
    monkeypatch.setenv("INTACT_STYLES_DIR", str(tmp_path))
    with pytest.raises(IntactError) as caught:
        studio.generate(GenerateRequest(prompt="a cup", model="tiny", style="overflow", steps=1, width=32, height=32,
                                        seed=1), JobContext())
    assert caught.value.key == "blank_output" and "Nothing was saved" in str(caught.value)
    assert studio.store.history() == []
    assert not studio.store.jobs_dir.exists() or list(studio.store.jobs_dir.iterdir()) == []


def test_when_only_some_pictures_are_blank_the_report_says_how_many_were_left_out():
    import numpy as np
    from PIL import Image

    from editor.studio.studio import _without_blank_pictures

    good, black = Image.fromarray(np.full((4, 4, 3), 7, np.uint8)), Image.new("RGB", (4, 4))
    report = {"num_images": 3}
    assert _without_blank_pictures([good, black, good], report) == [good, good]
    assert report["blank_images"] == 1 and report["num_images"] == 2
    assert "1 of 3 pictures came out blank" in report["notes"][0]
