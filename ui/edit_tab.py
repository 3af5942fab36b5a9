"""Edit tab: paint a region, describe the change, and KV-Edit regenerates only that region.

The UI holds no model code: it turns the editor value into (image, mask), keeps one
`editor.kv_edit.EditSession` per browser session (in gr.State, so an inversion is never shared
between users) and runs the edit with `editor.edit_workflow.run_edit` (memory plan, placement,
out-of-memory fallback), passing that session back in. A second edit of the same image and mask
reuses the session, so the inversion is not run again.
"""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr
import numpy as np
from PIL import Image

from models.registry import get_spec
from ui.app_state import (
    EditState,
    HistoryEntry,
    Services,
    drop_edit_state,
    session_owner,
)
from ui.feedback import progress_reporter, user_errors
from ui.gpu import gpu
from ui.i18n import lang_of, t, tr
from ui.imaging import digest, editor_image_and_mask, overlay_mask
from ui.memory import forced, plan_line
from ui.model_choice import default_model, model_choices, model_note

EXAMPLE_PROMPTS = [
    ["a cup of coffee on a wooden table", "a cup of green tea on a wooden table"],
    ["나무 테이블 위의 커피 한 잔", "나무 테이블 위의 녹차 한 잔"],
    ["a red dress on a mannequin", "a blue dress on a mannequin"],
]
GPU = "gpu"  # one concurrency id for every accelerator-bound event in the app
BRUSH = gr.Brush(colors=["#ff2878"], default_color="#ff2878", color_mode="fixed")


def kv_cache_choices() -> list[str]:
    from editor.kv_edit.kv_cache import kv_cache_modes

    return ["auto", *kv_cache_modes()]


def edit_defaults(model: str) -> dict:
    """Starting values for the advanced options: the KV-Edit paper's for real FLUX.1 [dev];
    scaled to the model's own step count otherwise (schnell, tiny)."""
    spec = get_spec(model)
    steps = 28 if spec.name == "flux-dev" else spec.default_steps
    return {
        "steps": steps,
        "skip_steps": max(0, round(steps * 4 / 28)),
        "inversion_guidance": 1.5,
        "guidance": 5.5 if spec.guidance_distilled else spec.default_guidance,
        "seed": 42,
    }


@dataclass(frozen=True)
class OptionValues:
    steps: int
    skip_steps: int
    inversion_guidance: float
    guidance: float
    re_init: bool
    attn_mask: bool
    attn_scale: float
    seed: int
    kv_cache: str  # "auto" (the memory plan chooses) or a KV store mode

    def options(self) -> dict:
        """The `EditOptions` fields other than the KV cache, as `run_edit` takes them."""
        return {
            "steps": int(self.steps),
            "skip_steps": int(self.skip_steps),
            "inversion_guidance": float(self.inversion_guidance),
            "guidance": float(self.guidance),
            "re_init": bool(self.re_init),
            "attn_mask": bool(self.attn_mask),
            "attn_scale": float(self.attn_scale),
            "seed": int(self.seed),
        }


def model_prompt(services: Services, model: str, text: str):
    """The prompt as the model should read it (Korean translated for FLUX's English encoders)."""
    return services.translator.translate(text or "", get_spec(model))


def _prepare(services: Services, state: EditState, model: str, image: Image.Image, mask: np.ndarray,
             values: OptionValues):
    """Get the session's state ready for a job on (model, image, mask) and return its memory plan.

    A new image, mask or model drops the old EditSession (freeing its inversion); the same ones keep
    it and, for the same step counts, the plan it inverted with. Called under the manager's lock.
    """
    services.switch_model(model)
    key = (model, digest(image), digest(mask))
    if state.key != key:
        state.drop_session()
        state.key = key
    services.track(state)  # most recently used: others lose their inversion first
    steps = (int(values.steps), int(values.skip_steps))
    if state.plan is None or state.plan_steps != steps:
        from editor.edit_workflow import plan_edit

        state.plan = forced(services, plan_edit(services.manager, model, image.size, mask, *steps))
        state.plan_steps = steps
    return state.plan


