"""Cut-out: offline matting accuracy against known alpha, rembg session handling, brush fixes."""

from __future__ import annotations

import io

import cv2
import numpy as np
import pytest
from PIL import Image

from editor.ad.cutout import (
    CutoutModelMissingError,
    RembgSessions,
    correct_alpha,
    cut_out,
    resolve_remover,
)
from editor.ad.samples import product_shot
from editor.errors import InputError
from models.locate import rembg_home

# Thresholds for IoU of (alpha > 0.5) against the known alpha. Measured on this code: about 0.997
# on plain, gradient and brick-textured backdrops at 192 px (see the report).
IOU_PLAIN_OR_GRADIENT = 0.95
IOU_TEXTURED = 0.90


def iou(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a > 0.5, b > 0.5
    return float((a & b).sum() / (a | b).sum())


@pytest.mark.parametrize("backdrop", ["plain", "gradient"])
@pytest.mark.parametrize("colour", [(178, 34, 52), (40, 90, 160)])
def test_offline_cutout_matches_known_alpha_on_plain_and_gradient_backdrops(backdrop, colour):
    shot = product_shot(backdrop, 160, 160, colour=colour)
    cut = cut_out(shot.rgb, "offline")
    assert cut.method == "offline"
    assert iou(cut.alpha, shot.alpha) >= IOU_PLAIN_OR_GRADIENT


@pytest.mark.parametrize("colour", [(178, 34, 52), (40, 90, 160)])
def test_offline_cutout_matches_known_alpha_on_a_textured_backdrop(colour):
    shot = product_shot("textured", 160, 160, colour=colour)  # scikit-image's brick photograph, tinted
    cut = cut_out(shot.rgb, "offline")
    assert iou(cut.alpha, shot.alpha) >= IOU_TEXTURED


def test_offline_cutout_has_soft_edges_and_keeps_opaque_pixels_exact():
    shot = product_shot("gradient", 160, 160)
    cut = cut_out(shot.rgb, "offline")
    soft = (cut.alpha > 0) & (cut.alpha < 1)
    assert soft.sum() > 50  # anti-aliased edge, not a binary mask
    opaque = cut.alpha == 1
    assert np.array_equal(cut.rgba[..., :3][opaque], shot.rgb[opaque])
    assert np.array_equal(cut.rgba[..., 3], np.round(cut.alpha * 255).astype(np.uint8))


def test_edge_decontamination_brings_soft_edge_colours_closer_to_the_product():
    shot = product_shot("plain", 192, 192, colour=(30, 60, 170))
    cut = cut_out(shot.rgb, "offline")
    band = (shot.alpha > 0.2) & (shot.alpha < 0.8) & (cut.alpha > 0.05)
    assert band.sum() > 30
    truth = shot.product[band].astype(float)
    raw_error = np.abs(shot.rgb[band].astype(float) - truth).mean()
    decontaminated_error = np.abs(cut.rgba[..., :3][band].astype(float) - truth).mean()
    assert decontaminated_error < 0.6 * raw_error


def test_offline_cutout_is_deterministic():
    shot = product_shot("textured", 128, 128)
    a, b = cut_out(shot.rgb, "offline"), cut_out(shot.rgb, "offline")
    assert np.array_equal(a.rgba, b.rgba)


def test_missing_rembg_model_names_the_model_and_leaves_folder_and_command_to_the_operator():
    shot = product_shot("plain", 64, 64)
    with pytest.raises(CutoutModelMissingError) as info:
        cut_out(shot.rgb, "birefnet-general-lite")
    message = str(info.value)
    assert "birefnet-general-lite" in message and "\n" not in message
    assert str(rembg_home()) not in message and "--remover" not in message
    assert str(rembg_home()) in info.value.operator_hint
    assert "python -m models download birefnet-general-lite" in info.value.operator_hint


def test_auto_remover_uses_offline_matting_when_no_rembg_model_file_is_present():
    assert resolve_remover("auto") == "offline"
    shot = product_shot("plain", 96, 96)
    assert cut_out(shot.rgb).method == "offline"


def test_unknown_remover_and_rembgs_noncommercial_default_are_refused():
    for name in ("nonsense", "bria-rmbg"):
        with pytest.raises(InputError, match="auto, offline"):
            resolve_remover(name)


def test_a_transparent_png_is_used_as_its_own_cutout():
    shot = product_shot("plain", 96, 96)
    rgba = np.dstack([shot.product, np.round(shot.alpha * 255).astype(np.uint8)])
    buffer = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buffer, format="PNG")
    cut = cut_out(buffer.getvalue())
    assert cut.method == "uploaded-alpha"
    assert np.array_equal(cut.rgba[..., 3], rgba[..., 3])


