"""The Studio: the one place a job is run, whoever asks (the web UI, the CLI, a serving replica).

Every job goes through the same steps, in this order, and each job method below reads top to
bottom as those steps:

    1. validate     the request checked its fields when it was made; here, what needs the machine
    2. model        resolve the model (AUTO picks one), say which, with its licence
    3. plan         plan memory for this job on this machine (the operator may force an offload)
    4. adapters     set the LoRA state for *this* request: its style, or none (never a leftover)
    5. run          on the shared model, with progress and cancellation; out of memory -> retry
                    once with the plan's cheaper fallback
    6. save         one record: the files and one history line, atomically
    7. result       typed, with the report

The Studio owns the model manager, the output store, the translator, the memory policy and the
clients' session state (inversions, ad node caches); front ends own none of them.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, fields, replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from editor.ad.brand import BrandStore
from editor.ad.design import layouts_to_json
from editor.ad.formats import unique_formats
from editor.ad.workflow import AdRequest, AdWorkflow
from editor.digests import array_digest
from editor.errors import InputError, IntactError
from editor.generate import GenerateRequest, resolve_settings, run_generation
from editor.images import load_image
from editor.kv_edit import EditSession
from editor.kv_edit.work_area import WORKING_PIXELS, WorkArea
from editor.select import Selector
from editor.select.request import SelectOutcome, SelectRequest
from editor.storage import JobFile, OutputStore, SavedJob, readable_name
from editor.studio import catalog
from editor.studio.context import JobContext, RunningJobs
from editor.studio.edit_job import (
    EditReport,
    PlannedEdit,
    ResolvedEdit,
    job_notes,
    merged,
    options_for,
    resolve_edit,
)
from editor.studio.memory import MemoryPolicy, plan_report
from editor.studio.requests import AdBatchRequest, CutoutRequest, EditRequest, InvertRequest, edit_defaults
from editor.studio.sessions import EditState, SessionStore
from editor.translate import require_words
from models.registry import ModelSpec, get_spec
from models.vocabulary import AUTO, GENERATE, KV_EDIT, TEXT2IMG

MIB = 2**20
NOT_PICTURES = ("mask", "zip", "layout")  # saved files a gallery does not show


@dataclass(frozen=True)
class StudioConfig:
    output_dir: Path | None = None  # None: $INTACT_OUTPUT_DIR or outputs/
    device: str | None = None  # None: cuda when present, else cpu
    memory_mode: str = AUTO  # AUTO: the planner fits each job; or force an offload mode
    kv_cache: str = AUTO  # the KV cache an edit gets when its request leaves it to AUTO
    max_edit_sessions: int = 2  # clients that keep an inversion in memory (GBs each at real size)
    max_ad_sessions: int = 32  # clients whose ad node cache (cut-outs, backgrounds) is kept
    # Edits run on a crop around the mask at about this many pixels, pasted back into the photo.
    working_pixels: int = WORKING_PIXELS
    progress_bars: bool = True  # the libraries' own progress bars on stderr (the CLI draws its own line)
    brand_dir: Path | None = None  # saved brand kits; None: $INTACT_BRAND_DIR or brands/


# --- results ---------------------------------------------------------------------------------


@dataclass
class EditOutcome:
    image: Image.Image  # the input's size; pixels outside the mask are the input's, bit for bit
    before: Image.Image
    mask: np.ndarray  # float32 H×W in [0, 1], as the edit used it
    report: dict
    saved: SavedJob | None = None


@dataclass
class InvertOutcome:
    report: dict


@dataclass
class CutoutOutcome:
    cutout: Any  # editor.ad.CutOut
    report: dict
    saved: SavedJob | None = None


@dataclass
class AdOutcome:
    images: dict[str, Image.Image]  # format name -> picture
    report: dict
    cutout: Any = None
    saved: SavedJob | None = None
    layouts: dict = field(default_factory=dict)  # format name -> editor.ad.AdLayout, every field set


@dataclass
class AdBatchOutcome:
    items: list[dict]  # per product: name, status ("done" / "failed"), files in the zip, error
    report: dict
    saved: SavedJob | None = None


@dataclass
class GenerateOutcome:
    images: list[Image.Image]
    report: dict
    saved: SavedJob | None = None


@dataclass(frozen=True)
class SavedResult:
    path: Path
    task: str  # "edit", "ad", "generate", "cutout"
    caption: str  # the words of the job (target prompt, headline, prompt)
    job_id: str
    role: str  # "result", "ad:story", ...
    saved_at: str
    own: bool  # saved by the asking session


class Studio:
    def __init__(self, config: StudioConfig | None = None, *, manager=None, store: OutputStore | None = None):
        self.config = config or StudioConfig()
        self._lock = threading.Lock()
        self._manager = manager
        self._store = store
        self._brands: BrandStore | None = None
        self._translator = None
        self.memory = MemoryPolicy(self.config.memory_mode)
        self.sessions = SessionStore(self.config.max_edit_sessions, self.config.max_ad_sessions,
                                     lambda: AdWorkflow(manager=self.manager))
        self._running: RunningJobs[JobContext] = RunningJobs()
        self.last_plan: dict | None = None  # the `memory_plan` of the latest model job (Status tab)
        self.replicas_restarting = False  # jobs run in this process: no replicas to wait for (StudioPort)
        self.selector = Selector()  # tap to select: its model session and a few prepared photos

    # --- what the Studio owns, created on first use (the app starts without weights) -------

    @property
    def manager(self):
        with self._lock:
            if self._manager is None:
                from models.manager import ModelManager

                self._manager = ModelManager(device=self.config.device, progress_bars=self.config.progress_bars)
            return self._manager

    @property
    def manager_started(self) -> bool:
        return self._manager is not None

    @property
    def store(self) -> OutputStore:
        with self._lock:
            if self._store is None:
                self._store = OutputStore(self.config.output_dir)
            return self._store

    @property
    def brands(self) -> BrandStore:
        """The shops' saved brand kits (name, logo, colours, font), applied to ads that name them."""
        with self._lock:
            if self._brands is None:
                self._brands = BrandStore(self.config.brand_dir)
            return self._brands

    @property
    def translator(self):
        """Korean→English for prompts; shares the manager's Marian model (loaded on first need)."""
        marian = self.manager.marian
        with self._lock:
            if self._translator is None:
                from editor.translate import Translator

                self._translator = Translator(marian=marian)
            return self._translator

    # --- listings for front ends -----------------------------------------------------------

    def models(self, task: str | None = None) -> list[catalog.ModelChoice]:
        return catalog.model_choices(task)

    def default_model(self, task: str | None = None, preferred: str | None = None) -> str:
        return catalog.default_model(task, preferred)

    def styles(self) -> dict:
        from models.lora import load_styles

        return load_styles()

    def presets(self) -> dict:
        from editor.presets import load_presets

        return load_presets()

    def data_problems(self) -> list:
        """The data files skipped because they cannot be read (LoRA styles, shop presets, ad
        backdrops, shared brand kits), each a `models.data_files.DataProblem`: the file's name and one line,
        no folder. Each is also in the log with its full path. For the Status tab."""
        from editor.ad.backgrounds import scan_backdrops
        from editor.presets import scan_presets
        from models.lora import scan_styles

        return [*scan_styles()[1], *scan_presets()[1], *scan_backdrops()[1], *self.brands.scan()[1]]

    def plan_preview(self, model: str):
        """The plan a 1024×1024 job on `model` would get here (an edit where the model can edit),
        planned without the model manager, so asking loads and starts nothing."""
        from models.memory.planner import plan_for_this_machine

        spec = get_spec(model)
        task = KV_EDIT if catalog.can_do(spec, KV_EDIT) else GENERATE
        steps = edit_defaults(spec)["steps"] if task == KV_EDIT else spec.default_steps
        from editor.studio.memory import forced

        return forced(plan_for_this_machine(model, 1024, 1024, steps, 0.25, task=task), self.config.memory_mode)

    def resident(self) -> tuple[str | None, list[str]]:
        """The model loaded now (None when none is) and the notes of its memory placement."""
        if not self.manager_started:
            return None, []
        return self.manager.loaded_name, list(self.manager.notes)

    def saved_results(self, owner: str | None = None, only_owner: bool = False, limit: int = 200) -> list[SavedResult]:
        """Saved pictures, newest first (one per result file whose file still exists): for a gallery.
        With `only_owner` only the results `owner`'s session saved are listed."""
        store, items = self.store, []
        for record in reversed(store.history()):
            if only_owner and (owner is None or record.get("owner") != owner):
                continue
            for listed in record["files"]:
                if listed.get("role") in NOT_PICTURES:
                    continue
                path = store.path_of(listed)
                if path.is_file():
                    items.append(SavedResult(path, record.get("task", ""), record.get("caption", ""), record["id"],
                                             listed.get("role", ""), record.get("saved_at", ""),
                                             record.get("owner") == owner and owner is not None))
                if len(items) >= limit:
                    return items
        return items

    def delete_result(self, job_id: str, owner: str | None) -> bool:
        """Delete a saved job's files when `owner` saved it."""
        return owner is not None and self.store.delete_job(job_id, owner)

    # --- jobs ---------------------------------------------------------------------------------

    def invert(self, request: InvertRequest, context: JobContext | None = None) -> InvertOutcome:
        """Invert a photo ahead of its edits; the session's next edits of it reuse the inversion."""
        ctx = context or JobContext()
        with self._job(ctx):
            # 1-2. validate (photo, mask and options, once), model, source prompt as it reads it
            edit = self._resolve_edit(request, ctx)
            # 3-5. plan, adapters, run (on the work area)
            info, planned, state = self._run_edit(edit, ctx)
            # 7. result (an inversion saves nothing: it lives in the session)
            report = self._edit_report(edit, planned, state, info)
            report.seconds = ctx.waited()
            return InvertOutcome(report.to_dict())

    def edit(self, request: EditRequest, context: JobContext | None = None) -> EditOutcome:
        """KV-Edit: regenerate the painted region to match the target prompt; nothing else changes."""
        ctx = context or JobContext()
        with self._job(ctx):
            # 1-2. validate (photo, mask and options, once), model, prompts as it reads them
            edit = self._resolve_edit(request, ctx)
            # 3-5. plan, adapters, run (on the work area: the crop around the mask, at the model's size)
            result, planned, state = self._run_edit(edit, ctx)
            # back to the full photo, once: only pixels under the mask change
            ctx.report("paste", 0, 1)
            edited = Image.fromarray(_pasted(edit.image, edit.mask, edit.area, result, planned.options.feather_px), "RGB")
            ctx.report("paste", 1, 1)
            report = self._edit_report(edit, planned, state, result.report)
            # 6. save: the result and the mask it was made with, so the edit can be reviewed and redone
            saved = self._save(ctx, "edit", request, report.to_dict(), caption=request.target_prompt, files=[
                JobFile("result", readable_name("edit", request.target_prompt), image=edited),
                JobFile("mask", "mask.png", image=_mask_image(edit.mask)),
            ])
            # 7. result, with the time the user waited (saving included)
            report.seconds = ctx.waited()
            return EditOutcome(edited, Image.fromarray(edit.image), edit.mask, report.to_dict(), saved)

    def cutout(self, request: CutoutRequest, context: JobContext | None = None) -> CutoutOutcome:
        """Cut the product out of a photo (no diffusion model: runs beside GPU jobs)."""
        ctx = context or JobContext()
        with self._job(ctx):
            # 1. validate (the photo is read by the workflow, through its node cache)
            workflow = self.sessions.ad_workflow(ctx.session)
            # 2-5. no diffusion model, plan or adapters: the cut-out models run on the CPU
            cut = workflow.cutout(request.image, request.remover, request.add, request.remove, progress=ctx.report)
            x0, y0, x1, y1 = cut.bbox()
            report = {**cut.report(), "width": cut.size[0], "height": cut.size[1], "bbox": [x0, y0, x1, y1],
                      "coverage": round(float(cut.alpha.mean()), 4), "needs_review": cut.needs_review}
            # 6. save
            saved = self._save(ctx, "cutout", request, report, caption=cut.method,
                               files=[JobFile("result", readable_name("cutout", cut.method), image=cut.to_pil())])
            # 7. result, with the time the user waited (saving included)
            return CutoutOutcome(cut, {**report, "seconds": round(ctx.waited(), 3)}, saved)

    def select(self, request: SelectRequest, context: JobContext | None = None) -> SelectOutcome:
        """Tap to select: the mask of what the taps point at (no diffusion model: runs on the CPU)."""
        ctx = context or JobContext()
        with self._job(ctx):
            # 1. validate: the photo as the job reads it; the taps are checked against its size
            loaded = load_image(request.image, field="image")
            # 2-5. no diffusion model, plan or adapters: the salient-object model runs on the CPU
            selection = self.selector.select(loaded.rgb, request.taps, request.adjustments, progress=ctx.report)
            # 6. nothing saved: a selection is a step toward an edit or an ad, which save their masks
            # 7. result
            report = dict(selection.report, notes=[*loaded.notes, *selection.report["notes"]],
                          seconds=round(ctx.waited(), 3))
            return SelectOutcome(selection.mask, report)

    def prepare_select(self, image, session: str | None = None) -> bool:
        """Prepare a photo for tap to select before its first tap (the slow part: work copy, salient
        objects, superpixels), so the first tap answers as fast as the next. False: prepared already.
        `session`: whose taps will follow (one Studio answers them all; a serving client routes by it)."""
        return self.selector.prepare(load_image(image, field="image").rgb)

    def make_ad(self, request: AdRequest, context: JobContext | None = None) -> AdOutcome:
        """Product ads in every requested format; a generated background runs on the shared model."""
        ctx = context or JobContext()
        with self._job(ctx):
            # 1. validate (the workflow checks texts, formats and the background choice first)
            workflow = self.sessions.ad_workflow(ctx.session)
            request = replace(request, out_dir=None)  # files are saved as the job's record (step 6)
            # 2-5. model, plan, adapters, run
            result, report = self._ad_steps(workflow, request, ctx)
            # 6. save: every format (a format listed twice once), the layouts to adjust, a zip of the pictures
            files = [JobFile(f"ad:{name}", readable_name(request.headline, name), image=result.images[name])
                     for name in unique_formats(request.formats)]
            files.append(JobFile("zip", readable_name(request.headline, "ads", suffix=".zip"),
                                 zip_of=tuple(f.name for f in files)))  # the pictures' PNG bytes, encoded once
            files.append(JobFile("layout", readable_name(request.headline, "layout", suffix=".json"),
                                 data=layouts_to_json(result.layouts).encode("utf-8")))
            saved = self._save(ctx, "ad", request, report, caption=request.headline, files=files)
            # 7. result
            # 7. result, with the time the user waited (saving included)
            report = {**report, "seconds": round(ctx.waited(), 3)}
            return AdOutcome(result.images, report, result.cutout, saved, result.layouts)

    def make_ads_batch(self, request: AdBatchRequest, context: JobContext | None = None) -> AdBatchOutcome:
        """Every format for every product photo (one copy, or a CSV of copy per product): one zip.
        Progress reports stage "product" once per product; a product that fails is listed with its
        reason and the others go on."""
        from editor.ad import batch

        ctx = context or JobContext()
        with self._job(ctx):
            # 1. validate: the photos (zips opened) and their copy, before any ad is built
            ctx.report("prepare", 0, 1)
            products = batch.read_products(request.products)
            rows = batch.read_copy_csv(request.copy_csv) if request.copy_csv is not None else None
            t = request.template
            shared = {k: getattr(t, k) for k in batch.COPY_FIELDS} if t.headline or t.subline or t.price or t.cta else None
            items, notes = batch.batch_items(products, copy=shared, csv_rows=rows)
            workflow = self.sessions.ad_workflow(ctx.session)
            reports: list[dict] = []

            class _Runner:  # each product runs steps 2-5 of an ad job (a generated background: on the model)
                def run(_, ad_request):
                    result, report = self._ad_steps(workflow, ad_request, ctx, quiet=True)
                    reports.append(report)
                    return result

            def progress(event: batch.BatchEvent) -> None:
                if event.state != "started":
                    ctx.report("product", event.index + 1, event.total)

            # The zip goes to disk product by product (200 products of 4 formats would not fit in memory).
            with self.store.scratch_file(".zip") as zip_path:
                with open(zip_path, "wb") as out:
                    result = batch.run_batch(_Runner(), items, replace(t, out_dir=None), out, progress, notes)
                done = result.done
                report = {"products": len(items), "done": done, "failed": len(items) - done,
                          "formats": list(result.formats), "items": result.items, "notes": result.notes,
                          "seconds": round(ctx.waited(), 3),
                          "memory_plan": next((r["memory_plan"] for r in reversed(reports) if r.get("memory_plan")),
                                              None)}
                # 6. save: the zip of every product's formats and layouts
                # Named after the CSV the shop wrote (its products' copy), else the one headline.
                caption = batch.source_name(request.copy_csv) or t.headline or f"{len(items)} products"
                saved = self._save(ctx, "ad-batch", t, report, caption=caption,
                                   files=[JobFile("zip", readable_name(caption, "batch", suffix=".zip"), written=zip_path)])
            # 7. result
            return AdBatchOutcome(result.items, {**report, "seconds": round(ctx.waited(), 3)}, saved)

    def _ad_steps(self, workflow: AdWorkflow, request: AdRequest, ctx: JobContext, quiet: bool = False):
        """Steps 2-5 of an ad: the model when the background is generated, its plan, no style, the
        run; (workflow result, report). `quiet` leaves the per-stage progress out (a batch reports
        per product)."""
        progress = None if quiet else ctx.report
        task = _ad_model_task(request)
        if task is None:
            # 2-5. no diffusion model involved: uploaded or procedural background
            result, memory_plan = workflow.run(request, progress=progress or _cancel_check(ctx)), None
        else:
            # 2. model
            spec = self._model_for(request.model, task)
            request = replace(request, model=spec.name)
            # 3-5. plan (backgrounds are generated at most 1024 px on the long side), adapters, run
            plan = PlanAsk(1024, 1024, spec.default_steps, task if task == KV_EDIT else GENERATE, mask_fraction=0.7)
            result, memory_plan = self._on_model(spec, plan, None, None,
                                                 partial(workflow.run, request, progress=progress or _cancel_check(ctx)))
        report = dict(result.report, memory_plan=memory_plan, style=None,
                      **(_model_report(get_spec(request.model)) if task else {}))
        return result, report

    def generate(self, request: GenerateRequest, context: JobContext | None = None) -> GenerateOutcome:
        """Text-to-image or image-to-image, with a shop preset and a LoRA style."""
        ctx = context or JobContext()
        with self._job(ctx):
            # 1. validate: the settings the pipeline gets (preset, translation, the init image read)
            ctx.report("prepare", 0, 1)
            spec = self._model_for(request.model, request.task)
            request = replace(request, model=spec.name)
            # 2. model and settings
            settings = resolve_settings(request, spec, self.translator)
            # 3-5. plan, adapters (the request's style, or none), run
            plan = PlanAsk(settings.width, settings.height, settings.steps, GENERATE, images=request.num_images)
            result, memory_plan = self._on_model(spec, plan, settings.style, request.style_weight,
                                                 partial(run_generation, self.manager, request, settings,
                                                         progress=ctx.report))
            report = merged(result.report, _model_report(spec),
                            {"memory_plan": memory_plan, "style": _style_report(request, settings.style)})
            images = _without_blank_pictures(result.images, report)
            # 6. save
            caption = request.prompt or request.preset or ""
            files = [JobFile("result" if i == 0 else f"result-{i + 1}",
                             readable_name("generate", caption, *([str(i + 1)] if len(images) > 1 else [])),
                             image=image) for i, image in enumerate(images)]
            saved = self._save(ctx, "generate", request, report, caption=caption, files=files)
            # 7. result, with the time the user waited (saving included)
            return GenerateOutcome(images, {**report, "seconds": round(ctx.waited(), 3)}, saved)

    # --- session control ------------------------------------------------------------------

    def cancel(self, session: str) -> bool:
        """Stop the session's running jobs at their next step; False when none is running."""
        running = self._running.of(session)
        for ctx in running:
            ctx.cancel.set()
        return bool(running)

    def forget(self, session: str) -> None:
        """The client is gone: free its inversion and its ad cache now."""
        self.sessions.forget(session)

    def evict(self, session: str) -> None:
        """Free the session's inversion now, as if evicted to make room (a serving replica's own
        bound on sessions); waits for a job running on the model to finish first."""
        if not self.manager_started:
            self.sessions.evict(session)
            return
        with self.manager.lock:
            self.sessions.evict(session)

    # --- the shared steps -------------------------------------------------------------------

    @contextmanager
    def _job(self, ctx: JobContext) -> Iterator[JobContext]:
        """While a job runs, `cancel(session)` can reach its context."""
        with self._running.running(ctx.session, ctx):
            yield ctx

    def _resolve_edit(self, request: InvertRequest, ctx: JobContext) -> ResolvedEdit:
        """Steps 1-2 of an inversion or an edit: the photo, the mask and the options read once, the
        model, and the prompts as it reads them (Korean translated where it needs English)."""
        ctx.report("prepare", 0, 1)
        spec = self._model_for(request.model, KV_EDIT)
        edit = resolve_edit(request, spec, self.config.kv_cache, self.config.working_pixels)  # the pictures first
        source = self._prompt(request.source_prompt, request.source_english, spec)
        target = None
        if isinstance(request, EditRequest):
            # a target that lost every word in translation would edit towards nothing: refused
            target = require_words(self._prompt(request.target_prompt, request.target_english, spec), "target prompt")
        ctx.report("prepare", 1, 1)
        return replace(edit, source=source, target=target)

    def _prompt(self, text: str, english: str | None, spec: ModelSpec):
        """A prompt as the model reads it: the user's own English when they corrected it, else
        Korean translated where the model needs English."""
        translation = self.translator.translate(text, spec)
        if english is not None and english.strip() and translation.editable and english.strip() != translation.text:
            return translation.edited(english)
        return translation

    def translate_preview(self, text: str, model: str | None, task: str = KV_EDIT):
        """How `text` would reach `model` (a `Translation`), for a front end to show and let the
        user correct before running: cheap, loads no diffusion model."""
        spec = self._model_for(model, task)
        return self.translator.translate(text or "", spec)

    def _model_for(self, name: str | None, task: str) -> ModelSpec:
        """Step 2: the request's model (AUTO: the best one here for the task), checked to do `task`."""
        spec = get_spec(catalog.resolve_model_name(name, task))
        if not catalog.can_do(spec, task):
            able = ", ".join(c.name for c in catalog.model_choices(task))
            raise InputError(f"{spec.title} cannot do {task}. Models that can: {able}.", key="model_cannot",
                             field="model", model=spec.title, task=task, able=able)
        return spec

    def _switch_model(self, name: str) -> None:
        """Another family resident: drop every inversion made on it, then unload it, so its weights
        are freed, not re-placed under this job's plan. A missing model keeps the resident one."""
        manager = self.manager
        if manager.loaded_name not in (None, name):
            manager.require_available(name)
            self.sessions.release_other_models(name)
            manager.unload()

    def _set_adapters(self, spec: ModelSpec, style, weight: float | None) -> None:
        """Step 4: the LoRA state for this request: its style at its weight, or none at all. Every
        job that runs the shared transformer calls this, so no user's style reaches another's job."""
        self.manager.base(spec.name)
        styles = self.manager.styles
        if style is None:
            styles.deactivate()
        else:
            if isinstance(style, str):
                from models.lora import get_style

                style = get_style(style)
            styles.apply(style, weight)

    def _on_model(self, spec: ModelSpec, plan: PlanAsk, style, weight, run):
        """Steps 3-5 for one job on the shared model: plan it (after the model switch, so the
        resident weights count as free), set this request's adapters, `run()`; (result, plan report)."""
        manager = self.manager
        with manager.lock:
            self._switch_model(spec.name)
            chosen = self.memory.plan(manager, spec.name, plan.width, plan.height, plan.steps, task=plan.task,
                                      mask_fraction=plan.mask_fraction, images=plan.images)
            result, ran = self.memory.run(manager, chosen, _AdapterRun(self, spec, style, weight, run))
        return result, self._planned(chosen, ran)

    def _planned(self, chosen, ran) -> dict:
        """The report's memory plan, which the Status tab also shows as the latest (written here only)."""
        self.last_plan = plan_report(chosen, ran)
        return self.last_plan

    def _run_edit(self, edit: ResolvedEdit, ctx: JobContext) -> tuple[Any, PlannedEdit, EditState]:
        """Steps 3-5 of an inversion (`edit.target` None) or an edit: (the session's answer, the
        plan, the client's edit state). The client's EditSession is reused for the same model,
        photo and mask (its inversion kept), and so is the plan it inverted with."""
        manager = self.manager
        with manager.lock:
            self._switch_model(edit.spec.name)
            state = self._edit_state(edit, ctx)
            if state.plan is None or state.plan_steps != edit.plan_key:
                ctx.report("load", 0, 1)
                state.plan = self.memory.plan(manager, edit.spec.name, *edit.area.size, edit.options.steps,
                                              task=KV_EDIT, mask_fraction=edit.mask_fraction,
                                              skip_steps=edit.options.skip_steps, speed=edit.options.speed)
                state.plan_steps = edit.plan_key
            chosen = state.plan
            answer, ran = self.memory.run(manager, chosen, _SessionRun(self, edit, state, ctx),
                                          before_retry=state.release_cache)
            state.plan = ran  # after an out-of-memory retry: the fallback, which is what fits
        self._planned(chosen, ran)
        return answer, PlannedEdit.settle(edit, chosen, ran), state

    def _edit_state(self, edit: ResolvedEdit, ctx: JobContext) -> EditState:
        """The client's edit state, emptied when it holds another model, photo or mask."""
        state = self.sessions.edit_state(ctx.session, ctx.earlier_inversions)
        key = (edit.spec.name, array_digest(edit.image), array_digest(edit.mask))
        if state.key != key:
            if state.key is not None:
                state.recompute = None  # another photo or mask: its first inversion
            state.drop()
            state.key = key
        return state

    def _edit_session(self, edit: ResolvedEdit, state: EditState):
        """The client's EditSession on the shared pipeline (a new one when the pipeline changed)."""
        manager = self.manager
        pipe = manager.pipeline(edit.spec.name, KV_EDIT)
        if state.session is None or state.session.pipe is not pipe:
            if state.session is not None:
                state.session.release()  # built on a pipeline that is gone
            crop, crop_mask = edit.area.cut(edit.image, edit.mask)
            state.session = EditSession(pipe, crop, crop_mask, model_name=edit.spec.name, lock=manager.lock,
                                        prompt_cache=manager.prompt_cache,
                                        text_encoder_device=manager.text_encoder_device)
        return state.session

    def _edit_report(self, edit: ResolvedEdit, planned: PlannedEdit, state: EditState, engine: dict) -> EditReport:
        """Step 7's report of an inversion or an edit: each key once."""
        return EditReport(
            engine=engine, model=_model_report(edit.spec), memory_plan=planned.report(),
            work_area=edit.area.to_report(), width=edit.area.photo_size[0], height=edit.area.photo_size[1],
            inversion=_inversion_note(engine, state), source_translation=edit.source.to_report(),
            target_translation=edit.target.to_report() if edit.target is not None else None,
            style=_style_report(edit), notes=job_notes(edit, engine.get("notes", [])))

    def _save(self, ctx: JobContext, task: str, request, report: dict, caption: str,
              files: list[JobFile]) -> SavedJob | None:
        """Step 6: one record schema for every job (the gallery reads it as it is)."""
        if not ctx.save:
            return None
        ctx.report("save", 0, 1)
        record = {"task": task, "caption": caption or "", "owner": ctx.owner, "model": report.get("model"),
                  "request": request_params(request), "report": report}
        try:
            saved = self.store.save_job(record, files)
        except OSError as exc:
            problem = _save_failure(exc)
            if problem is None:
                raise
            raise problem from exc
        if ctx.progress is not None:  # saved now: a late cancel must not say nothing was saved
            ctx.progress("save", 1, 1)
        return saved


