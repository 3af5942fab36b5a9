"""`python -m models plan`: bytes per part under each plan, and the pick for a budget."""

from __future__ import annotations

import json

from models.cli import main


def test_plan_prints_the_arithmetic_each_plan_and_the_pick_for_a_budget(capsys):
    code = main(["plan", "--model", "flux-dev", "--size", "1024x1024", "--steps", "28", "--mask", "0.25",
                 "--profile", "l4-24gb", "--quantizers", "none"])
    out = capsys.readouterr().out
    assert code == 0
    assert "K/V per step: 2.15 for the background (2.87 for all image tokens)" in out
    assert "transformer FluxTransformer2DModel 11.90B params = 23.80" in out
    assert "offload=group kv=none vae=full" in out and "offload=none kv=device vae=full" in out
    assert "[L4 24 GB, 64 GB RAM] picks: offload=group kv=none vae=full" in out


def test_plan_json_for_a_given_budget(capsys):
    code = main(["plan", "--model", "flux-dev", "--size", "512x512", "--steps", "28", "--mask", "0.25",
                 "--gpu-gb", "84", "--ram-gb", "200", "--quantizers", "none", "--json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 0
    assert data["image_tokens"] == 1024 and data["background_tokens"] == 768
    # fp8: one byte per element plus one fp32 scale per head, layer and step
    assert data["kv_cache"]["fp8"]["total"] * 2 - data["kv_cache"]["device"]["total"] == 2 * 28 * 57 * 2 * 24 * 4
    (pick,) = data["picks"]
    assert pick["fits"] and pick["plan"] == "offload=none kv=device vae=full"
    assert len(data["plans"]) == 3 * 4 * 2 * 2  # offload × K/V cache × MLP chunking × VAE tiling


def test_plan_for_a_text_to_image_model_has_no_cache(capsys):
    code = main(["plan", "--model", "z-image-turbo", "--task", "generate", "--size", "1024x1024", "--steps", "9",
                 "--profile", "cpu-only"])
    out = capsys.readouterr().out
    assert code == 0 and "K/V" not in out and "ZImageTransformer2DModel" in out


def test_bad_plan_requests_are_one_line_errors(capsys):
    assert main(["plan", "--model", "opus-mt-ko-en"]) == 2
    assert "translation model" in capsys.readouterr().err
    assert main(["plan", "--quantizers", "gptq", "--profile", "cpu-only"]) == 2
    assert "Unknown weight quantizer" in capsys.readouterr().err
