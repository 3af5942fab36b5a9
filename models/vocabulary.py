"""The words the whole product shares, each spelled once, here in the lowest layer that knows it.

Every layer above (KV-Edit engine, memory planner, Studio, CLI, UI) imports these names instead of
writing the strings again; a test pins that the CLI, the UI and the engine accept the same sets.
"""

from __future__ import annotations

from typing import Literal, get_args

# --- what a diffusion model is asked to do (a pipeline per task, sharing one set of weights) ---
Task = Literal["text2img", "img2img", "inpaint", "kv-edit"]
TEXT2IMG: Task = "text2img"
IMG2IMG: Task = "img2img"
INPAINT: Task = "inpaint"
KV_EDIT: Task = "kv-edit"
TASKS: tuple[Task, ...] = get_args(Task)

# The memory planner sizes two kinds of job: a KV-Edit (with its background cache) and a plain
# generation (any other task: same weights, no cache).
PlanKind = Literal["kv-edit", "generate"]
GENERATE: PlanKind = "generate"
PLAN_KINDS: tuple[PlanKind, ...] = get_args(PlanKind)


# --- where KV-Edit keeps the background keys/values -------------------------------------------
# Store modes, fastest first. "fp8" becomes "int8" where the device has no float8 (the store says).
KVStoreMode = Literal["device", "cpu", "fp8", "int8"]
KV_STORE_MODES: tuple[KVStoreMode, ...] = get_args(KVStoreMode)
# Not a store: the inversion-free mode keeps one step alive and runs a source pass per step.
INVERSION_FREE: Literal["none"] = "none"
KVCacheMode = Literal["device", "cpu", "fp8", "int8", "none"]
KV_CACHE_MODES: tuple[KVCacheMode, ...] = (*KV_STORE_MODES, INVERSION_FREE)

# "auto" anywhere a choice can be left to the product (KV cache, memory mode, model, remover).
AUTO: Literal["auto"] = "auto"

# How KV-Edit refreshes the recorded background keys/values (editor/kv_edit/elastic.py): at every
# step and layer ("every-step", exact), or where an attention drift test says so ("elastic":
# keyframes in a stored cache; partial refreshes in the inversion-free mode). The speed setting
# picks one: exact -> every-step, fast / fastest -> elastic.
KVRefresh = Literal["every-step", "elastic"]
EVERY_STEP: KVRefresh = "every-step"
ELASTIC: KVRefresh = "elastic"
KV_REFRESH_MODES: tuple[KVRefresh, ...] = get_args(KVRefresh)

# --- how much fidelity a run may trade for speed (models/speed.py) -----------------------------
# exact: every step computed in full; fast / fastest: work reused across denoising steps where the
# model's output is predictable (diffusers' step-cache hooks for generation).
SpeedSetting = Literal["exact", "fast", "fastest"]
EXACT: SpeedSetting = "exact"
FAST: SpeedSetting = "fast"
FASTEST: SpeedSetting = "fastest"
SPEED_SETTINGS: tuple[SpeedSetting, ...] = get_args(SpeedSetting)

# --- how the weights are placed (the memory plan's offload) ------------------------------------
Offload = Literal["none", "model", "group"]
OFFLOAD_MODES: tuple[Offload, ...] = get_args(Offload)
# What an operator may set as the memory mode: AUTO (the planner fits each job) or a forced offload.
MEMORY_MODES: tuple[str, ...] = (AUTO, *OFFLOAD_MODES)

# --- how a diffusion model takes guidance -------------------------------------------------------
# embedded: a model input (guidance-distilled, FLUX.1 [dev]); cfg: true classifier-free guidance, a
# second pass with the negative prompt (FLUX.2 [klein] Base, Z-Image); none: neither (step-distilled).
GuidanceKind = Literal["embedded", "cfg", "none"]
EMBEDDED: GuidanceKind = "embedded"
CFG: GuidanceKind = "cfg"
NO_GUIDANCE: GuidanceKind = "none"
GUIDANCE_KINDS: tuple[GuidanceKind, ...] = get_args(GuidanceKind)