# --- helpers of the steps above --------------------------------------------------------------


def _then_decode(ctx: JobContext):
    """The edit's progress, and the decoding of the result as its own stage once the last step ran
    (the decoder has no steps of its own to report)."""

    def report(stage: str, step: int, total: int) -> None:
        ctx.report(stage, step, total)
        if stage == "edit" and step == total:
            ctx.report("decode", 0, 1)

    return report


def _pasted(image: np.ndarray, mask: np.ndarray, area: WorkArea, result, feather_px: int) -> np.ndarray:
    """The full photo with the edit pasted in under the full-size mask (the session's own paste is
    on its crop). An empty mask changes nothing."""
    if result.decoded is None:
        return image.copy()
    return area.paste(image, mask, np.asarray(result.decoded), feather_px)


@dataclass(frozen=True)
class PlanAsk:
    """What a model job's memory plan is sized by."""

    width: int
    height: int
    steps: int
    task: str
    mask_fraction: float = 1.0
    images: int = 1


class _AdapterRun:
    """One try of step 5 on the shared model under a plan: this request's adapters, then `run()`."""

    def __init__(self, studio: Studio, spec: ModelSpec, style, weight, run):
        self.studio, self.spec, self.style, self.weight, self.run = studio, spec, style, weight, run

    def __call__(self, _plan):
        self.studio._set_adapters(self.spec, self.style, self.weight)
        return self.run()


