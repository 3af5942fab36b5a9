"""Cutting the product out of its photo: a rembg model when its file is here, else offline matting.

The rembg session is held by a `RembgSessions` object that its owner (an AdWorkflow, a CLI
run) keeps and releases; it is never a module global, and it always runs on onnxruntime's
CPU provider so it never takes accelerator memory next to a FLUX pipeline.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from editor.ad.matting import offline_cutout
from editor.errors import InputError, IntactError
from editor.images import ImageSource, load_image
from models.locate import download_command, locate, rembg_home
from models.registry import MODELS, get_spec

DEFAULT_REMBG_MODEL = "birefnet-general-lite"  # MIT; rembg's own default (bria-rmbg) is non-commercial
OFFLINE = "offline"
AUTO = "auto"
MAX_CUTOUT_SIDE = 2048


def rembg_model_names() -> list[str]:
    return [name for name, spec in MODELS.items() if spec.family == "rembg"]


def remover_names() -> list[str]:
    return [AUTO, OFFLINE, *rembg_model_names()]


class CutoutModelMissingError(IntactError):
    """A rembg model file is not on this machine; the message names the folder and the fix."""


@dataclass(frozen=True)
class CutOut:
    rgba: np.ndarray  # uint8 H×W×4: decontaminated colours + alpha
    alpha: np.ndarray  # float32 H×W in [0, 1]
    method: str  # "offline" or the rembg model name
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def size(self) -> tuple[int, int]:
        return self.alpha.shape[1], self.alpha.shape[0]

    def to_pil(self) -> Image.Image:
        return Image.fromarray(self.rgba, "RGBA")

    def bbox(self, threshold: float = 0.05) -> tuple[int, int, int, int]:
        """(x0, y0, x1, y1) of the visible product, exclusive ends."""
        ys, xs = np.nonzero(self.alpha > threshold)
        if len(xs) == 0:
            raise IntactError("The cut-out is empty: no product pixels are left. Correct the mask.")
        return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


def rembg_model_file(name: str) -> Path | None:
    """The model's .onnx file, found where `models.locate` looks (rembg's own folders)."""
    location = locate(name)
    return location.path / get_spec(name).files[0] if location.available else None


class RembgSessions:
    """rembg sessions by model name, CPU only, created on first use and kept until `release()`."""

    def __init__(self):
        self._sessions: dict = {}

    @staticmethod
    def model_file_present(name: str) -> bool:
        return rembg_model_file(name) is not None

    def session(self, name: str):
        if name not in rembg_model_names():
            raise InputError(f"Unknown cut-out model '{name}'. Choose from: {', '.join(remover_names())}.")
        if name not in self._sessions:
            path = rembg_model_file(name)
            if path is None:
                looked = "; ".join(locate(name).looked_in)
                raise CutoutModelMissingError(
                    f"Cut-out model '{name}' is not on this machine. Looked in: {looked} (rembg home {rembg_home()}). "
                    f"Fetch it with: {download_command(name)} (or use --remover offline)."
                )
            self._sessions[name] = _open_rembg_session(name, path)
        return self._sessions[name]

    def predict_alpha(self, name: str, rgb: np.ndarray) -> np.ndarray:
        masks = self.session(name).predict(Image.fromarray(rgb, "RGB"))
        alpha = np.asarray(masks[0].convert("L").resize((rgb.shape[1], rgb.shape[0])), np.float32) / 255.0
        return alpha

    def release(self) -> None:
        self._sessions.clear()

    @property
    def loaded(self) -> list[str]:
        return list(self._sessions)


def _open_rembg_session(name: str, path: Path):
    """A rembg session on onnxruntime's CPU provider, read from `path`.

    rembg's own constructor resolves (and may download) the file itself and picks CUDA when it
    can; we open the known file on CPU instead and attach it, so no download is ever attempted
    and no accelerator memory is taken next to FLUX.
    """
    import onnxruntime as ort
    from rembg.sessions import sessions_class

    cls = next(sc for sc in sessions_class if sc.name() == name)
    session = cls.__new__(cls)
    session.model_name = name
    options = ort.SessionOptions()
    options.log_severity_level = 3
    session.inner_session = ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])
    return session


def resolve_remover(remover: str) -> str:
    """The concrete method for a remover name ("auto" picks rembg only when its file is here)."""
    if remover == AUTO:
        return DEFAULT_REMBG_MODEL if RembgSessions.model_file_present(DEFAULT_REMBG_MODEL) else OFFLINE
    if remover == OFFLINE or remover in rembg_model_names():
        return remover
    raise InputError(f"Unknown remover '{remover}'. Choose from: {', '.join(remover_names())}.")


def _decontaminate(rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    from pymatting import estimate_foreground_ml

    fg = estimate_foreground_ml(rgb.astype(np.float64) / 255.0, alpha.astype(np.float64))
    fg = np.clip(fg * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return np.where((alpha >= 1.0)[..., None], rgb, fg)


def cut_out(image: ImageSource, remover: str = AUTO, sessions: RembgSessions | None = None) -> CutOut:
    """Cut the product out. Without `sessions`, a rembg session lives only for this call."""
    loaded = load_image(image)
    method = resolve_remover(remover)
    notes = list(loaded.notes)
    if loaded.alpha is not None and loaded.alpha.min() < 255 and remover == AUTO:
        # Already a cut-out (a transparent PNG): respect the user's own alpha.
        alpha = loaded.alpha.astype(np.float32) / 255.0
        return CutOut(np.dstack([loaded.rgb, loaded.alpha]), alpha, "uploaded-alpha", tuple(notes))
    rgb = loaded.rgb
    if max(rgb.shape[:2]) > MAX_CUTOUT_SIDE:
        # Ads are at most ~2k pixels wide, and matting cost grows with the edge length: work smaller.
        import cv2

        scale = MAX_CUTOUT_SIDE / max(rgb.shape[:2])
        size = (max(1, round(rgb.shape[1] * scale)), max(1, round(rgb.shape[0] * scale)))
        rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
        notes.append(f"product photo reduced to {size[0]}×{size[1]} for the cut-out")
    if method == OFFLINE:
        result = offline_cutout(rgb)
        alpha, colours = result.alpha, result.foreground
        notes.extend(result.notes)
    else:
        owned = sessions is None
        holder = sessions or RembgSessions()
        try:
            alpha = holder.predict_alpha(method, rgb)
        finally:
            if owned:
                holder.release()
        alpha[alpha < 0.01], alpha[alpha > 0.99] = 0.0, 1.0
        colours = _decontaminate(rgb, alpha)
    a8 = np.round(alpha * 255).astype(np.uint8)
    return CutOut(np.dstack([colours, a8]), alpha, method, tuple(notes))


def correct_alpha(cut: CutOut, original: ImageSource, add: np.ndarray | None = None, remove: np.ndarray | None = None) -> CutOut:
    """Apply the user's brush strokes: `add` paints product in, `remove` paints it out.

    Strokes are H×W in [0, 1] at the original photo's size (the cut-out may be smaller when the
    photo was reduced for cutting; strokes are then scaled to it).
    """
    import cv2

    loaded = load_image(original)
    ph, pw = loaded.rgb.shape[:2]
    h, w = cut.alpha.shape
    strokes = []
    for stroke, name in ((add, "add"), (remove, "remove")):
        if stroke is None:
            strokes.append(None)
            continue
        stroke = np.clip(np.asarray(stroke, np.float32), 0, 1)
        if stroke.shape != (ph, pw):
            raise InputError(f"The '{name}' brush mask is {stroke.shape[1]}×{stroke.shape[0]}; the photo is {pw}×{ph}.")
        strokes.append(stroke if (ph, pw) == (h, w) else cv2.resize(stroke, (w, h), interpolation=cv2.INTER_LINEAR))
    photo = loaded.rgb if (ph, pw) == (h, w) else cv2.resize(loaded.rgb, (w, h), interpolation=cv2.INTER_AREA)
    add, remove = strokes
    alpha = cut.alpha.copy()
    if add is not None:
        alpha = np.maximum(alpha, add)
    if remove is not None:
        alpha = np.minimum(alpha, 1.0 - remove)
    colours = cut.rgba[..., :3].copy()
    painted_in = (alpha > cut.alpha) & (alpha > 0)
    colours[painted_in] = photo[painted_in]  # painted-in pixels keep their photo colour
    a8 = np.round(alpha * 255).astype(np.uint8)
    return CutOut(np.dstack([colours, a8]), alpha.astype(np.float32), cut.method, cut.notes + ("mask corrected by hand",))
