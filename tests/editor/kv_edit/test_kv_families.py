"""KV-Edit family adapters: each family's packing, normalisation and lookups (tiny backends, CPU)."""

from __future__ import annotations

import pytest
import torch

from editor.kv_edit.families import UnsupportedFamilyError, adapter_for, family_of_transformer


def test_a_transformer_no_family_knows_is_refused_with_a_neutral_error():
    with pytest.raises(UnsupportedFamilyError, match="does not support this model") as caught:
        family_of_transformer(torch.nn.Linear(2, 2))
    assert caught.value.field == "model" and "Linear" in str(caught.value)


def test_flux1_packing_and_latent_normalisation_invert_each_other(tiny_pipe):
    family = adapter_for(tiny_pipe, "tiny")
    canvas = family.canvas(64, 48)
    latent = torch.randn(1, canvas.channels, canvas.latent_h, canvas.latent_w, generator=torch.Generator().manual_seed(0))
    packed = family.normalise(latent)
    assert packed.shape == (1, canvas.tokens, canvas.channels * 4)
    torch.testing.assert_close(family.denormalise(packed, canvas), latent)
    with pytest.raises(ValueError, match="multiple of 16"):
        family.canvas(60, 48)
