"""Property tests for `editor.kv_edit.masks`: no masked pixel is ever lost on the way down to tokens,
and on the way back up every pixel outside the mask is the input's, bit for bit."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from editor.kv_edit.masks import blend_weights, mask_to_grid, paste_back, token_mask, working_size

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def masks(draw, max_side: int = 80):
    h = draw(st.integers(1, max_side))
    w = draw(st.integers(1, max_side))
    kind = draw(st.sampled_from(["random", "empty", "full", "one-pixel", "soft", "rect"]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if kind == "empty":
        m = np.zeros((h, w), np.float32)
    elif kind == "full":
        m = np.ones((h, w), np.float32)
    elif kind == "one-pixel":
        m = np.zeros((h, w), np.float32)
        m[rng.integers(h), rng.integers(w)] = 1.0
    elif kind == "soft":
        m = rng.random((h, w)).astype(np.float32) * (rng.random((h, w)) < 0.3)
    elif kind == "rect":
        m = np.zeros((h, w), np.float32)
        y0, x0 = rng.integers(h), rng.integers(w)
        m[y0 : rng.integers(y0, h) + 1, x0 : rng.integers(x0, w) + 1] = 1.0
    else:
        m = (rng.random((h, w)) < draw(st.floats(0.0, 1.0))).astype(np.float32)
    return m


def brute_force_grid(mask: np.ndarray, gh: int, gw: int) -> np.ndarray:
    """A cell is on when any pixel it overlaps (even partly) is masked: the definition, slowly."""
    h, w = mask.shape
    out = np.zeros((gh, gw), bool)
    for i in range(gh):
        for j in range(gw):
            y0, y1 = i * h / gh, (i + 1) * h / gh
            x0, x1 = j * w / gw, (j + 1) * w / gw
            ys = slice(int(np.floor(y0)), max(int(np.ceil(y1)), int(np.floor(y0)) + 1))
            xs = slice(int(np.floor(x0)), max(int(np.ceil(x1)), int(np.floor(x0)) + 1))
            out[i, j] = (mask[ys, xs] > 0).any()
    return out


@FAST
@given(masks(), st.integers(1, 12), st.integers(1, 12))
def test_grid_cell_is_on_exactly_when_a_pixel_under_it_is_masked(mask, gh, gw):
    np.testing.assert_array_equal(mask_to_grid(mask, gh, gw), brute_force_grid(mask, gh, gw))


@FAST
@given(masks(), st.integers(1, 8), st.integers(1, 8))
def test_no_masked_pixel_is_lost_on_the_way_to_tokens(mask, th, tw):
    lh, lw = 2 * th, 2 * tw
    tm = token_mask(mask, lh, lw)
    h, w = mask.shape
    ys, xs = np.nonzero(mask > 0)
    # The latent cell whose area contains each masked pixel's centre must be on, and its token too.
    ly = np.minimum(((ys + 0.5) * lh / h).astype(int), lh - 1)
    lx = np.minimum(((xs + 0.5) * lw / w).astype(int), lw - 1)
    assert tm.latent[ly, lx].all()
    assert tm.tokens.reshape(th, tw)[ly // 2, lx // 2].all()
    assert tm.foreground_tokens + tm.background_tokens == th * tw
    assert tm.foreground_tokens == 0 if not (mask > 0).any() else tm.foreground_tokens > 0
    # Tokens are exactly the 2×2 "any" of the latent mask.
    np.testing.assert_array_equal(tm.tokens, tm.latent.reshape(th, 2, tw, 2).any(axis=(1, 3)).reshape(-1))


@FAST
@given(masks(max_side=24), st.integers(1, 4), st.integers(1, 4), st.integers(1, 3))
def test_packed_mask_has_the_flux_layout(mask, th, tw, channels):
    tm = token_mask(mask, 2 * th, 2 * tw)
    packed = tm.packed(channels).numpy()
    assert packed.shape == (1, th * tw, channels * 4)
    per_token = packed[0].reshape(th * tw, channels, 4)
    expected = tm.latent.reshape(th, 2, tw, 2).transpose(0, 2, 1, 3).reshape(th * tw, 4)
    for c in range(channels):
        np.testing.assert_array_equal(per_token[:, c, :], expected.astype(np.float32))


@FAST
@given(masks(), st.integers(0, 20), st.integers(0, 2**32 - 1))
def test_paste_back_keeps_every_pixel_outside_the_mask_bit_identical(mask, feather, seed):
    rng = np.random.default_rng(seed)
    h, w = mask.shape
    original = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    generated = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    weights = blend_weights(mask, feather)
    assert weights.dtype == np.float32 and weights.shape == mask.shape
    assert (weights >= 0).all() and (weights <= 1).all()
    assert (weights[mask <= 0] == 0).all()
    assert (weights <= np.clip(mask, 0, 1) + 1e-6).all()
    out = paste_back(original, generated, weights)
    np.testing.assert_array_equal(out[mask <= 0], original[mask <= 0])
    full = weights == 1.0
    np.testing.assert_array_equal(out[full], generated[full])
    lo, hi = np.minimum(original, generated), np.maximum(original, generated)
    assert (out >= lo).all() and (out <= hi).all()  # a blend never leaves the two inputs' range


@FAST
@given(masks())
def test_without_feather_a_binary_mask_takes_generated_pixels_exactly_inside(mask):
    binary = (mask > 0).astype(np.float32)
    weights = blend_weights(binary, 0)
    np.testing.assert_array_equal(weights, binary)


@FAST
@given(st.integers(1, 5000), st.integers(1, 5000), st.sampled_from([8, 16, 32]))
def test_working_size_is_a_positive_multiple_near_the_original(w, h, multiple):
    ww, wh = working_size(w, h, multiple)
    for orig, fit in ((w, ww), (h, wh)):
        assert fit % multiple == 0 and fit >= multiple
        assert abs(fit - orig) <= multiple / 2 or (orig < multiple and fit == multiple)