class _SessionRun:
    """One try of step 5 for an edit job, under a memory plan (the out-of-memory fallback may call
    it again under a cheaper one): this request's adapters, then the session inverts or edits."""

    def __init__(self, studio: Studio, edit: ResolvedEdit, state: EditState, ctx: JobContext):
        self.studio, self.edit, self.state, self.ctx = studio, edit, state, ctx

    def __call__(self, plan):
        studio, edit, ctx = self.studio, self.edit, self.ctx
        studio._set_adapters(edit.spec, edit.style, edit.style_weight)
        session = studio._edit_session(edit, self.state)
        options = options_for(edit, plan)
        if edit.target is None:
            return session.invert(edit.source.text, options, progress=ctx.report)
        # the whole photo is pasted once, by the job (step "paste"), not also on the crop here
        return session.edit(edit.target.text, options, progress=_then_decode(ctx), source_prompt=edit.source.text,
                            paste=False)


def _save_failure(exc: OSError) -> IntactError | None:
    """A full disk or an output folder that cannot be written, said as the user can act on it (the
    store writes atomically: nothing half-written was left). The folder is the operator's."""
    from editor.storage import disk_problem

    return disk_problem(exc, exc.filename)


def _without_blank_pictures(images: list[Image.Image], report: dict) -> list[Image.Image]:
    """The pictures that are not blank. A model whose numbers overflowed (NaN) decodes to pure black:
    never saved as if it were a result. All blank: an error; some: left out, and the report says so."""
    kept = [image for image in images if np.asarray(image).any()]
    if not kept:
        raise IntactError("The model produced a blank (black) picture: its computation overflowed. Nothing was "
                          "saved. Try another seed, a lower style weight or no style.", key="blank_output")
    if len(kept) < len(images):
        blank = len(images) - len(kept)
        report["blank_images"] = blank
        report["notes"] = [*report.get("notes", []), f"{blank} of {len(images)} pictures came out blank (the "
                           "model's computation overflowed) and were left out"]
        report["num_images"] = len(kept)
    return kept


