"""`editor.images`: every bad image becomes one clear InputError; every odd-but-valid image is read correctly."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from editor.errors import InputError
from editor.images import (
    EMPTY_MASK_NOTE,
    FULL_MASK_NOTE,
    load_image,
    load_mask,
    max_megapixels_from_env,
)


def encode(image: Image.Image, fmt: str = "PNG", **kw) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format=fmt, **kw)
    return buf.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims width×height but carries almost no data: a decompression bomb's header."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    idat = zlib.compress(b"\x00" * 64)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def uniform_png(width: int, height: int) -> bytes:
    """A complete, valid 8-bit greyscale PNG of one flat colour: huge in pixels, tiny on disk (an
    8900×8900 one is about 80 KB). Compressed row by row, so making it costs no big buffer."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    compressor, row, parts = zlib.compressobj(9), b"\x00" + b"\x80" * width, []
    for _ in range(height):
        parts.append(compressor.compress(row))
    parts.append(compressor.flush())
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", b"".join(parts)) + chunk(b"IEND", b"")


def pattern(w: int = 40, h: int = 24) -> np.ndarray:
    rng = np.random.default_rng(w * 1000 + h)
    return rng.integers(0, 256, (h, w, 3), dtype=np.uint8)


def one_line(exc: pytest.ExceptionInfo) -> str:
    text = str(exc.value)
    assert text and "\n" not in text and "Traceback" not in text
    return text


# ---------------------------------------------------------------- files that are not usable images


@pytest.mark.parametrize(
    "data, phrase",
    [
        (b"", "not an image"),
        (b"hello, this is text", "not an image"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "not an image"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 20, "not an image"),
    ],
)
def test_non_image_bytes_give_one_line_input_error(data, phrase):
    with pytest.raises(InputError) as exc:
        load_image(data)
    assert phrase in one_line(exc)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP", "BMP", "TIFF", "GIF"])
def test_truncated_files_give_one_line_input_error(fmt, tmp_path):
    data = encode(Image.fromarray(pattern(64, 48)), fmt)
    path = tmp_path / f"cut.{fmt.lower()}"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError) as exc:
        load_image(path)
    message = one_line(exc)
    assert "cut." in message  # names the file, not the full path
    assert "damaged" in message or "not an image" in message


def test_header_of_a_huge_image_is_refused_before_any_pixel_is_decoded():
    bomb = png_header_only(12_000, 12_000)  # 144 MP claimed, 100 bytes on disk
    assert len(bomb) < 200
    with pytest.raises(InputError) as exc:
        load_image(bomb)
    message = one_line(exc)
    assert "12000×12000" in message and "limit is 40 megapixels" in message
    # Far beyond Pillow's own guard the message still names our limit.
    with pytest.raises(InputError) as exc:
        load_image(png_header_only(30_000, 30_000))
    message = one_line(exc)
    assert "900.0 megapixels" in message and "limit is 40 megapixels" in message


def test_pillow_bomb_protection_is_reported_as_our_one_line_when_our_limit_is_raised():
    with pytest.raises(InputError) as exc:
        load_image(png_header_only(30_000, 30_000), max_megapixels=10_000)
    assert "900.0 megapixels" in one_line(exc) and "limit is 10000 megapixels" in one_line(exc)
    assert exc.value.key == "image_too_large"


def test_megapixel_limit_is_configurable_per_call_and_by_environment(monkeypatch):
    data = encode(Image.fromarray(pattern(100, 100)))  # 0.01 MP
    assert load_image(data, max_megapixels=0.01).size == (100, 100)
    with pytest.raises(InputError, match="limit is 0.005 megapixels"):
        load_image(data, max_megapixels=0.005)
    monkeypatch.setenv("INTACT_MAX_MEGAPIXELS", "0.005")
    with pytest.raises(InputError, match="limit is 0.005 megapixels"):
        load_image(data)
    with pytest.raises(InputError, match="limit is 0.005 megapixels"):
        load_image(Image.fromarray(pattern(100, 100)))  # in-memory images obey it too
    with pytest.raises(InputError, match="limit"):
        load_image(pattern(100, 100))


@pytest.mark.parametrize("value", ["abc", "-3", "0", "nan", "inf"])
def test_a_bad_megapixel_setting_falls_back_to_the_default(monkeypatch, value):
    monkeypatch.setenv("INTACT_MAX_MEGAPIXELS", value)
    assert max_megapixels_from_env() == 40.0


