"""Cutting the product out of its photo: a rembg model when its file is here, else offline matting.

The rembg session is held by a `RembgSessions` object that its owner (an AdWorkflow, a CLI
run) keeps and releases; it is never a module global, and it always runs on onnxruntime's
CPU provider so it never takes accelerator memory next to a FLUX pipeline.

Every cut-out carries a plausibility verdict (`editor.ad.plausibility`): a cut-out that is empty,
tiny, the whole photo, or in pieces says so, so the user can fix it with the brush
(`correct_alpha`, which follows the photo's edges: `editor.ad.refine`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from editor.ad.matting import offline_cutout
from editor.ad.plausibility import Verdict, check_cutout
from editor.ad.refine import refine_with_strokes
from editor.errors import InputError, IntactError
from editor.images import ImageSource, load_image
from models.locate import ModelNotAvailableError, locate
from models.registry import MODELS, get_spec

# "auto" takes the first of these whose file is on this machine, else offline matting. All are
# permissively licensed (rembg's own default, bria-rmbg, is non-commercial and not offered).
AUTO_PREFERENCE = ("birefnet-general-lite", "isnet-general-use", "u2net", "u2netp")
OFFLINE = "offline"
AUTO = "auto"
MAX_CUTOUT_SIDE = 2048


def rembg_model_names() -> list[str]:
    return [name for name, spec in MODELS.items() if spec.family == "rembg"]


def remover_names() -> list[str]:
    return [AUTO, OFFLINE, *rembg_model_names()]


class CutoutModelMissingError(ModelNotAvailableError):
    """A rembg model file is not on this machine (the operator hint names the folder and the fix)."""

    def __init__(self, name: str):
        super().__init__(locate(name))
        self.field = "remover"


class EmptyCutoutError(IntactError):
    key = "cutout_empty"


@dataclass(frozen=True)
class CutOut:
    rgba: np.ndarray  # uint8 H×W×4: decontaminated colours + alpha
    alpha: np.ndarray  # float32 H×W in [0, 1]
    method: str  # "offline", "uploaded-alpha" or the rembg model name
    notes: tuple[str, ...] = field(default_factory=tuple)
    verdict: Verdict | None = None  # plausibility checks (None only for a user's own alpha)

    @property
    def size(self) -> tuple[int, int]:
        return self.alpha.shape[1], self.alpha.shape[0]

    @property
    def needs_review(self) -> bool:
        """True when the checks found a problem: show the photo in the brush editor and say why."""
        return self.verdict is not None and not self.verdict.plausible

    def to_pil(self) -> Image.Image:
        return Image.fromarray(self.rgba, "RGBA")

    def bbox(self, threshold: float = 0.05) -> tuple[int, int, int, int]:
        """(x0, y0, x1, y1) of the visible product, exclusive ends."""
        ys, xs = np.nonzero(self.alpha > threshold)
        if len(xs) == 0:
            raise EmptyCutoutError("The cut-out is empty: no product pixels are left. Paint the product with the add brush.",
                                   field="mask")
        return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1

    def report(self) -> dict:
        return {"method": self.method, "notes": list(self.notes),
                "check": self.verdict.to_report() if self.verdict is not None else None}


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
            raise InputError(f"Unknown cut-out model '{name}'. Choose from: {', '.join(remover_names())}.",
                             key="unknown_remover", field="remover", name=name, known=", ".join(remover_names()))
        if name not in self._sessions:
            self._sessions[name] = _open_rembg_session(name)
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


def _open_rembg_session(name: str):
    """rembg's own session for `name`, on onnxruntime's CPU provider, from the file in its folder.

    rembg downloads a model exactly when its session class finds no file in rembg's folders
    (`resolve_existing`); we ask that same question first and refuse instead, so opening a
    session never reaches the network. CPU only: no accelerator memory taken next to FLUX.
    """
    import onnxruntime as ort
    import rembg
    from rembg.sessions import sessions

    if sessions[name].resolve_existing(get_spec(name).files[0]) is None:
        raise CutoutModelMissingError(name)
    options = ort.SessionOptions()
    options.log_severity_level = 3  # no onnxruntime warnings in the user's console
    return rembg.new_session(name, sess_opts=options, providers=["CPUExecutionProvider"])


def resolve_remover(remover: str) -> str:
    """The concrete method for a remover name: "auto" takes the best rembg model on this machine
    (`AUTO_PREFERENCE`), else offline matting."""
    if remover == AUTO:
        return next((name for name in AUTO_PREFERENCE if RembgSessions.model_file_present(name)), OFFLINE)
    if remover == OFFLINE or remover in rembg_model_names():
        return remover
    known = ", ".join(remover_names())
    raise InputError(f"Unknown remover '{remover}'. Choose from: {known}.", key="unknown_remover", field="remover",
                     name=remover, known=known)


def _decontaminate(rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Foreground colours in the soft band re-estimated (no old-backdrop fringe); opaque pixels exact."""
    from pymatting import estimate_foreground_ml

    fg = estimate_foreground_ml(rgb.astype(np.float64) / 255.0, alpha.astype(np.float64))
    fg = np.clip(fg * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return np.where((alpha >= 1.0)[..., None], rgb, fg)


def _working_copy(rgb: np.ndarray, notes: list[str]) -> np.ndarray:
    """The photo at most MAX_CUTOUT_SIDE on its longer side: ads are at most ~2k pixels wide, and
    matting cost grows with the edge length."""
    if max(rgb.shape[:2]) <= MAX_CUTOUT_SIDE:
        return rgb
    import cv2

    scale = MAX_CUTOUT_SIDE / max(rgb.shape[:2])
    size = (max(1, round(rgb.shape[1] * scale)), max(1, round(rgb.shape[0] * scale)))
    notes.append(f"product photo reduced to {size[0]}×{size[1]} for the cut-out")
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)


