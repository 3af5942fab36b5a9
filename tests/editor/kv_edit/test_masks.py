"""Mask mapping for KV-Edit: down to latent pixels and tokens without losing anything, and back
to exact pixels."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from diffusers.pipelines.flux.pipeline_flux import FluxPipeline
from hypothesis import given, settings
from hypothesis import strategies as st

from editor.kv_edit.masks import blend_weights, mask_to_grid, paste_back, token_mask, working_size


@pytest.mark.parametrize("size, expected", [((333, 517), (336, 512)), ((5, 5), (16, 16)), ((1024, 768), (1024, 768))])
def test_working_size_rounds_each_side_to_a_positive_multiple_of_16(size, expected):
    assert working_size(*size) == expected


@settings(max_examples=40, deadline=None)
@given(
    h=st.integers(5, 90),
    w=st.integers(5, 90),
    y=st.integers(0, 89),
    x=st.integers(0, 89),
    lh=st.sampled_from([2, 4, 6, 12]),
    lw=st.sampled_from([2, 4, 8, 10]),
)
def test_every_masked_pixel_lands_in_a_foreground_latent_pixel_and_token(h, w, y, x, lh, lw):
    mask = np.zeros((h, w), np.float32)
    y, x = y % h, x % w
    mask[y, x] = 0.01  # one faint pixel of a soft mask must still count
    tm = token_mask(mask, lh, lw)
    # Latent pixel (i, j) covers image rows [i*h/lh, (i+1)*h/lh); the pixel's own cell must be on.
    i, j = (y * lh) // h, (x * lw) // w
    assert tm.latent[i, j]
    assert tm.tokens.reshape(lh // 2, lw // 2)[i // 2, j // 2]
    assert tm.foreground_tokens >= 1


def test_empty_mask_has_no_foreground_and_full_mask_has_no_background():
    assert token_mask(np.zeros((33, 47), np.float32), 4, 6).foreground_tokens == 0
    full = token_mask(np.ones((33, 47), np.float32), 4, 6)
    assert full.background_tokens == 0 and full.image_tokens == 6


def test_mask_to_grid_marks_only_cells_that_touch_masked_pixels():
    mask = np.zeros((16, 16), np.float32)
    mask[0:4, 12:16] = 1
    grid = mask_to_grid(mask, 4, 4)
    expected = np.zeros((4, 4), bool)
    expected[0, 3] = True
    np.testing.assert_array_equal(grid, expected)


def test_packed_latent_mask_has_fluxpipeline_token_layout():
    mask = np.zeros((48, 64), np.float32)
    mask[5:20, 30:41] = 1
    tm = token_mask(mask, 6, 8)
    latent = torch.from_numpy(tm.latent.astype(np.float32))[None, None].repeat(1, 16, 1, 1)
    expected = FluxPipeline._pack_latents(latent, 1, 16, 6, 8)
    torch.testing.assert_close(tm.packed(16), expected)
    # A token is foreground exactly when some latent pixel in it is.
    np.testing.assert_array_equal(tm.tokens, expected[0].amax(-1).numpy() > 0)


def test_blend_weights_are_zero_outside_and_feather_lies_inside_the_mask():
    mask = np.zeros((60, 60), np.float32)
    mask[10:50, 10:50] = 1
    w = blend_weights(mask, feather_px=6)
    assert (w[mask == 0] == 0).all()
    assert w[30, 30] == 1.0  # deep inside: fully generated
    assert 0 < w[10, 30] < 0.5  # at the edge, inside: mostly original
    assert np.all(np.diff(w[30, 10:20]) >= 0)  # rises monotonically into the region
    np.testing.assert_array_equal(blend_weights(mask, feather_px=0), mask)


def test_blend_weights_keep_soft_mask_values_and_their_zeros():
    mask = np.zeros((40, 40), np.float32)
    mask[5:35, 5:35] = 0.5
    w = blend_weights(mask, feather_px=3)
    assert (w[mask == 0] == 0).all() and w.max() == pytest.approx(0.5)


def test_paste_back_copies_unmasked_pixels_bit_for_bit():
    rng = np.random.default_rng(0)
    original = rng.integers(0, 256, (37, 29, 3), dtype=np.uint8)
    generated = rng.integers(0, 256, (37, 29, 3), dtype=np.uint8)
    weights = np.zeros((37, 29), np.float32)
    weights[5:20, 3:9] = 1.0
    weights[25:30, 10:20] = 0.3
    out = paste_back(original, generated, weights)
    np.testing.assert_array_equal(out[weights == 0], original[weights == 0])
    np.testing.assert_array_equal(out[weights == 1], generated[weights == 1])
    mid = weights == 0.3
    expected = np.rint(original[mid] * 0.7 + generated[mid] * 0.3)
    assert np.abs(out[mid].astype(int) - expected).max() <= 1


def test_thin_strokes_are_fully_generated_in_their_middle_even_next_to_big_regions():
    mask = np.zeros((80, 80), np.float32)
    mask[10:70, 40:75] = 1  # a big region
    mask[10:70, 10:15] = 1  # a 5 px stroke (e.g. over a wire)
    w = blend_weights(mask, feather_px=8)
    assert w[40, 12] == 1.0  # middle of the stroke
    assert w[40, 57] == 1.0 and w[40, 41] < 0.5  # the big region keeps its full band
