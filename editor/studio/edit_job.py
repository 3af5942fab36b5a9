"""The edit job's typed stages: what `Studio.invert` and `Studio.edit` hand from one step to the next.

    ResolvedEdit   the request, checked once: the photo and mask read (size-checked, with their
                   notes), the work area around the mask, the model, the prompts as it reads them,
                   and the engine's options (checked against the one declaration, editor/options.py)
    PlannedEdit    the memory plan, and the KV cache it leads to, as one value
    (run)          the client's EditSession edits the work area; the full photo is pasted once
    EditReport     one dataclass with one spelling per key, serialised once (docs/report.md)

Like a diffusers pipeline's `check_inputs -> prepare -> loop -> decode`, each stage takes the value
of the one before, so the Studio's job methods read top to bottom.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from editor.images import as_mask, load_image
from editor.kv_edit.options import EditOptions
from editor.kv_edit.work_area import WorkArea, work_area
from editor.options import EDIT_OPTIONS
from editor.studio.memory import kv_cache_for, plan_report
from editor.translate import Translation
from models.memory.planner import MemoryPlan
from models.registry import ModelSpec
from models.vocabulary import AUTO

TRANSPARENCY_NOTE = "the image's transparency is not used: editing works on its colours"


@dataclass(frozen=True)
class ResolvedEdit:
    image: np.ndarray  # RGB uint8, the whole photo
    mask: np.ndarray  # float32 H×W in [0, 1], the photo's size (1 = regenerate)
    area: WorkArea  # the crop around the mask the model edits, at its working size
    notes: tuple[str, ...]  # what was done to the inputs (EXIF rotation, CMYK, resized mask, ...)
    spec: ModelSpec
    options: EditOptions  # checked once; its kv_cache is settled by the plan (see `planned`)
    kv_choice: str  # the KV cache asked for: AUTO (the plan chooses) or a mode
    style: str | None = None
    style_weight: float | None = None
    # The prompts as the model reads them, added once the pictures are known to be usable (so the
    # owner is told about the photo and the painting before the words).
    source: Translation | None = None
    target: Translation | None = None  # None for an inversion

    @property
    def mask_fraction(self) -> float:
        """The share of the work area that is regenerated (the memory plan sizes the cache by it)."""
        x0, y0, x1, y1 = self.area.box
        crop = self.mask[y0:y1, x0:x1]
        return float((crop > 0.5).mean()) if crop.size else 1.0

    @property
    def plan_key(self) -> tuple:
        """What the memory plan depends on besides the photo: a repeat edit with the same keeps it."""
        return (self.options.steps, self.options.skip_steps, self.options.speed)


def resolve_edit(request, spec: ModelSpec, kv_default: str, working_pixels: int) -> ResolvedEdit:
    """Stage 1: read the photo and the mask once, as the job will use them, and the options once.
    `kv_default`: the KV cache a request that says AUTO gets from the operator (AUTO: the plan's)."""
    loaded = load_image(request.image, field="image")  # size-checked from the file's header first
    mask, mask_notes = as_mask(request.mask, loaded.size)
    area = work_area(mask, working_pixels)
    notes = (*loaded.notes, *mask_notes)
    if loaded.alpha is not None:
        notes += (TRANSPARENCY_NOTE,)
    if area.scaled:
        notes += (f"edited at {area.size[0]}×{area.size[1]} around the painted area, pasted back into the "
                  f"{area.photo_size[0]}×{area.photo_size[1]} photo",)
    kv_choice = request.kv_cache if request.kv_cache != AUTO else kv_default
    # every declared option the request sets (kv_cache is settled below); None: the model's default
    given = {o.name: getattr(request, o.name) for o in EDIT_OPTIONS
             if o.name != "kv_cache" and getattr(request, o.name) is not None}
    # "device" stands in until the plan settles the cache (the store modes are checked there).
    options = EditOptions.for_model(spec.name, **given, kv_cache=kv_choice if kv_choice != AUTO else "device")
    return ResolvedEdit(loaded.rgb, mask, area, notes, spec, options, kv_choice, request.style, request.style_weight)


@dataclass(frozen=True)
class PlannedEdit:
    """Stage 2: the plan chosen for this edit, the one it ran with (the fallback after an
    out-of-memory retry), and the options with the KV cache that plan leads to."""

    chosen: MemoryPlan
    ran: MemoryPlan
    options: EditOptions

    @classmethod
    def settle(cls, edit: ResolvedEdit, chosen: MemoryPlan, ran: MemoryPlan) -> PlannedEdit:
        return cls(chosen, ran, options_for(edit, ran))

    def report(self) -> dict:
        return plan_report(self.chosen, self.ran)


def options_for(edit: ResolvedEdit, plan: MemoryPlan | None) -> EditOptions:
    """The engine's options under `plan`: the KV cache the request asked for, or the plan's."""
    return replace(edit.options, kv_cache=kv_cache_for(edit.kv_choice, plan))


# Keys the engine's own report states for its crop that the job states for the whole photo.
_PHOTO_KEYS = ("width", "height", "notes")


@dataclass
class EditReport:
    """What an inversion or an edit reports: each key once. `engine` is the EditSession's report
    (its steps, tokens, timings, cache) about the work area; the rest is the job's."""

    engine: dict[str, Any]
    model: dict[str, Any]  # name, label, title, license, commercial_use, random_weights
    memory_plan: dict[str, Any]
    work_area: dict[str, Any]
    width: int  # the whole photo's
    height: int
    inversion: str  # "computed", "reused", "recomputed (why)", "not needed (...)"
    source_translation: dict[str, Any]
    target_translation: dict[str, Any] | None = None
    style: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)
    seconds: float | None = None  # what the user waited, saving included (set once saved)

    def to_dict(self) -> dict[str, Any]:
        """The report as plain JSON-ready data. Sections may not share a key: a second spelling
        (`licence` beside `license`) or a value set twice is a bug, refused here."""
        engine = {k: v for k, v in self.engine.items() if k not in _PHOTO_KEYS}
        job = {"memory_plan": self.memory_plan, "work_area": self.work_area, "width": self.width,
               "height": self.height, "inversion": self.inversion, "source_translation": self.source_translation,
               "style": self.style, "notes": self.notes}
        if self.target_translation is not None:
            job["target_translation"] = self.target_translation
        if self.seconds is not None:
            job["seconds"] = round(self.seconds, 3)
        return merged(engine, self.model, job)


def merged(*sections: dict[str, Any]) -> dict[str, Any]:
    """The sections as one dict; a key in two sections raises (each key is stated once)."""
    out: dict[str, Any] = {}
    for section in sections:
        twice = out.keys() & section.keys()
        if twice:
            raise ValueError(f"report keys stated twice: {sorted(twice)}")
        out.update(section)
    return out


def job_notes(edit: ResolvedEdit, engine_notes) -> list[str]:
    """The inputs' notes, then the engine's (a prompt longer than the model reads), each once."""
    return list(dict.fromkeys([*edit.notes, *engine_notes]))
