"""Edit tab: paint a region, describe the change, and KV-Edit regenerates only that region.

A thin adapter: the editor value and the options become an `EditRequest`, the Studio runs it for
this browser session (the session's next edit of the same photo and mask reuses its inversion),
and the outcome becomes the widgets' values.
"""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr
import numpy as np
from PIL import Image

from editor.kv_edit.options import default_skip_steps
from editor.studio import EditRequest, InvertRequest, JobContext
from editor.studio.requests import KV_CACHE_CHOICES, edit_defaults
from models.registry import get_spec
from models.vocabulary import KV_EDIT
from ui.app_state import ClientState, HistoryEntry, Services, forget_client, session_owner
from ui.feedback import progress_reporter, user_errors
from ui.gpu import gpu
from ui.i18n import lang_of, t, tr
from ui.imaging import editor_image_and_mask, overlay_mask
from ui.memory import plan_line
from ui.model_choice import default_model, model_choices, model_note
from ui.uploads import ImageEditorFiles

EXAMPLE_PROMPTS = [
    ["a cup of coffee on a wooden table", "a cup of green tea on a wooden table"],
    ["나무 테이블 위의 커피 한 잔", "나무 테이블 위의 녹차 한 잔"],
    ["a red dress on a mannequin", "a blue dress on a mannequin"],
]
GPU = "gpu"  # one concurrency id for every accelerator-bound event in the app
BRUSH = gr.Brush(colors=["#ff2878"], default_color="#ff2878", color_mode="fixed")


def edit_start_values(model: str) -> dict:
    """Starting values of the advanced options for `model` (the Studio's defaults, made visible)."""
    d = edit_defaults(get_spec(model))
    return {**d, "skip_steps": default_skip_steps(d["steps"]), "seed": 42}


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

    def fields(self) -> dict:
        """The request fields, as the widgets hold them (numbers as numbers)."""
        return {
            "steps": _whole(self.steps),
            "skip_steps": _whole(self.skip_steps),
            "inversion_guidance": _number(self.inversion_guidance),
            "guidance": _number(self.guidance),
            "re_init": bool(self.re_init),
            "attn_mask": bool(self.attn_mask),
            "attn_scale": _number(self.attn_scale),
            "seed": _whole(self.seed),
            "kv_cache": self.kv_cache,
        }


