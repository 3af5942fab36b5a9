"""One resident model family, serving every task from the same weights.

The old approach kept one full checkpoint per task (text-to-image, image-to-image, inpainting),
which tripled disk and memory. Here a family's transformer, VAE and text encoders are loaded once
(`base`) and every task pipeline is a `from_pipe` view of those same objects. LoRA styles live on
the shared transformer, so they apply to every task alike.

One manager per process, passed down explicitly. `lock` is held while loading, unloading and
while a pipeline runs: a multi-user app serialises use of the single GPU through it.
"""

from __future__ import annotations

import gc
import logging
import threading
from typing import Any

import torch

from editor.errors import IntactError
from models.loading import default_dtype, load_pipeline, pipeline_class, resolve
from models.registry import ModelSpec, get_spec

log = logging.getLogger(__name__)

TASKS = ("text2img", "img2img", "inpaint", "kv_edit")

# diffusers class per family and task. KV-Edit drives the text-to-image FluxPipeline's
# transformer directly, so it gets the base pipeline.
PIPELINE_CLASSES: dict[str, dict[str, str]] = {
    "flux": {
        "text2img": "FluxPipeline",
        "img2img": "FluxImg2ImgPipeline",
        "inpaint": "FluxInpaintPipeline",
        "kv_edit": "FluxPipeline",
    },
    "z-image": {
        "text2img": "ZImagePipeline",
        "img2img": "ZImageImg2ImgPipeline",
        "inpaint": "ZImageInpaintPipeline",
    },
}

OFFLOAD_MODES = ("none", "model", "group", "sequential")