def _mask_image(mask: np.ndarray) -> Image.Image:
    return Image.fromarray(np.clip(mask * 255.0 + 0.5, 0, 255).astype(np.uint8), "L")


def _model_report(spec: ModelSpec) -> dict:
    """What every report says about its model: which, and under which licence."""
    return {"model": spec.name, "model_label": spec.label, "model_title": spec.title, "license": spec.license,
            "commercial_use": spec.commercial_use, "random_weights": spec.random_weights}


def _style_report(request, style=None) -> dict | None:
    name = getattr(request, "style", None)
    if not name:
        return None
    weight = getattr(request, "style_weight", None)
    if weight is None and style is not None:
        weight = style.default_weight
    return {"name": name, "weight": weight}


def _inversion_note(info: dict, state: EditState) -> str:
    """One line for the report: was the photo inverted for this job, and why."""
    if info.get("reused_inversion"):
        return "reused"
    if info.get("mode") == "inversion-free" or info.get("kv_cache_mode") == "none":
        return "not needed (inversion-free)"
    if info.get("transformer_calls", 0) == 0 and info.get("mode", "").startswith("unchanged"):
        return "not needed (empty mask)"
    return f"recomputed ({state.recompute})" if state.recompute else "computed"


def _ad_model_task(request: AdRequest) -> str | None:
    """The diffusion task an ad needs: KV-Edit around the product, text-to-image for a generated
    background, None for uploaded and procedural ones."""
    if request.around_product:
        return KV_EDIT
    if request.background is None and (request.background_prompt or request.preset):
        return TEXT2IMG
    return None


def _cancel_check(ctx: JobContext):
    """A progress callback that only checks for cancellation (no stage is shown)."""
    def check(_stage: str, _step: int, _total: int) -> None:
        if ctx.cancel.is_set():
            ctx.report("cancel", 0, 1)  # raises JobCancelled
    return check


# Request fields that hold pictures (paths on the CLI, arrays in the app): never in the record,
# which lists the job's own files instead, so the CLI and the app save the same record.
PICTURE_FIELDS = frozenset({"image", "mask", "add", "remove", "product", "background", "mask_add", "mask_remove"})


def request_params(request) -> dict:
    """The request as plain data for the record: every field that is a plain value, except the
    pictures."""
    out = {}
    for f in fields(request):
        if f.name in PICTURE_FIELDS:
            continue
        value = getattr(request, f.name)
        if value is None or isinstance(value, (bool, int, float, str)):
            out[f.name] = value
        elif isinstance(value, (list, tuple)) and all(isinstance(v, (bool, int, float, str)) for v in value):
            out[f.name] = list(value)
    return out