def _whole(value):
    """Whole numbers as ints; anything else as it is, for the request to refuse with its message."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _number(value):
    return float(value) if isinstance(value, int) and not isinstance(value, bool) else value


def _inputs(editor_value) -> tuple[Image.Image | None, np.ndarray | None]:
    image, mask = editor_image_and_mask(editor_value)
    return image, mask


def run_invert(services: Services, state: ClientState, model: str, editor_value, source_prompt: str,
               values: OptionValues, progress=None, request=None) -> dict:
    """Invert the photo ahead of the edits; returns the inversion report (with `memory_plan`)."""
    image, mask = _inputs(editor_value)
    job = InvertRequest(image=image, mask=mask, source_prompt=source_prompt or "", model=model, **values.fields())
    outcome = services.studio.invert(job, JobContext(session=state.session_id(request), owner=session_owner(request),
                                                     progress=progress))
    return outcome.report


def run_edit(services: Services, state: ClientState, model: str, editor_value, source_prompt: str,
             target_prompt: str, values: OptionValues, progress=None, request=None):
    """One edit; returns (before, after, mask, report, [result path, mask path])."""
    image, mask = _inputs(editor_value)
    job = EditRequest(image=image, mask=mask, source_prompt=source_prompt or "", target_prompt=target_prompt or "",
                      model=model, **values.fields())
    outcome = services.studio.edit(job, JobContext(session=state.session_id(request), owner=session_owner(request),
                                                   progress=progress))
    state.history.append(HistoryEntry(after=outcome.image, caption=f"{source_prompt or '—'} → {target_prompt}"))
    state.last_result = outcome.image
    files = outcome.saved.files
    return outcome.before, outcome.image, outcome.mask, outcome.report, [str(files["result"]), str(files["mask"])]


def history_items(state: ClientState) -> list[tuple[Image.Image, str]]:
    return [(entry.after, f"{i}. {entry.caption}") for i, entry in enumerate(state.history, 1)]


def report_markdown(lang: str, report: dict) -> str:
    reused = report.get("inversion") == "reused"
    lines = [
        f"**{tr(lang, 'edit.done')}** · {report.get('model_label', '')} · {report.get('width')}×{report.get('height')}",
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
    model0 = default_model(KV_EDIT, preferred=services.config.model)
    d = edit_start_values(model0)
    state = gr.State(ClientState(), time_to_live=services.config.session_ttl_s,
                     delete_callback=forget_client(services.studio))

    with gr.Row(equal_height=False):
        with gr.Column(scale=1):
            model = gr.Dropdown(model_choices(KV_EDIT), value=model0, label=t("common.model"), elem_id="edit-model")
            note = gr.Markdown(model_note(model0), elem_id="edit-model-note")
            editor = ImageEditorFiles(  # files, read by our loader: bad uploads get our message
                type="filepath", format="png", image_mode="RGBA", brush=BRUSH, eraser=gr.Eraser(),
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
                cancel_btn = gr.Button(t("common.cancel"), variant="stop", elem_id="edit-cancel")
            with gr.Accordion(t("common.advanced"), open=False):
                steps = gr.Slider(1, 50, value=d["steps"], step=1, label=t("edit.steps"))
                skip = gr.Slider(0, 49, value=d["skip_steps"], step=1, label=t("edit.skip"), info=t("edit.skip_info"))
                inv_g = gr.Slider(0, 10, value=d["inversion_guidance"], step=0.1, label=t("edit.inv_guidance"))
                guid = gr.Slider(0, 10, value=d["guidance"], step=0.1, label=t("edit.guidance"))
                re_init = gr.Checkbox(False, label=t("edit.re_init"), info=t("edit.re_init_info"))
                attn_mask = gr.Checkbox(False, label=t("edit.attn_mask"), info=t("edit.attn_mask_info"))
                attn_scale = gr.Slider(0, 3, value=1.0, step=0.05, label=t("edit.attn_scale"))
                seed = gr.Number(d["seed"], precision=0, minimum=0, label=t("common.seed"))
                kv = gr.Dropdown(list(KV_CACHE_CHOICES), value=services.config.kv_cache, label=t("edit.kv_cache"),
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
                                progress_reporter(progress, lang), request)
        key = "edit.inversion_reused" if report.get("inversion") == "reused" else "edit.inversion_done"
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
                progress_reporter(progress, lang), request)
        return (state, report_markdown(lang, report), (before, after), overlay_mask(after, mask), paths,
                report, history_items(state))

    def continue_from(state, request: gr.Request):
        lang = lang_of(request)
        if state.last_result is None:
            raise gr.Error(tr(lang, "edit.nothing_to_continue"))
        value = {"background": state.last_result, "layers": [], "composite": state.last_result}
        return state, value, tr(lang, "edit.continued")

    def cancel(state, request: gr.Request):
        lang = lang_of(request)
        stopped = state.session is not None and services.studio.cancel(state.session)
        return tr(lang, "common.cancelling" if stopped else "common.nothing_running")

    def on_model(name, request: gr.Request):
        d = edit_start_values(name)
        return (model_note(name, lang_of(request)), d["steps"], d["skip_steps"], d["inversion_guidance"],
                d["guidance"])

    invert_btn.click(invert, [state, model, editor, source, *options], [state, status], api_name="invert",
                     concurrency_id=GPU, concurrency_limit=services.gpu_slots)
    edit_btn.click(edit, [state, model, editor, source, target, *options],
                   [state, status, compare, overlay, download, report_json, history],
                   api_name="edit", concurrency_id=GPU, concurrency_limit=services.gpu_slots)
    continue_btn.click(continue_from, [state], [state, editor, status], api_name="continue_editing")
    # Not in the GPU queue: it must reach the running job, not wait behind it.
    cancel_btn.click(cancel, [state], [status], api_name="cancel_edit")
    model.change(on_model, [model], [note, steps, skip, inv_g, guid], api_visibility="private")
    def localise(name, request: gr.Request):
        return model_note(name, lang_of(request))

    return {"editor": editor, "model": model, "state": state, "localise": (localise, [model], [note])}