def test_missing_file_folder_and_wrong_type_are_input_errors(tmp_path):
    with pytest.raises(InputError, match="File not found"):
        load_image(tmp_path / "nope.png")
    with pytest.raises(InputError, match="is a folder"):
        load_image(tmp_path)
    with pytest.raises(InputError, match="No image"):
        load_image(None)
    with pytest.raises(InputError, match="file path, bytes"):
        load_image(12345)
    with pytest.raises(InputError):
        load_image("bad\0name.png")


@pytest.mark.parametrize(
    "array, phrase",
    [
        (np.zeros((0, 5, 3), np.uint8), "empty"),
        (np.zeros((5, 5, 2), np.uint8), "shape"),
        (np.zeros((2, 5, 5, 3), np.uint8), "shape"),
        (np.full((4, 4), np.nan, np.float32), "NaN"),
        (np.array([["a", "b"]]), "numbers"),
    ],
)
def test_unusable_arrays_give_input_errors(array, phrase):
    with pytest.raises(InputError, match=phrase):
        load_image(array)


# ---------------------------------------------------------------- odd but valid images are read correctly


def test_png_jpeg_bytes_path_and_pil_sources_agree(tmp_path):
    rgb = pattern()
    path = tmp_path / "a.png"
    Image.fromarray(rgb).save(path)
    for source in (path, str(path), path.read_bytes(), Image.fromarray(rgb), rgb):
        loaded = load_image(source)
        assert loaded.rgb.dtype == np.uint8 and loaded.rgb.flags.c_contiguous
        np.testing.assert_array_equal(loaded.rgb, rgb)
        assert loaded.alpha is None


def test_sixteen_bit_greyscale_keeps_its_brightness_even_when_dark():
    # Values 0..255 on a 0..65535 scale are nearly black: they must not be stretched to white.
    dark = (np.arange(24 * 40, dtype=np.uint16).reshape(24, 40) % 256)
    loaded = load_image(encode(Image.fromarray(dark)))
    assert loaded.rgb.max() <= 1
    full = np.linspace(0, 65535, 24 * 40).reshape(24, 40).astype(np.uint16)
    loaded = load_image(encode(Image.fromarray(full)))
    expected = np.round(full / 65535 * 255).astype(np.uint8)
    np.testing.assert_array_equal(loaded.rgb[:, :, 0], expected)
    np.testing.assert_array_equal(loaded.rgb[:, :, 0], loaded.rgb[:, :, 2])
    assert any("16-bit" in n for n in loaded.notes)


def test_sixteen_bit_arrays_are_scaled_not_clipped():
    a = np.full((4, 4, 3), 65535, np.uint16)
    assert load_image(a).rgb.min() == 255
    a[:] = 32896  # half scale
    assert load_image(a).rgb.max() == 128


def test_cmyk_is_converted_to_the_same_colours_and_noted():
    cmyk = Image.new("CMYK", (8, 8), (0, 255, 255, 0))  # pure red in CMYK
    loaded = load_image(encode(cmyk, "TIFF"))
    assert tuple(loaded.rgb[0, 0]) == (255, 0, 0)
    assert "converted from CMYK" in loaded.notes
    jpeg = load_image(encode(Image.new("CMYK", (16, 16), (0, 0, 0, 0)), "JPEG", quality=95))
    assert jpeg.rgb.min() >= 250  # CMYK white stays white through JPEG


def test_palette_images_with_and_without_transparency():
    rgb = pattern(16, 8)
    pal = Image.fromarray(rgb).quantize(colors=16)
    loaded = load_image(encode(pal))
    np.testing.assert_array_equal(loaded.rgb, np.asarray(pal.convert("RGB")))
    assert loaded.alpha is None
    pal.info["transparency"] = 0
    loaded = load_image(encode(pal, transparency=0))
    assert loaded.alpha is not None
    indices = np.asarray(pal)
    np.testing.assert_array_equal(loaded.alpha == 0, indices == 0)


@pytest.mark.parametrize("mode", ["L", "1", "LA", "PA", "I", "F", "RGBa", "La", "YCbCr", "HSV", "LAB"])
def test_every_pillow_mode_becomes_8_bit_rgb(mode):
    image = Image.new(mode, (6, 5))
    loaded = load_image(image)
    assert loaded.rgb.shape == (5, 6, 3) and loaded.rgb.dtype == np.uint8


def test_greyscale_gives_equal_channels():
    grey = np.arange(40 * 24, dtype=np.uint8).reshape(24, 40)
    loaded = load_image(encode(Image.fromarray(grey, "L")))
    for c in range(3):
        np.testing.assert_array_equal(loaded.rgb[:, :, c], grey)