def cut_out(image: ImageSource, remover: str = AUTO, sessions: RembgSessions | None = None) -> CutOut:
    """Cut the product out. Without `sessions`, a rembg session lives only for this call.

    Never fails because the product was hard to find: the result then carries a verdict that
    says so (`CutOut.needs_review`), and the user fixes it with the brush.
    """
    loaded = load_image(image)
    method = resolve_remover(remover)
    notes = list(loaded.notes)
    if loaded.alpha is not None and loaded.alpha.min() < 255 and remover == AUTO:
        # Already a cut-out (a transparent PNG): respect the user's own alpha.
        alpha = loaded.alpha.astype(np.float32) / 255.0
        return CutOut(np.dstack([loaded.rgb, loaded.alpha]), alpha, "uploaded-alpha", tuple(notes))
    rgb = _working_copy(loaded.rgb, notes)
    unsure = False
    if method == OFFLINE:
        result = offline_cutout(rgb)
        alpha, colours, unsure = result.alpha, result.foreground, result.unsure
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
        colours = _decontaminate(rgb, alpha) if alpha.any() else rgb.copy()
    return _assemble(colours, alpha, method, notes, check_cutout(alpha, method_unsure=unsure))


def _assemble(colours: np.ndarray, alpha: np.ndarray, method: str, notes, verdict: Verdict) -> CutOut:
    a8 = np.round(alpha * 255).astype(np.uint8)
    return CutOut(np.dstack([colours, a8]), alpha.astype(np.float32), method, tuple(notes), verdict)


def correct_alpha(cut: CutOut, original: ImageSource, add: np.ndarray | None = None, remove: np.ndarray | None = None) -> CutOut:
    """Apply the user's brush strokes: `add` paints product in, `remove` paints it out.

    The strokes are seeds, refined along the photo's edges (`editor.ad.refine`): a stroke that
    spills over the product's edge does not drag the table in with it. Strokes are H×W in
    [0, 1] at the original photo's size (the cut-out may be smaller when the photo was reduced
    for cutting; strokes are then scaled to it).
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
            raise InputError(f"The '{name}' brush mask is {stroke.shape[1]}×{stroke.shape[0]}; the photo is {pw}×{ph}.",
                             key="brush_mask_size", field="mask", brush=name, width=stroke.shape[1],
                             height=stroke.shape[0], photo_width=pw, photo_height=ph)
        strokes.append(stroke if (ph, pw) == (h, w) else cv2.resize(stroke, (w, h), interpolation=cv2.INTER_LINEAR))
    photo = loaded.rgb if (ph, pw) == (h, w) else cv2.resize(loaded.rgb, (w, h), interpolation=cv2.INTER_AREA)
    add, remove = strokes
    alpha = refine_with_strokes(photo, cut.alpha, add, remove)
    changed = alpha != cut.alpha
    colours = cut.rgba[..., :3].copy()
    if changed.any():
        # Re-estimate colours where the edge moved (on a margin around it: the estimate is local);
        # opaque pixels keep the photo's own values.
        ys, xs = np.nonzero(changed)
        pad = 16
        box = (slice(max(ys.min() - pad, 0), ys.max() + pad + 1), slice(max(xs.min() - pad, 0), xs.max() + pad + 1))
        region = _decontaminate(photo[box], alpha[box]) if alpha[box].any() else photo[box]
        colours[box][changed[box]] = region[changed[box]]
    notes = cut.notes + ("mask corrected by hand",)
    return _assemble(colours, alpha, cut.method, notes, check_cutout(alpha))