def test_large_photos_are_cut_at_a_bounded_size_and_brush_strokes_still_apply(monkeypatch):
    import editor.ad.cutout as cutout_module

    monkeypatch.setattr(cutout_module, "MAX_CUTOUT_SIDE", 96)
    shot = product_shot("plain", 192, 160)
    cut = cut_out(shot.rgb, "offline")
    assert cut.alpha.shape == (80, 96) and any("reduced to 96×80" in n for n in cut.notes)
    remove = np.zeros(shot.alpha.shape, np.float32)
    remove[:, :96] = 1.0  # left half of the photo
    fixed = correct_alpha(cut, shot.rgb, remove=remove)
    # Strokes are scaled to the cut-out (48 of 96 columns); all but their rim is surely background.
    assert (fixed.alpha[:, :41] == 0).all() and fixed.alpha[:, 49:].max() == 1.0


def test_brush_strokes_paint_product_in_and_out():
    shot = product_shot("plain", 128, 128)
    cut = cut_out(shot.rgb, "offline")
    add = np.zeros_like(cut.alpha)
    add[100:115, 5:20] = 1.0  # a dab on the backdrop the user wants to keep
    remove = np.zeros_like(cut.alpha)
    remove[: int(128 * 0.23)] = 1.0  # take the cap away
    fixed = correct_alpha(cut, shot.rgb, add=add, remove=remove)
    assert (fixed.alpha[104:111, 9:16] == 1).all()  # the middle of the dab is product, in the photo's colours
    assert np.array_equal(fixed.rgba[104:111, 9:16, :3], shot.rgb[104:111, 9:16])
    assert fixed.alpha[: int(128 * 0.23)].max() < 0.05
    far = cv2.dilate(((add > 0) | (remove > 0)).astype(np.uint8), np.ones((31, 31), np.uint8)) == 0
    assert np.array_equal(fixed.alpha[far], cut.alpha[far])  # nothing changes away from the strokes
    with pytest.raises(InputError):
        correct_alpha(cut, shot.rgb, add=np.zeros((10, 10), np.float32))


# ----------------------------------------------------------------- the rembg path, with a real ONNX file

def _varint(n: int) -> bytes:
    out = b""
    while True:
        b = n & 0x7F
        n >>= 7
        out += bytes([b | (0x80 if n else 0)])
        if not n:
            return out


def _field(number: int, payload: bytes | int | str) -> bytes:
    if isinstance(payload, int):
        return _varint(number << 3) + _varint(payload)
    data = payload.encode() if isinstance(payload, str) else payload
    return _varint(number << 3 | 2) + _varint(len(data)) + data


def _tensor_info(name: str, dims: list[int]) -> bytes:
    shape = b"".join(_field(1, _field(1, d)) for d in dims)
    tensor_type = _field(1, 1) + _field(2, shape)  # elem_type FLOAT, shape
    return _field(1, name) + _field(2, _field(1, tensor_type))


def onnx_mean_model() -> bytes:
    """A valid ONNX model (protobuf written by hand, the onnx package is not installed) with
    BiRefNet's input/output shapes: the mask is the mean of the normalised RGB channels."""
    attr = _field(1, "axes") + _field(8, 1) + _field(20, 7)  # ints [1], type INTS
    keep = _field(1, "keepdims") + _field(3, 1) + _field(20, 2)  # int 1, type INT
    node = _field(1, "input_image") + _field(2, "mask") + _field(4, "ReduceMean") + _field(5, attr) + _field(5, keep)
    graph = _field(1, node) + _field(2, "mean") + _field(11, _tensor_info("input_image", [1, 3, 1024, 1024]))
    graph += _field(12, _tensor_info("mask", [1, 1, 1024, 1024]))
    return _field(1, 7) + _field(7, graph) + _field(8, _field(1, "") + _field(2, 13))


def test_rembg_session_runs_on_cpu_is_reused_and_released(tmp_path, monkeypatch):
    monkeypatch.setenv("U2NET_HOME", str(tmp_path))
    (tmp_path / "birefnet-general-lite.onnx").write_bytes(onnx_mean_model())
    assert resolve_remover("auto") == "birefnet-general-lite"
    shot = product_shot("plain", 96, 96)
    sessions = RembgSessions()
    first = cut_out(shot.rgb, "birefnet-general-lite", sessions=sessions)
    session = sessions.session("birefnet-general-lite")
    assert session.inner_session.get_providers() == ["CPUExecutionProvider"]
    second = cut_out(shot.rgb, "birefnet-general-lite", sessions=sessions)
    assert sessions.session("birefnet-general-lite") is session  # one session, reused
    assert first.method == "birefnet-general-lite" and np.array_equal(first.alpha, second.alpha)
    # The model's output really is the mask: the dark product scores lower than the bright backdrop.
    assert first.alpha.shape == (96, 96)
    assert first.alpha[shot.alpha > 0.99].mean() < first.alpha[shot.alpha == 0].mean() - 0.3
    sessions.release()
    assert sessions.loaded == []