class ModelManager:
    def __init__(self, device: torch.device | str | None = None, dtype: torch.dtype | None = None, loader=None):
        self.device = torch.device(device) if device is not None else _best_device()
        self.dtype = dtype or default_dtype(self.device)
        self._loader = loader or load_pipeline  # (name, dtype) -> pipeline
        self.lock = threading.RLock()
        self._name: str | None = None
        self._base = None
        self._pipes: dict[str, Any] = {}
        self._styles = None
        self._offload = "none"
        self._offload_installed_on: int | None = None  # id() of the pipeline holding model-offload hooks
        self._vae_tiling = False
        self._vae_slicing = False
        self.notes: list[str] = []  # what the memory plan could and could not do here
        self._marian = None

    @classmethod
    def from_pipeline(cls, name: str, pipe, device: torch.device | str | None = None) -> ModelManager:
        """Wrap an already built pipeline (tests, notebooks). It is used where it is, not moved."""
        spec = get_spec(name)
        _check_family(spec)
        device = torch.device(device) if device is not None else pipe.device
        manager = cls(device=device, dtype=pipe.transformer.dtype)
        manager._name, manager._base = name, pipe
        return manager

    # --- loading -------------------------------------------------------------------------------

    @property
    def loaded_name(self) -> str | None:
        return self._name

    @property
    def loaded_spec(self) -> ModelSpec | None:
        return get_spec(self._name) if self._name else None

    def base(self, name: str):
        """The family's text-to-image pipeline, loading it (and unloading another) when needed."""
        with self.lock:
            if self._name == name and self._base is not None:
                return self._base
            spec = get_spec(name)
            _check_family(spec)
            if self._loader is load_pipeline:
                resolve(name)  # a missing model fails here, before the resident one is dropped
            self.unload()  # one heavy family resident: free the old one before reading the new
            log.info("loading %s (%s)", name, self.dtype)
            pipe = self._loader(name, self.dtype)
            self._name, self._base = name, pipe
            self._place(pipe)
            return pipe

    def pipeline(self, name: str, task: str = "text2img"):
        """The pipeline for `task`, sharing every component with `base(name)`."""
        if task not in TASKS:
            raise IntactError(f"Unknown task '{task}'. Tasks: {', '.join(TASKS)}.")
        spec = get_spec(name)
        classes = PIPELINE_CLASSES[spec.family]
        if task not in classes:
            raise IntactError(f"{spec.title} cannot do {task}: {spec.note or 'not supported by this model'}.")
        with self.lock:
            base = self.base(name)
            class_name = classes[task]
            if type(base).__name__ == class_name:
                pipe = base
            elif class_name in self._pipes:
                pipe = self._pipes[class_name]
            else:
                # dtype matters: from_pipe casts the (shared!) modules to it, float32 by default,
                # which would silently turn a bf16 base into fp32 for every task.
                pipe = pipeline_class(class_name).from_pipe(base, dtype=self.dtype)
                self._pipes[class_name] = pipe
            self._prepare_offload(pipe)
            return pipe

    def unload(self) -> None:
        """Drop the resident family and the translator, and hand the memory back."""
        with self.lock:
            if self._base is not None:
                log.info("unloading %s", self._name)
                for pipe in [self._base, *self._pipes.values()]:
                    try:
                        pipe.remove_all_hooks()  # accelerate hooks hold references to the modules
                    except Exception:  # pipelines without offload hooks
                        pass
            if self._marian is not None:
                self._marian.unload()
            self._name, self._base, self._styles = None, None, None
            self._pipes.clear()
            self._offload_installed_on = None
            gc.collect()
            if torch.cuda.is_available():
                torch.cuda.empty_cache()

    # --- styles and translation ----------------------------------------------------------------

    @property
    def styles(self):
        """LoRA styles on the resident family (models.lora.LoraStyles)."""
        from models.lora import LoraStyles

        with self.lock:
            if self._base is None:
                raise IntactError("Load a model before choosing a style.")
            if self._styles is None:
                self._styles = LoraStyles(self._base, self._name)
            return self._styles

    @property
    def marian(self):
        """The Korean→English model holder (loads lazily on first translation)."""
        from models.translation import MarianTranslator

        with self.lock:
            if self._marian is None:
                self._marian = MarianTranslator()
            return self._marian

    # --- memory --------------------------------------------------------------------------------

    def apply_memory_plan(self, plan) -> list[str]:
        """Apply a models.memory MemoryPlan (read by attribute: offload, vae_tiling, vae_slicing).

        offload: "none" | "model" (whole components to CPU between uses) | "group" (transformer
        blocks streamed in groups) | "sequential" (leaf by leaf: least memory, slowest).
        Returns notes saying what was applied; offloading needs an accelerator, so on CPU it is a
        no-op with a note.
        """
        offload = str(getattr(plan, "offload", "none") or "none")
        if offload not in OFFLOAD_MODES:
            raise IntactError(f"Unknown offload mode '{offload}'. Modes: {', '.join(OFFLOAD_MODES)}.")
        with self.lock:
            if self._offload == "group" and offload != "group" and self._name is not None:
                # Group-offload hooks cannot be taken off in place: reload the family cleanly.
                name = self._name
                self.unload()
                self._offload = offload
                self.base(name)
            self._offload = offload
            self._vae_tiling = bool(getattr(plan, "vae_tiling", False))
            self._vae_slicing = bool(getattr(plan, "vae_slicing", self._vae_tiling))
            self.notes = []
            if self._base is not None:
                # Changing the offload mode means starting from plain, un-hooked modules.
                for pipe in [self._base, *self._pipes.values()]:
                    pipe.remove_all_hooks()
                self._offload_installed_on = None
                self._place(self._base)
            return list(self.notes)

    def _place(self, pipe) -> None:
        vae = getattr(pipe, "vae", None)
        if vae is not None:
            (vae.enable_tiling if self._vae_tiling else vae.disable_tiling)()
            (vae.enable_slicing if self._vae_slicing else vae.disable_slicing)()
        if self._offload != "none" and self.device.type == "cpu":
            self.notes.append(f"offload '{self._offload}' skipped: the model already runs on the CPU")
        if self._offload == "none" or self.device.type == "cpu":
            pipe.to(self.device)
        elif self._offload == "group":
            pipe.enable_group_offload(onload_device=self.device, offload_device=torch.device("cpu"),
                                      offload_type="block_level", num_blocks_per_group=1)
            self.notes.append("group offload: transformer blocks stream from CPU memory one group at a time")
        self._prepare_offload(pipe)

    def _prepare_offload(self, pipe) -> None:
        # Model/sequential offload hooks follow one pipeline's component order; diffusers advises
        # installing them again on a pipeline made with from_pipe before running it.
        if self.device.type == "cpu" or self._offload not in ("model", "sequential"):
            return
        if self._offload_installed_on == id(pipe):
            return
        if self._offload == "model":
            pipe.enable_model_cpu_offload(device=self.device)
        else:
            pipe.enable_sequential_cpu_offload(device=self.device)
        self._offload_installed_on = id(pipe)
        self.notes.append(f"{self._offload} CPU offload installed on {type(pipe).__name__}")


def _best_device() -> torch.device:
    return torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")


def _check_family(spec: ModelSpec) -> None:
    if spec.kind != "diffusion" or spec.family not in PIPELINE_CLASSES:
        raise IntactError(f"'{spec.name}' is not an image generation model.")