def _ran(services: Services, state: EditState, plan, memory_plan: dict) -> None:
    state.plan = plan  # after an out-of-memory retry: the fallback, which is what fits
    services.plan_in_use = memory_plan


def run_invert(services, state, model, editor_value, source_prompt, values: OptionValues, progress=None):
    """Invert the photo ahead of the edits; returns the inversion report (with `memory_plan`).
    The following Edit of the same image and mask reuses it."""
    from editor.edit_workflow import edit_session, resolve_kv_cache
    from editor.kv_edit import EditOptions
    from editor.planned_run import plan_report, run_planned

    image, mask = _require_inputs(editor_value)
    source = model_prompt(services, model, source_prompt)
    manager = services.manager
    with manager.lock:
        plan = _prepare(services, state, model, image, mask, values)

        def attempt(p):
            opts = EditOptions(kv_cache=resolve_kv_cache(values.kv_cache, p), **values.options())
            state.session = edit_session(manager, model, image, mask, state.session)
            return state.session.invert(source.text, opts, progress=progress)

        def drop_cache():
            if state.session is not None:
                state.session.release()

        report, ran = run_planned(manager, plan, attempt, before_retry=drop_cache)
        report = dict(report, memory_plan=plan_report(plan, ran))
        _ran(services, state, ran, report["memory_plan"])
    return report


def run_edit(services, state, model, editor_value, source_prompt, target_prompt, values: OptionValues, progress=None,
             owner: str | None = None):
    """One edit; returns (before, after, mask, report, [saved result path, mask path])."""
    from editor.edit_workflow import run_edit as run_planned_edit

    image, mask = _require_inputs(editor_value)
    if not (target_prompt or "").strip():
        from editor.errors import InputError

        raise InputError("Write what the painted area should become (target prompt).")
    source, target = model_prompt(services, model, source_prompt), model_prompt(services, model, target_prompt)
    with services.manager.lock:
        plan = _prepare(services, state, model, image, mask, values)
        run = run_planned_edit(services.manager, model, image, mask, source.text, target.text, kv_cache=values.kv_cache,
                               plan=plan, session=state.session, progress=progress, **values.options())
        state.session = run.session
        _ran(services, state, run.plan, run.result.report["memory_plan"])
    result = run.result
    report = dict(result.report, source_translation=source.to_report(), target_translation=target.to_report())
    mask_path = save_mask(services, mask)
    params = {
        "task": "edit",
        "model": model,
        "source_prompt": source_prompt or "",
        "target_prompt": target_prompt,
        "options": _saved_options(values, result.report["kv_cache_requested"]),
        "mask_file": str(mask_path.relative_to(services.config.output_dir)),
        "report": report,
        "owner": owner,
    }
    saved = services.store.save(result.image, params)
    state.history.append(HistoryEntry(before=image, after=result.image, params=params, saved_path=str(saved.path)))
    state.last_result = result.image
    return image, result.image, mask, report, [str(saved.path), str(mask_path)]


def _saved_options(values: OptionValues, kv_cache: str) -> dict:
    """Every EditOptions field the edit ran with ("auto" resolved), so it can be redone exactly."""
    from editor.kv_edit import EditOptions

    opts = EditOptions(kv_cache=kv_cache, **values.options())
    return {name: getattr(opts, name) for name in opts.__dataclass_fields__}


def save_mask(services: Services, mask: np.ndarray):
    """Keep the mask next to the results (masks/<sha256>.png), so an edit can be reviewed and redone."""
    import hashlib
    import io

    from editor.storage import atomic_write_bytes

    pixels = np.clip(mask * 255.0 + 0.5, 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels, "L").save(buffer, format="PNG")
    data = buffer.getvalue()
    path = services.config.output_dir / "masks" / f"{hashlib.sha256(pixels.tobytes()).hexdigest()}.png"
    if not path.is_file():
        atomic_write_bytes(path, data)
    return path


def _require_inputs(editor_value):
    from editor.errors import InputError

    image, mask = editor_image_and_mask(editor_value)
    if image is None:
        raise InputError("Upload an image first.")
    if mask is None:
        raise InputError("Paint over the area to change with the brush first.")
    return image, mask


