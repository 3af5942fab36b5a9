"""Property tests for `editor.images`: any image in any mode and size loads as 8-bit RGB of the right
size, any damaged file is an InputError (never another exception), any mask fits its image."""

from __future__ import annotations

import io

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from editor.errors import InputError
from editor.images import load_image, load_mask

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# (mode, formats that can store it)
MODES = {
    "RGB": ["PNG", "JPEG", "WEBP", "BMP", "TIFF"],
    "RGBA": ["PNG", "WEBP", "TIFF"],
    "L": ["PNG", "JPEG", "BMP", "TIFF"],
    "LA": ["PNG"],
    "1": ["PNG", "BMP", "TIFF"],
    "P": ["PNG", "GIF", "BMP"],
    "CMYK": ["JPEG", "TIFF"],
    "I;16": ["PNG", "TIFF"],
    "I": ["PNG", "TIFF"],
    "F": ["TIFF"],
}


@st.composite
def encoded_images(draw):
    mode = draw(st.sampled_from(sorted(MODES)))
    fmt = draw(st.sampled_from(MODES[mode]))
    w, h = draw(st.integers(1, 70)), draw(st.integers(1, 70))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    base = Image.fromarray(rng.integers(0, 256, (h, w, 4), dtype=np.uint8), "RGBA")
    if mode == "I;16":
        image = Image.fromarray(rng.integers(0, 65536, (h, w), dtype=np.uint16))
    elif mode == "I":
        image = Image.fromarray(rng.integers(0, 65536, (h, w)).astype(np.int32))
    elif mode == "F":
        image = Image.fromarray(rng.random((h, w)).astype(np.float32))
    elif mode == "P":
        image = base.convert("RGB").quantize(colors=int(rng.integers(2, 64)))
    else:
        image = base.convert(mode)
    orientation = draw(st.sampled_from([1, 1, 3, 6, 8]))
    kwargs = {}
    if orientation != 1 and fmt in ("PNG", "JPEG", "WEBP", "TIFF"):
        exif = Image.Exif()
        exif[0x0112] = orientation
        kwargs["exif"] = exif.tobytes()
    else:
        orientation = 1
    buf = io.BytesIO()
    image.save(buf, format=fmt, **kwargs)
    upright = (h, w) if orientation in (1, 3) else (w, h)
    return buf.getvalue(), upright, mode


@FAST
@given(encoded_images())
def test_any_mode_size_and_orientation_loads_as_upright_8_bit_rgb(sample):
    data, (h, w), mode = sample
    loaded = load_image(data)
    assert loaded.rgb.shape == (h, w, 3) and loaded.rgb.dtype == np.uint8
    if loaded.alpha is not None:
        assert loaded.alpha.shape == (h, w) and loaded.alpha.dtype == np.uint8
        assert loaded.alpha.min() < 255  # kept only when it says something
    if mode in ("L", "1", "I;16", "I", "F"):
        assert (loaded.rgb[..., 0] == loaded.rgb[..., 1]).all() and (loaded.rgb[..., 1] == loaded.rgb[..., 2]).all()


@FAST
@given(encoded_images(), st.data())
def test_damaged_files_are_input_errors_and_nothing_else(sample, data):
    raw = bytearray(sample[0])
    how = data.draw(st.sampled_from(["truncate", "flip", "splice"]))
    if how == "truncate":
        raw = raw[: data.draw(st.integers(0, max(len(raw) - 1, 0)))]
    elif how == "flip":
        for _ in range(data.draw(st.integers(1, 8))):
            i = data.draw(st.integers(0, len(raw) - 1))
            raw[i] ^= data.draw(st.integers(1, 255))
    else:
        i = data.draw(st.integers(0, len(raw)))
        raw[i:i] = data.draw(st.binary(min_size=1, max_size=64))
    try:
        loaded = load_image(bytes(raw))
    except InputError as exc:
        assert str(exc) and "\n" not in str(exc)
    else:  # some damage is harmless (e.g. inside a pixel): then the result is still well formed
        assert loaded.rgb.dtype == np.uint8 and loaded.rgb.ndim == 3 and loaded.rgb.shape[2] == 3


@FAST
@given(st.binary(max_size=512))
def test_random_bytes_never_raise_anything_but_input_error(raw):
    try:
        load_image(raw)
    except InputError:
        pass


@FAST
@given(st.integers(1, 60), st.integers(1, 60), st.integers(1, 90), st.integers(1, 90), st.booleans(),
       st.integers(0, 2**32 - 1))
def test_any_mask_is_fitted_to_the_image_and_binary_stays_binary(mh, mw, w, h, binary, seed):
    rng = np.random.default_rng(seed)
    if binary:
        m = (rng.random((mh, mw)) < 0.4).astype(np.uint8) * 255
    else:
        m = rng.integers(0, 256, (mh, mw), dtype=np.uint8)
    mask, notes = load_mask(Image.fromarray(m, "L"), (w, h))
    assert mask.shape == (h, w) and mask.dtype == np.float32
    assert mask.min() >= 0.0 and mask.max() <= 1.0
    if binary:
        assert set(np.unique(mask)) <= {0.0, 1.0}
    assert any("resized" in n for n in notes) == ((mw, mh) != (w, h))
    if (mw, mh) == (w, h):
        np.testing.assert_array_equal(mask, m / np.float32(255))


@FAST
@given(st.integers(1, 40), st.integers(1, 40), st.sampled_from([np.uint8, np.uint16, np.float32, np.float64, np.bool_, np.int64]),
       st.sampled_from([None, 1, 3, 4]), st.integers(0, 2**32 - 1))
def test_arrays_of_any_dtype_and_channel_count_load(h, w, dtype, channels, seed):
    rng = np.random.default_rng(seed)
    shape = (h, w) if channels is None else (h, w, channels)
    if dtype == np.bool_:
        a = rng.random(shape) < 0.5
    elif np.issubdtype(dtype, np.floating):
        a = rng.random(shape).astype(dtype)
    else:
        a = rng.integers(0, np.iinfo(dtype).max if dtype != np.int64 else 65536, shape).astype(dtype)
    loaded = load_image(a)
    assert loaded.rgb.shape == (h, w, 3)
