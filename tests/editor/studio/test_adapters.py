"""Step 4 of every job: the LoRA state is set for *this* request. A style one user chose must never
reach another user's edit, ad background or plain generation (the app shares one transformer)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from editor.ad.samples import product_shot
from editor.studio import AdRequest, EditRequest, GenerateRequest, JobContext, Studio, StudioConfig
from editor.studio.memory import MemoryPolicy
from models.manager import ModelManager
from models.memory.planner import GB, MemoryBudget
from tests.models.test_lora import make_lora

BUDGET = MemoryBudget(0, 16 * GB, "test: no GPU, 16 GB RAM")


def fresh_studio(tmp_path, name: str) -> Studio:
    """A Studio whose manager loads `tiny` from its folder, as the app does."""
    studio = Studio(StudioConfig(output_dir=tmp_path / name), manager=ModelManager(device="cpu"))
    studio.memory = MemoryPolicy(budget=BUDGET)
    return studio


def others_jobs(studio: Studio) -> dict[str, np.ndarray]:
    """Another user's jobs, none of which asks for a style."""
    rng = np.random.default_rng(5)
    photo = rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)
    mask = np.zeros((48, 64), np.float32)
    mask[8:40, 16:48] = 1
    ctx = JobContext(session="other user")
    edit = studio.edit(EditRequest(image=photo, mask=mask, source_prompt="a cup", target_prompt="a red cup",
                                   model="tiny", steps=3, seed=1), ctx)
    ad = studio.make_ad(AdRequest(product=product_shot("plain", 96, 96).rgb, headline="신메뉴", model="tiny",
                                  background_prompt="a wooden table", steps=2, scale=0.1), ctx)
    generated = studio.generate(GenerateRequest(prompt="a cup of coffee", model="tiny", seed=3, steps=2, width=32,
                                                height=32), ctx)
    return {"edit": np.asarray(edit.image), "ad": np.asarray(ad.images["instagram-square"]),
            "generate": np.asarray(generated.images[0])}


@pytest.mark.slow
def test_a_style_applied_by_one_users_generate_never_reaches_another_users_jobs(tmp_path, monkeypatch, tiny_pipe):
    make_lora(tmp_path, "film", tiny_pipe.transformer.config, seed=1)
    monkeypatch.setenv("INTACT_STYLES_DIR", str(tmp_path))

    shared = fresh_studio(tmp_path, "shared")
    styled = shared.generate(GenerateRequest(prompt="a cup of coffee", model="tiny", seed=3, steps=2, width=32,
                                             height=32, style="film"), JobContext(session="first user"))
    assert styled.report["style"] == {"name": "film", "weight": 1.0}
    after_style = others_jobs(shared)
    never_styled = others_jobs(fresh_studio(tmp_path, "fresh"))
    for job, pixels in after_style.items():
        np.testing.assert_array_equal(pixels, never_styled[job], err_msg=f"the style leaked into the {job} job")
    # ...and the style really changes pictures, so the comparison above could fail.
    assert np.abs(np.asarray(styled.images[0], np.int16) - after_style["generate"].astype(np.int16)).max() > 0


def test_an_edit_with_a_style_changes_the_region_and_reports_it(studio, tmp_path, monkeypatch, tiny_pipe):
    make_lora(tmp_path, "film", tiny_pipe.transformer.config, seed=1)
    monkeypatch.setenv("INTACT_STYLES_DIR", str(tmp_path))
    photo = Image.fromarray(np.random.default_rng(1).integers(0, 256, (48, 64, 3), dtype=np.uint8))
    mask = np.zeros((48, 64), np.float32)
    mask[8:40, 16:48] = 1
    base = studio.edit(EditRequest(image=photo, mask=mask, target_prompt="a red cup", model="tiny", steps=3))
    styled = studio.edit(EditRequest(image=photo, mask=mask, target_prompt="a red cup", model="tiny", steps=3,
                                     style="film", style_weight=0.8))
    assert styled.report["style"] == {"name": "film", "weight": 0.8} and base.report["style"] is None
    assert np.abs(np.asarray(styled.image, np.int16) - np.asarray(base.image, np.int16)).max() > 0