def history_items(state: EditState) -> list[tuple[Image.Image, str]]:
    items = []
    for i, entry in enumerate(state.history, 1):
        p = entry.params
        items.append((entry.after, f"{i}. {p['source_prompt'] or '—'} → {p['target_prompt']}"))
    return items


def report_markdown(lang: str, report: dict) -> str:
    reused = report.get("reused_inversion")
    lines = [
        f"**{tr(lang, 'edit.done')}** · {report.get('model', '')} · {report.get('width')}×{report.get('height')}",
        tr(lang, "edit.reused" if reused else "edit.inverted",
           seconds=f"{report.get('inversion_seconds', 0):.1f}"),
        tr(lang, "edit.denoised", seconds=f"{report.get('denoise_seconds', 0):.1f}",
           steps=report.get("steps", "?"), cache=report.get("kv_cache_mode", "?"),
           mb=f"{report.get('kv_cache_bytes', 0) / 2**20:.1f}"),
    ]
    for key in ("source_translation", "target_translation"):
        translation = report.get(key) or {}
        if translation.get("backend") in ("marian", "glossary"):
            lines.append(tr(lang, "edit.translated", source=translation["source_text"], text=translation["text"],
                            backend=translation["backend"]))
    lines.append(plan_line(lang, report.get("memory_plan")))
    return "  \n".join(line for line in lines if line)