@pytest.mark.parametrize("orientation, turn", [(3, 2), (6, 3), (8, 1)])  # np.rot90 k (counter-clockwise)
def test_exif_rotated_photos_are_turned_upright_pixel_exactly(orientation, turn):
    rgb = pattern(40, 24)
    exif = Image.Exif()
    exif[0x0112] = orientation
    loaded = load_image(encode(Image.fromarray(rgb), "PNG", exif=exif.tobytes()))
    np.testing.assert_array_equal(loaded.rgb, np.rot90(rgb, turn))
    assert any("EXIF" in n for n in loaded.notes)


def test_exif_without_rotation_adds_no_note():
    exif = Image.Exif()
    exif[0x0112] = 1
    loaded = load_image(encode(Image.fromarray(pattern()), "PNG", exif=exif.tobytes()))
    assert loaded.notes == ()


def test_alpha_channel_is_kept_and_a_fully_opaque_one_is_dropped():
    rgba = np.dstack([pattern(10, 6), np.full((6, 10), 255, np.uint8)])
    assert load_image(encode(Image.fromarray(rgba, "RGBA"))).alpha is None
    rgba[2:4, 3:7, 3] = 0
    loaded = load_image(encode(Image.fromarray(rgba, "RGBA")))
    np.testing.assert_array_equal(loaded.alpha, rgba[:, :, 3])
    np.testing.assert_array_equal(loaded.rgb, rgba[:, :, :3])
    np.testing.assert_array_equal(np.asarray(loaded.to_pil()), rgba)


def test_animated_gif_uses_its_first_frame():
    frames = [Image.new("RGB", (8, 8), c) for c in ((255, 0, 0), (0, 0, 255))]
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:])
    loaded = load_image(buf.getvalue())
    assert tuple(loaded.rgb[0, 0]) == (255, 0, 0)


# ---------------------------------------------------------------- masks


def test_mask_of_another_size_is_resized_with_a_note_and_stays_binary():
    m = np.zeros((30, 50), np.uint8)
    m[5:20, 10:30] = 255
    mask, notes = load_mask(encode(Image.fromarray(m)), (100, 60))
    assert mask.shape == (60, 100) and mask.dtype == np.float32
    assert set(np.unique(mask)) == {0.0, 1.0}
    assert any("resized to the image's 100×60" in n for n in notes)
    np.testing.assert_array_equal(mask[::2, ::2], m / 255.0)


def test_soft_mask_is_resized_smoothly_within_0_and_1():
    soft = np.tile(np.linspace(0, 255, 32).astype(np.uint8), (16, 1))
    mask, _ = load_mask(soft, (64, 32))
    assert 0.0 <= mask.min() and mask.max() <= 1.0
    assert len(np.unique(mask)) > 2


def test_empty_and_full_masks_are_legal_and_noted():
    size = (20, 10)
    empty, notes = load_mask(np.zeros((10, 20), np.uint8), size)
    assert not empty.any() and EMPTY_MASK_NOTE in notes
    full, notes = load_mask(np.full((10, 20), 255, np.uint8), size)
    assert (full == 1).all() and FULL_MASK_NOTE in notes
    _, notes = load_mask(np.eye(10, 20, dtype=np.uint8) * 255, size)
    assert notes == ()


def test_painted_strokes_on_a_transparent_layer_mark_the_region_by_opacity():
    layer = np.zeros((10, 20, 4), np.uint8)
    layer[..., :3] = 255  # white everywhere: brightness would mark it all
    layer[2:5, 3:9, 3] = 255
    mask, _ = load_mask(Image.fromarray(layer, "RGBA"), (20, 10))
    np.testing.assert_array_equal(mask > 0, layer[..., 3] > 0)


def test_mask_colour_notes_are_not_repeated_but_exif_ones_are():
    cmyk = Image.new("CMYK", (8, 8), (0, 0, 0, 0))
    _, notes = load_mask(encode(cmyk, "TIFF"), (8, 8))
    assert "converted from CMYK" not in notes


def test_bool_mask_array_means_true_is_change():
    m = np.zeros((6, 6), bool)
    m[1:3, 1:3] = True
    mask, _ = load_mask(m, (6, 6))
    np.testing.assert_array_equal(mask, m.astype(np.float32))


def test_mask_for_an_empty_image_size_is_refused():
    with pytest.raises(InputError):
        load_mask(np.ones((4, 4), np.uint8), (0, 4))


def test_bad_mask_file_is_an_input_error_naming_it(tmp_path):
    path = tmp_path / "mask.png"
    path.write_bytes(b"not a png")
    with pytest.raises(InputError, match="'mask.png'"):
        load_mask(path, (8, 8))
