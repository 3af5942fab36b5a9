"""Taps on a photo -> the mask of what they point at, at the photo's size.

`Selector` is owned by its caller (the Studio, a benchmark); it keeps the salient-object model's
session and a few prepared photos (work copy, salient objects, superpixels), keyed by the photo's
pixels, so each further tap or slider move on the same photo costs only the segmentation. Nothing
here is global.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from editor.ad.cutout import RembgSessions, rembg_model_file
from editor.digests import array_digest
from editor.select import adjust as adjustments
from editor.select.adjust import Adjustments
from editor.select.points import Tap, check_on_photo
from editor.select.segment import Scene, analyse, segment
from editor.select.work_copy import SELECT_PIXELS, WorkCopy, work_copy

# The salient-object model: the smallest U²-Net first (a tap must answer in about a second on a
# CPU); both are the cut-out's own permissively licensed models (`models.registry`).
SALIENCY_MODELS = ("u2netp", "u2net")
CACHED_PHOTOS = 4


@dataclass
class Selection:
    mask: np.ndarray  # float32 H×W in [0, 1] at the photo's size (1: selected)
    report: dict


@dataclass
class _Prepared:
    work: WorkCopy
    scene: Scene
    model: str | None
    # The last segmentation (its taps and its signed distance, photo pixels on the work copy): a slider move
    # (grow, feather, invert) reuses it.
    taps: tuple | None = None
    distance: np.ndarray | None = None
    how: str = ""


def saliency_model() -> str | None:
    """The salient-object model on this machine (None: the graph cut alone)."""
    return next((name for name in SALIENCY_MODELS if rembg_model_file(name) is not None), None)


class Selector:
    def __init__(self, sessions: RembgSessions | None = None, work_pixels: int = SELECT_PIXELS,
                 cached_photos: int = CACHED_PHOTOS, model: str | None = "auto"):
        self._sessions = sessions or RembgSessions()
        self._work_pixels = work_pixels
        self._limit = max(1, cached_photos)
        self._model = model  # "auto": the first of SALIENCY_MODELS here; None: no model
        self._cache: OrderedDict[str, _Prepared] = OrderedDict()
        self._lock = threading.Lock()
        self._preparing: dict[str, threading.Event] = {}  # digest -> set when that photo is prepared

    def select(self, rgb: np.ndarray, taps: tuple[Tap, ...], adjust: Adjustments = Adjustments(),
               progress=None) -> Selection:
        """The mask the taps point at, adjusted; `progress(stage, step, total)` as the Studio's."""
        started = time.perf_counter()
        report = progress or (lambda *_: None)
        height, width = rgb.shape[:2]
        check_on_photo(taps, width, height)
        report("select", 0, 3)
        prepared, reused = self._prepared(rgb)
        report("select", 1, 3)
        key = tuple(taps)
        with self._lock:
            distance, how = (prepared.distance, prepared.how) if prepared.taps == key else (None, "")
        if distance is None:
            work = prepared.work
            work_taps = [(*work.point(t.x, t.y), t.positive) for t in taps]
            hard, how = segment(prepared.scene, work_taps)
            # Kept at the work copy's size (a few MB), in photo pixels: resampled for each answer.
            distance = adjustments.signed_distance(hard) * np.float32(work.scale)
            with self._lock:
                prepared.taps, prepared.distance, prepared.how = key, distance, how
        report("select", 2, 3)
        mask = adjustments.apply(prepared.work.to_photo(distance), adjust)
        report("select", 3, 3)
        work = prepared.work
        notes = []
        if work.scaled:
            notes.append(f"selected on a {work.size[0]}×{work.size[1]} copy, scaled back to the "
                         f"{width}×{height} photo")
        if prepared.model is None:
            notes.append("no salient-object model on this machine: the selection follows colours and edges only")
        return Selection(mask, {
            "method": how, "model": prepared.model, "points": sum(t.positive for t in taps),
            "negatives": sum(not t.positive for t in taps), "width": width, "height": height,
            "work_size": list(work.size), "coverage": round(float(mask.mean()), 4),
            "grow_px": adjust.grow_px, "feather_px": adjust.feather_px, "invert": adjust.invert,
            "reused_photo": reused, "seconds": round(time.perf_counter() - started, 3), "notes": notes})

    def prepare(self, rgb: np.ndarray) -> bool:
        """Prepare a photo before its first tap (work copy, salient objects, superpixels), so that tap
        costs only the segmentation. False when it was prepared already."""
        return not self._prepared(rgb)[1]

    def _prepared(self, rgb: np.ndarray) -> tuple[_Prepared, bool]:
        digest = array_digest(rgb)
        with self._lock:
            found = self._cache.pop(digest, None)
            if found is not None:
                self._cache[digest] = found
                return found, True
            # A tap that arrives while the same photo is being prepared waits for it instead of
            # preparing it a second time on the same cores.
            pending = self._preparing.get(digest)
            if pending is None:
                self._preparing[digest] = threading.Event()
        if pending is not None:
            pending.wait()
            return self._prepared(rgb)  # cached now (or prepared here if that preparation failed)
        try:
            work = work_copy(rgb, self._work_pixels)
            model = saliency_model() if self._model == "auto" else self._model
            salient = self._sessions.predict_alpha(model, work.rgb) if model else None
            prepared = _Prepared(work, analyse(work.rgb, salient), model)
            with self._lock:
                self._cache[digest] = prepared
                while len(self._cache) > self._limit:
                    self._cache.popitem(last=False)
        finally:
            with self._lock:
                self._preparing.pop(digest).set()
        return prepared, False

    def release(self) -> None:
        """Free the model session and the prepared photos."""
        with self._lock:
            self._cache.clear()
        self._sessions.release()