def build_edit_tab(services: Services) -> dict:
    """Lay out the Edit tab inside the current gr.Tab; returns the components other tabs use."""
    model0 = default_model(family="flux", preferred=services.config.model)
    d = edit_defaults(model0)
    state = gr.State(EditState(), time_to_live=services.config.session_ttl_s, delete_callback=drop_edit_state)

    with gr.Row(equal_height=False):
        with gr.Column(scale=1):
            model = gr.Dropdown(model_choices(family="flux"), value=model0, label=t("common.model"))
            note = gr.Markdown(model_note(model0), elem_id="edit-model-note")
            editor = gr.ImageEditor(
                type="pil", format="png", image_mode="RGBA", brush=BRUSH, eraser=gr.Eraser(),
                transforms=(), layers=False, sources=("upload", "clipboard"),
                label=t("edit.image"), elem_id="edit-editor", height=520,
            )
            source = gr.Textbox(label=t("edit.source"), placeholder=t("edit.source_ph"), lines=1, elem_id="edit-source")
            target = gr.Textbox(label=t("edit.target"), placeholder=t("edit.target_ph"), lines=1, elem_id="edit-target")
            # Prompt pairs only: examples are never run (or cached) at start-up.
            gr.Examples(EXAMPLE_PROMPTS, [source, target], label=t("common.examples"), cache_examples=False,
                        example_labels=[f"{a} → {b}" for a, b in EXAMPLE_PROMPTS])
            with gr.Row():
                invert_btn = gr.Button(t("edit.invert"), elem_id="edit-invert")
                edit_btn = gr.Button(t("edit.run"), variant="primary", elem_id="edit-run")
            with gr.Accordion(t("common.advanced"), open=False):
                steps = gr.Slider(1, 50, value=d["steps"], step=1, label=t("edit.steps"))
                skip = gr.Slider(0, 49, value=d["skip_steps"], step=1, label=t("edit.skip"), info=t("edit.skip_info"))
                inv_g = gr.Slider(0, 10, value=d["inversion_guidance"], step=0.1, label=t("edit.inv_guidance"))
                guid = gr.Slider(0, 10, value=d["guidance"], step=0.1, label=t("edit.guidance"))
                re_init = gr.Checkbox(False, label=t("edit.re_init"), info=t("edit.re_init_info"))
                attn_mask = gr.Checkbox(False, label=t("edit.attn_mask"), info=t("edit.attn_mask_info"))
                attn_scale = gr.Slider(0, 3, value=1.0, step=0.05, label=t("edit.attn_scale"))
                seed = gr.Number(d["seed"], precision=0, minimum=0, label=t("common.seed"))
                kv = gr.Dropdown(kv_cache_choices(), value=services.config.kv_cache, label=t("edit.kv_cache"),
                                 info=t("edit.kv_cache_info"))
        with gr.Column(scale=1):
            status = gr.Markdown(t("edit.hint"), elem_id="edit-status")
            compare = gr.ImageSlider(type="pil", label=t("edit.compare"), format="png", elem_id="edit-compare",
                                     interactive=False)
            overlay = gr.Image(type="pil", format="png", label=t("edit.overlay"), interactive=False, elem_id="edit-overlay")
            download = gr.File(label=t("edit.download"), file_count="multiple", interactive=False,
                               elem_id="edit-download")
            continue_btn = gr.Button(t("edit.continue"), elem_id="edit-continue")
            with gr.Accordion(t("edit.report"), open=False):
                report_json = gr.JSON(label=t("edit.report"))
            history = gr.Gallery(label=t("edit.history"), columns=4, height=220, elem_id="edit-history",
                                 format="png", interactive=False)

    options = [steps, skip, inv_g, guid, re_init, attn_mask, attn_scale, seed, kv]

    @gpu
    def invert(state, model, editor_value, source_prompt, steps, skip_steps, inversion_guidance, guidance,
               re_init, attn_mask, attn_scale, seed, kv_cache, request: gr.Request, progress=gr.Progress()):  # noqa: B008 - gradio injects it
        lang = lang_of(request)
        values = OptionValues(steps, skip_steps, inversion_guidance, guidance, re_init, attn_mask, attn_scale,
                              seed, kv_cache)
        with user_errors(lang):
            report = run_invert(services, state, model, editor_value, source_prompt, values,
                                progress_reporter(progress, lang))
        key = "edit.inversion_reused" if report.get("reused_inversion") else "edit.inversion_done"
        message = tr(lang, key, seconds=f"{report.get('inversion_seconds', 0):.1f}")
        return state, message + "  \n" + plan_line(lang, report["memory_plan"])

    @gpu
    def edit(state, model, editor_value, source_prompt, target_prompt, steps, skip_steps, inversion_guidance,
             guidance, re_init, attn_mask, attn_scale, seed, kv_cache, request: gr.Request, progress=gr.Progress()):  # noqa: B008 - gradio injects it
        lang = lang_of(request)
        values = OptionValues(steps, skip_steps, inversion_guidance, guidance, re_init, attn_mask, attn_scale,
                              seed, kv_cache)
        with user_errors(lang):
            before, after, mask, report, paths = run_edit(
                services, state, model, editor_value, source_prompt, target_prompt, values,
                progress_reporter(progress, lang), owner=session_owner(request))
        return (state, report_markdown(lang, report), (before, after), overlay_mask(after, mask), paths,
                report, history_items(state))

    def continue_from(state, request: gr.Request):
        lang = lang_of(request)
        if state.last_result is None:
            raise gr.Error(tr(lang, "edit.nothing_to_continue"))
        state.drop_session()  # a new image needs its own inversion
        value = {"background": state.last_result, "layers": [], "composite": state.last_result}
        return state, value, tr(lang, "edit.continued")

    def on_model(name, request: gr.Request):
        d = edit_defaults(name)
        return (model_note(name, lang_of(request)), d["steps"], d["skip_steps"], d["inversion_guidance"],
                d["guidance"])

    invert_btn.click(invert, [state, model, editor, source, *options], [state, status], api_name="invert",
                     concurrency_id=GPU, concurrency_limit=1)
    edit_btn.click(edit, [state, model, editor, source, target, *options],
                   [state, status, compare, overlay, download, report_json, history],
                   api_name="edit", concurrency_id=GPU, concurrency_limit=1)
    continue_btn.click(continue_from, [state], [state, editor, status], api_name="continue_editing")
    model.change(on_model, [model], [note, steps, skip, inv_g, guid], api_visibility="private")
    def localise(name, request: gr.Request):
        return model_note(name, lang_of(request))

    return {"editor": editor, "model": model, "state": state, "localise": (localise, [model], [note])}
