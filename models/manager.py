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
from types import MappingProxyType
from typing import Any

import torch

from models.errors import IntactError
from models.families import FAMILIES, cfg_active, family_of, task_inputs
from models.loading import default_dtype, load_pipeline, pipeline_class, resolve
from models.memory.offload import place_pipeline, require_quantized_weights
from models.memory.prompt_cache import PromptEmbeddingCache, encode_cached
from models.registry import ModelSpec, get_spec
from models.vocabulary import OFFLOAD_MODES, TASKS, TEXT2IMG, Task

log = logging.getLogger(__name__)

# diffusers class per family and task (read-only; the facts live in models.families). KV-Edit
# drives the text-to-image pipeline's modules, so it gets the family's base pipeline.
PIPELINE_CLASSES: MappingProxyType[str, MappingProxyType[Task, str]] = MappingProxyType(
    {name: MappingProxyType(dict(family.pipelines)) for name, family in FAMILIES.items()}
)


class ModelManager:
    def __init__(self, device: torch.device | str | None = None, dtype: torch.dtype | None = None, loader=None,
                 progress_bars: bool = True):
        self.device = torch.device(device) if device is not None else _best_device()
        self.progress_bars = progress_bars  # False: the pipelines' own tqdm bars stay off stderr
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
        self._feature_chunks = 1
        self._text_encoders_on_device = True  # encode prompts on the compute device (the plan may say CPU)
        self._text_encoder_device = self.device
        self.notes: list[str] = []  # what the memory plan could and could not do here
        # Encoded prompts of the resident family, shared by its sessions and runs; cleared on unload.
        self.prompt_cache = PromptEmbeddingCache()
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
            self.require_available(name)  # a missing model fails here, before the resident one is dropped
            self.unload()  # one heavy family resident: free the old one before reading the new
            log.info("loading %s (%s)", name, self.dtype)
            pipe = self._loader(name, self.dtype)
            self._name, self._base = name, pipe
            self._place(pipe)
            return pipe

    def require_available(self, name: str) -> None:
        """ModelNotAvailableError (saying where we looked and how to fetch it) unless `name` can be
        loaded; cheap, so callers check before planning memory for a model that is not there."""
        if self._loader is load_pipeline and self._name != name:
            resolve(name)

    def pipeline(self, name: str, task: Task = TEXT2IMG):
        """The pipeline for `task`, sharing every component with `base(name)`."""
        if task not in TASKS:
            raise IntactError(f"Unknown task '{task}'. Tasks: {', '.join(TASKS)}.")
        spec = get_spec(name)
        classes = family_of(spec).pipelines
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
            if not self.progress_bars:
                pipe.set_progress_bar_config(disable=True)
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
            self.prompt_cache.clear()  # embeddings belong to the family's text encoders
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
        """Apply a models.memory MemoryPlan (read by attribute: offload, vae_tiling, text_encoders).

        offload: "none" | "model" (whole components to CPU between uses) | "group" (transformer
        blocks streamed one at a time on a side stream). The placing itself is
        `models.memory.offload.place_pipeline`. Returns notes saying what was applied; offloading
        needs an accelerator, so on CPU it is a no-op with a note.
        """
        offload = str(getattr(plan, "offload", "none") or "none")
        if offload not in OFFLOAD_MODES:
            raise IntactError(f"Unknown offload mode '{offload}'. Modes: {', '.join(OFFLOAD_MODES)}.")
        key = (offload, bool(getattr(plan, "vae_tiling", False)), getattr(plan, "text_encoders", "device") == "device",
               int(getattr(plan, "feature_chunks", 1)))
        with self.lock:
            if self._base is not None:
                require_quantized_weights(self._base, plan)
                if key == self._plan_key():
                    return list(self.notes)  # placed like this already: re-placing would re-pin weights
            if self._offload == "group" and offload != "group" and self._name is not None and self.device.type != "cpu":
                # Leaving group offload: reload the family cleanly rather than trust pinned copies
                # and streams left behind by removed hooks.
                name = self._name
                self.unload()
                self._set_plan(offload, plan)
                self.base(name)
                return list(self.notes)
            self._set_plan(offload, plan)
            if self._base is not None:
                self._offload_installed_on = None
                self._place(self._base)
            return list(self.notes)

    def _plan_key(self) -> tuple[str, bool, bool, int]:
        return self._offload, self._vae_tiling, self._text_encoders_on_device, self._feature_chunks

    def _set_plan(self, offload: str, plan) -> None:
        self._offload = offload
        self._vae_tiling = bool(getattr(plan, "vae_tiling", False))
        self._text_encoders_on_device = getattr(plan, "text_encoders", "device") == "device"
        self._feature_chunks = int(getattr(plan, "feature_chunks", 1))
        self.notes = []

    def _place(self, pipe) -> None:
        offload = self._offload
        if offload != "none" and self.device.type == "cpu":
            self.notes.append(f"offload '{offload}' skipped: the model already runs on the CPU")
            offload = "none"
        self._text_encoder_device = place_pipeline(pipe, offload, self._vae_tiling, self._text_encoders_on_device, self.device,
                                                   self._feature_chunks)
        if offload == "model":
            self._offload_installed_on = id(pipe)
            self.notes.append(f"model CPU offload installed on {type(pipe).__name__}")
        elif offload == "group":
            self.notes.append("group offload: transformer blocks stream from pinned CPU memory one block at a time")

    def _prepare_offload(self, pipe) -> None:
        # Model offload hooks follow one pipeline's component order; diffusers advises installing
        # them again on a pipeline made with from_pipe before running it.
        if self.device.type == "cpu" or self._offload != "model" or self._offload_installed_on == id(pipe):
            return
        self._place(pipe)

    # --- prompts -------------------------------------------------------------------------------

    def prompt_inputs(self, name: str, pipe, prompt: str, num_images: int = 1, *, guidance: float | None = None,
                      negative_prompt: str | None = None) -> dict[str, Any]:
        """Keyword arguments that give `pipe` its prompt, for any family: the embeddings, from the
        prompt cache or encoded with the text encoders visiting the accelerator just for that; with
        true CFG at `guidance` (`models.families.cfg_active`) also the negative prompt's ("" when
        None), which the pipelines need once they are given embeddings."""
        spec = get_spec(name)
        family = family_of(spec)
        with self.lock:
            device = torch.device(pipe._execution_device)
            encode_device = self._text_encoder_device if self._text_encoder_device.type == "cpu" else device

            def embeddings(text: str) -> tuple:
                return encode_cached(pipe, family.encode, text, spec.max_sequence_length, device,
                                     cache=self.prompt_cache, model_name=name, encode_device=encode_device)

            kwargs = family.prompt_kwargs(embeddings(prompt), num_images)
            if guidance is not None and cfg_active(spec, guidance) and family.negative_kwargs is not None:
                kwargs.update(family.negative_kwargs(embeddings(negative_prompt or ""), num_images))
        return kwargs

    def generation_inputs(self, name: str, pipe, task: Task, prompt: str, *, guidance: float, num_images: int = 1,
                          negative_prompt: str | None = None, image=None, mask=None,
                          strength: float | None = None) -> dict[str, Any]:
        """Every family-specific keyword of one generation call on `pipe` (the task pipeline from
        `pipeline(name, task)`): the prompt's embeddings (and the negative prompt's under true CFG),
        the guidance value as the family's pipelines read it, and the task's input picture and mask
        (FLUX.2 [klein] runs image-to-image as an inpaint with an all-white mask)."""
        spec = get_spec(name)
        kwargs = self.prompt_inputs(name, pipe, prompt, num_images, guidance=guidance, negative_prompt=negative_prompt)
        kwargs["guidance_scale"] = float(guidance)
        kwargs["max_sequence_length"] = spec.max_sequence_length
        kwargs.update(task_inputs(family_of(spec), task, image=image, mask=mask, strength=strength))
        return kwargs

    def resident_bytes(self) -> tuple[int, int]:
        """(accelerator bytes, CPU bytes) held by the resident family's weights. A memory plan made
        while they are loaded adds them back to the free memory: they are reused or unloaded."""
        accelerator = cpu = 0
        with self.lock:
            if self._base is None:
                return 0, 0
            seen: set[int] = set()
            for component in self._base.components.values():
                if not isinstance(component, torch.nn.Module):
                    continue
                for tensor in [*component.parameters(), *component.buffers()]:
                    if id(tensor) in seen:
                        continue
                    seen.add(id(tensor))
                    if tensor.device.type == "cpu":
                        cpu += tensor.numel() * tensor.element_size()
                    else:
                        accelerator += tensor.numel() * tensor.element_size()
        return accelerator, cpu

    @property
    def text_encoder_device(self) -> torch.device:
        """Where prompts are encoded under the current plan (the compute device or the CPU)."""
        return self._text_encoder_device


def _best_device() -> torch.device:
    return torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")


def _check_family(spec: ModelSpec) -> None:
    family_of(spec)  # an IntactError for anything that is not an image generator
