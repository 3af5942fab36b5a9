"""The registry's new models and the family facts: licences, guidance, defaults, `auto`."""

from __future__ import annotations

import pytest

from editor.kv_edit import EditOptions
from models.families import FAMILIES, cfg_active, supports, task_inputs
from models.registry import MODELS, NON_COMMERCIAL, get_spec, preferred_model
from models.vocabulary import CFG, EMBEDDED, KV_EDIT, NO_GUIDANCE, TASKS


def test_the_apache_models_are_registered_with_their_defaults():
    klein, base, zimage = get_spec("flux2-klein-4b"), get_spec("flux2-klein-base-4b"), get_spec("z-image-turbo")
    assert (klein.repo_id, base.repo_id, zimage.repo_id) == (
        "black-forest-labs/FLUX.2-klein-4B", "black-forest-labs/FLUX.2-klein-base-4B", "Tongyi-MAI/Z-Image-Turbo")
    assert all(s.license == "Apache-2.0" and s.commercial_use and s.licence_note == "" for s in (klein, base, zimage))
    assert all(s.reads_korean and s.max_sequence_length == 512 for s in (klein, base, zimage))
    assert (klein.default_steps, klein.guidance_kind) == (4, NO_GUIDANCE)
    assert (base.default_steps, base.default_guidance, base.guidance_kind) == (28, 4.0, CFG)
    assert (zimage.default_guidance, zimage.guidance_kind) == (0.0, CFG)
    assert klein.size_bytes == base.size_bytes == pytest.approx(16.0e9, rel=0.01)


def test_flux_dev_is_marked_non_commercial_and_everything_else_is_not():
    assert get_spec("flux-dev").licence_note == NON_COMMERCIAL == "non-commercial licence"
    assert get_spec("flux-dev").guidance_kind == EMBEDDED and get_spec("flux-dev").guidance_distilled
    assert [n for n, s in MODELS.items() if s.licence_note] == ["flux-dev"]


def test_models_list_shows_the_non_commercial_mark(capsys):
    from models.cli import main

    assert main(["list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert any(line.startswith("flux-dev") and "[non-commercial licence]" in line for line in lines)
    assert not any(line.startswith("flux2-klein-4b") and "non-commercial" in line for line in lines)


def test_auto_prefers_a_commercially_usable_model_that_is_present():
    assert preferred_model(["flux-dev", "flux2-klein-base-4b", "z-image-turbo"], KV_EDIT) == "flux2-klein-base-4b"
    assert preferred_model(["flux-dev", "flux2-klein-base-4b", "z-image-turbo"], "generate") == "z-image-turbo"
    assert preferred_model(["flux-dev", "flux-schnell"], KV_EDIT) == "flux-schnell"
    assert preferred_model(["flux-dev", "tiny"], "generate") == "flux-dev"  # real weights before test weights
    assert preferred_model(["tiny", "opus-mt-ko-en"], KV_EDIT) == "tiny"
    assert preferred_model([], KV_EDIT) is None


def test_every_family_runs_every_task_and_cfg_follows_each_familys_threshold():
    assert all(supports(s, task) for s in MODELS.values() if s.kind == "diffusion" for task in TASKS)
    assert not supports(get_spec("opus-mt-ko-en"), KV_EDIT)
    assert not cfg_active(get_spec("flux2-klein-base-4b"), 1.0) and cfg_active(get_spec("flux2-klein-base-4b"), 1.5)
    assert not cfg_active(get_spec("flux2-klein-4b"), 4.0)  # step-distilled: guidance is ignored
    assert not cfg_active(get_spec("z-image-turbo"), 0.0) and cfg_active(get_spec("z-image-turbo"), 0.5)
    assert not cfg_active(get_spec("flux-dev"), 5.5)  # guidance is a model input, not a second pass


def test_klein_runs_image_to_image_as_an_inpaint_with_a_white_mask():
    from PIL import Image

    picture = Image.new("RGB", (32, 48))
    klein = task_inputs(FAMILIES["flux2"], "img2img", image=picture, strength=0.6)
    assert klein["strength"] == 0.6 and klein["mask_image"].size == (32, 48)
    assert klein["mask_image"].getextrema() == (255, 255)
    assert "mask_image" not in task_inputs(FAMILIES["z-image"], "img2img", image=picture, strength=0.6)
    assert task_inputs(FAMILIES["flux"], "text2img") == {}


def test_edit_defaults_follow_the_model():
    dev = EditOptions.for_model("flux-dev")
    assert (dev.steps, dev.skip_steps, dev.inversion_guidance, dev.guidance) == (28, 4, 1.5, 5.5)  # the official values
    base = EditOptions.for_model("flux2-klein-base-4b")
    assert (base.steps, base.skip_steps, base.inversion_guidance, base.guidance) == (28, 4, 1.0, 4.0)  # invert without CFG
    klein = EditOptions.for_model("flux2-klein-4b", kv_cache="none")
    assert (klein.steps, klein.skip_steps, klein.kv_cache) == (4, 1, "none")
    zimage = EditOptions.for_model("z-image-turbo", seed=3)
    assert (zimage.steps, zimage.inversion_guidance, zimage.guidance, zimage.seed) == (9, 0.0, 0.0, 3)
