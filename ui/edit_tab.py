"""Edit tab: paint a region, describe the change, and KV-Edit regenerates only that region.

A thin adapter: the editor value and the options become an `EditRequest`, the Studio runs it for
this browser session (the session's next edit of the same photo and mask reuses its inversion),
and the outcome becomes the widgets' values. The page shows a short result line; the full report
is behind "details". Pictures are shown at screen size; the downloads are full size.

What survives a page reload (gr.BrowserState, in the browser): the model, the prompts, the
options and the id of the last saved result, from which the photo is restored.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import gradio as gr
import numpy as np
from PIL import Image

from editor.errors import InputError
from editor.options import EDIT_OPTIONS, edit_option_defaults
from editor.studio import EditRequest, InvertRequest, JobCancelled, JobContext
from models.vocabulary import EXACT, KV_EDIT
from ui.app_state import ClientState, HistoryEntry, Services, forget_client
from ui.controls import preview, run_button
from ui.examples import examples_by_language
from ui.feedback import cancel_job, progress_reporter, said_on_page, user_error, user_errors
from ui.gpu import GPU_QUEUE
from ui.i18n import lang_of, named, t, tr
from ui.imaging import overlay_mask
from ui.memory import plan_line
from ui.model_choice import default_model, model_choices, model_note
from ui.option_controls import option_controls
from ui.photo import open_in_editor, photo_and_mask
from ui.prompts import english_for, english_preview
from ui.select_panel import build_select_panel
from ui.uploads import EDITOR_CANVAS, ImageEditorFiles

EXAMPLE_PROMPTS = {  # (what the photo shows, what it should show), per page language
    "ko": [["나무 테이블 위의 커피 한 잔", "나무 테이블 위의 녹차 한 잔"],
           ["마네킹에 걸린 빨간 원피스", "마네킹에 걸린 파란 원피스"]],
    "en": [["a cup of coffee on a wooden table", "a cup of green tea on a wooden table"],
           ["a red dress on a mannequin", "a blue dress on a mannequin"]],
}
BRUSH = gr.Brush(colors=["#ff2878"], default_color="#ff2878", color_mode="fixed")
HISTORY_SIDE = 384  # the session's history shows thumbnails
OPTION_NAMES = tuple(option.name for option in EDIT_OPTIONS)


def edit_start_values(model: str) -> dict:
    """Starting values of the options for `model` (the declared defaults, made visible)."""
    return edit_option_defaults(model)


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
    speed: str = EXACT  # models.vocabulary.SPEED_SETTINGS
    feather_px: int = 8  # the seam blend band inside the mask

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
            "speed": self.speed or EXACT,
            "feather_px": _whole(self.feather_px),
        }


def _whole(value):
    """Whole numbers as ints; anything else as it is, for the request to refuse with its message."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _number(value):
    return float(value) if isinstance(value, int) and not isinstance(value, bool) else value


def option_values(values: dict) -> OptionValues:
    """The options among a run's input values (by their request names)."""
    return OptionValues(**{name: values[name] for name in OPTION_NAMES})


def run_invert(services: Services, state: ClientState, model: str, editor_value, source_prompt: str,
               values: OptionValues, progress=None, request=None, source_english: str | None = None) -> dict:
    """Invert the photo ahead of the edits; returns the inversion report (with `memory_plan`)."""
    image, mask = photo_and_mask(state, editor_value)
    job = InvertRequest(image=image, mask=mask, source_prompt=source_prompt or "", model=model,
                        source_english=source_english, **values.fields())
    outcome = services.studio.invert(job, JobContext(session=state.session_id(request), owner=services.owner(request),
                                                     progress=progress))
    return outcome.report


def run_edit(services: Services, state: ClientState, model: str, editor_value, source_prompt: str,
             target_prompt: str, values: OptionValues, progress=None, request=None,
             english: tuple[str | None, str | None] = (None, None)):
    """One edit; returns (before, after, mask, report, [result path, mask path]), full size."""
    image, mask = photo_and_mask(state, editor_value)
    job = EditRequest(image=image, mask=mask, source_prompt=source_prompt or "", target_prompt=target_prompt or "",
                      model=model, source_english=english[0], target_english=english[1], **values.fields())
    outcome = services.studio.edit(job, JobContext(session=state.session_id(request), owner=services.owner(request),
                                                   progress=progress))
    files = outcome.saved.files
    state.history.append(HistoryEntry(after=preview(outcome.image, HISTORY_SIDE),
                                      caption=f"{source_prompt or '—'} → {target_prompt}"))
    state.last_result = str(files["result"])
    state.last_job = outcome.saved.id
    return outcome.before, outcome.image, outcome.mask, outcome.report, [str(files["result"]), str(files["mask"])]


def history_items(state: ClientState) -> list[tuple[Image.Image, str]]:
    return [(entry.after, f"{i}. {entry.caption}") for i, entry in enumerate(state.history, 1)]


def result_line(lang: str, report: dict, seconds: float) -> str:
    """The short line the page shows after an edit; the step count is the one the progress bar
    counted (the steps that ran, after the skipped ones)."""
    line = "**" + tr(lang, "edit.result_line", seconds=f"{seconds:.1f}",
                     steps=report.get("denoise_steps", report.get("steps", "?")),
                     width=report.get("width"), height=report.get("height")) + "**"
    parts = [line, _model_words(lang, report)]
    if report.get("inversion") == "reused":
        parts.append(tr(lang, "edit.result_reused"))
    area = report.get("work_area") or {}
    if area.get("scaled"):
        parts.append(tr(lang, "edit.result_scaled", work="×".join(map(str, area["size"]))))
    return " · ".join(p for p in parts if p)


def _model_words(lang: str, report: dict) -> str:
    name = report.get("model", "")
    if report.get("random_weights"):
        return f"{name} — {tr(lang, 'model.tag.random')}"
    if report.get("commercial_use") is False:
        return f"{name} — {tr(lang, 'model.tag.noncommercial')}"
    return name


def report_markdown(lang: str, report: dict) -> str:
    """The report in words, for "details" (the raw report is shown below it)."""
    reused = report.get("inversion") == "reused"
    lines = [
        tr(lang, "edit.reused" if reused else "edit.inverted", seconds=f"{report.get('inversion_seconds', 0):.1f}"),
        tr(lang, "edit.denoised", seconds=f"{report.get('denoise_seconds', 0):.1f}",
           steps=report.get("denoise_steps", report.get("steps", "?")),
           cache=named(lang, "kv", str(report.get("kv_cache_mode", "?"))),
           mb=f"{report.get('kv_cache_bytes', 0) / 2**20:.1f}"),
    ]
    for key in ("source_translation", "target_translation"):
        translation = report.get(key) or {}
        if translation.get("backend") in ("marian", "glossary", "edited"):
            lines.append(tr(lang, "edit.translated", source=translation["source_text"], text=translation["text"],
                            backend=named(lang, "backend", translation["backend"])))
    lines.append(plan_line(lang, report.get("memory_plan")))
    return "  \n".join(line for line in lines if line)


def restored(option, value):
    """A saved option's value when the declaration still accepts it (limits change between
    versions; another page may have stored anything), else the control keeps its own."""
    if value is None:
        return gr.skip()
    try:
        return option.check(value)
    except InputError:
        return gr.skip()


def restored_result(services: Services, request, job_id: str | None):
    """The path of this browser's last saved edit (by its id, else its newest), or None."""
    owner = services.owner(request)
    if owner is None:
        return None
    mine = [r for r in services.studio.saved_results(owner, only_owner=True, limit=50)
            if r.task == "edit" and r.role == "result"]
    chosen = next((r for r in mine if r.job_id == job_id), None) or (mine[0] if mine else None)
    return str(chosen.path) if chosen is not None else None


def build_edit_tab(services: Services) -> dict:
    """Lay out the Edit tab inside the current gr.Tab; returns the components other tabs use."""
    model0 = default_model(KV_EDIT, preferred=services.config.model)
    d = edit_start_values(model0)
    state = gr.State(ClientState(), time_to_live=services.config.session_ttl_s,
                     delete_callback=forget_client(services.studio))
    saved_inputs = gr.BrowserState({}, storage_key="intact-edit")
    made_source, made_target = gr.State(""), gr.State("")  # the Korean each English box was made from

    with gr.Row(equal_height=False):
        with gr.Column(scale=1):
            model = gr.Dropdown(model_choices(KV_EDIT), value=model0, label=t("common.model"), elem_id="edit-model")
            # Written in the browser's language on page load (never an English line first).
            note = gr.Markdown("", elem_id="edit-model-note")
            # A phone photo goes to the server as its file (no canvas in the browser at 24 MP); the
            # editor then gets a screen-size copy (ui/photo.py).
            photo_btn = gr.UploadButton(t("edit.upload_photo"), file_types=["image"], size="sm",
                                        elem_id="edit-upload-photo")
            # Files, not pictures: read by our loader (bad uploads get our message), and the Studio
            # reads a phone photo from its file.
            editor = ImageEditorFiles(
                type="filepath", format="png", image_mode="RGBA", brush=BRUSH, eraser=gr.Eraser(),
                transforms=(), layers=False, sources=("upload", "clipboard"),
                label=t("edit.image"), elem_id="edit-editor", height=520,
                canvas_size=EDITOR_CANVAS,  # layers from the server land on the photo (ui/uploads.py)
            )
            build_select_panel(services, editor, state)
            source = gr.Textbox(label=t("edit.source"), placeholder=t("edit.source_ph"), lines=1, elem_id="edit-source")
            source_en = gr.Textbox(label=t("prompt.english_source"), lines=1, visible=False, elem_id="edit-source-en")
            source_note = gr.Markdown(elem_id="edit-source-note")
            target = gr.Textbox(label=t("edit.target"), placeholder=t("edit.target_ph"), lines=1, elem_id="edit-target")
            target_en = gr.Textbox(label=t("prompt.english_target"), lines=1, visible=False, elem_id="edit-target-en")
            target_note = gr.Markdown(elem_id="edit-target-note")
            examples_by_language(EXAMPLE_PROMPTS, [source, target], "edit-examples", lambda row: " → ".join(row))
            with gr.Row():
                edit_btn = gr.Button(t("edit.run"), variant="primary", elem_id="edit-run")
                cancel_btn = gr.Button(t("common.cancel"), variant="stop", elem_id="edit-cancel")
            # The options as editor/options.py declares them; the expert ones (and inverting ahead
            # of the edits, which the edit does by itself) in one closed section.
            with gr.Accordion(t("common.advanced"), open=False, elem_id="edit-advanced"):
                expert = {}
                controls = option_controls(EDIT_OPTIONS, {**d, "kv_cache": services.config.kv_cache}, "edit",
                                           inside_expert=lambda: expert.setdefault(
                                               "invert", gr.Button(t("edit.invert"), size="sm", elem_id="edit-invert")))
                invert_btn = expert["invert"]
                steps, skip, inv_g, guid = (controls[name] for name in ("steps", "skip_steps", "inversion_guidance",
                                                                          "guidance"))
        with gr.Column(scale=1):
            status = gr.Markdown(t("edit.hint"), elem_id="edit-status")
            compare = gr.ImageSlider(type="pil", label=t("edit.compare"), format="png", elem_id="edit-compare",
                                     interactive=False)
            overlay = gr.Image(type="pil", format="png", label=t("edit.overlay"), interactive=False, elem_id="edit-overlay")
            download = gr.File(label=t("edit.download"), file_count="multiple", interactive=False,
                               elem_id="edit-download")
            continue_btn = gr.Button(t("edit.continue"), elem_id="edit-continue")
            with gr.Accordion(t("common.details"), open=False, elem_id="edit-details-box"):
                details = gr.Markdown(elem_id="edit-details")
                report_json = gr.JSON(label=t("edit.report"))
            history = gr.Gallery(label=t("edit.history"), columns=4, height=220, elem_id="edit-history",
                                 format="png", interactive=False)

    options = [controls[name] for name in OPTION_NAMES]
    run_buttons = [invert_btn, edit_btn]

    def invert(v: dict, request: gr.Request, progress) -> tuple:
        lang, state = lang_of(request), v["state"]
        with user_errors(lang):
            try:
                report = run_invert(services, state, v["model"], v["editor_value"], v["source_prompt"],
                                    option_values(v), progress_reporter(progress, lang), request,
                                    english_for(v["source_prompt"], v["source_english"], v["made_source"]))
            except JobCancelled:
                return state, tr(lang, "common.cancelled")
        key = "edit.inversion_reused" if report.get("inversion") == "reused" else "edit.inversion_done"
        return state, tr(lang, key, seconds=f"{report.get('inversion_seconds', 0):.1f}")

    def edit(v: dict, request: gr.Request, progress) -> tuple:
        lang, state = lang_of(request), v["state"]
        english = (english_for(v["source_prompt"], v["source_english"], v["made_source"]),
                   english_for(v["target_prompt"], v["target_english"], v["made_target"]))
        started = time.perf_counter()
        with user_errors(lang):
            try:
                before, after, mask, report, paths = run_edit(
                    services, state, v["model"], v["editor_value"], v["source_prompt"], v["target_prompt"],
                    option_values(v), progress_reporter(progress, lang), request, english)
            except JobCancelled:
                return state, tr(lang, "common.cancelled"), *[gr.skip()] * 5
        shown = preview(after)
        small_mask = np.asarray(Image.fromarray((mask * 255).astype(np.uint8)).resize(shown.size)) / 255.0
        return (state, result_line(lang, report, time.perf_counter() - started), (preview(before), shown),
                overlay_mask(shown, small_mask), paths, report, history_items(state))

    def remember_inputs(_request, model, source, target, *rest):
        *values, saved = rest
        return [{**(saved or {}), "model": model, "source": source or "", "target": target or "",
                 "options": dict(zip(OPTION_NAMES, values, strict=True))}]

    def after_run(request, state, report, saved):
        lang = lang_of(request)
        text = report_markdown(lang, report) if isinstance(report, dict) and report.get("memory_plan") else gr.skip()
        return [text, {**(saved or {}), "job": state.last_job}]

    remembered = dict(before=remember_inputs, before_inputs=[model, source, target, *options, saved_inputs],
                      before_outputs=[saved_inputs], after=after_run, after_inputs=[state, report_json, saved_inputs],
                      after_outputs=[details, saved_inputs])
    # The inputs by name: the names are the API's parameters (the States are not sent by clients).
    photo_inputs = {"state": state, "made_source": made_source, "made_target": made_target, "model": model,
                    "editor_value": editor, "source_prompt": source}
    option_inputs = dict(zip(OPTION_NAMES, options, strict=True))
    invert_inputs = {**photo_inputs, **option_inputs, "source_english": source_en}
    edit_inputs = {**photo_inputs, "target_prompt": target, **option_inputs, "source_english": source_en,
                   "target_english": target_en}
    # The progress bar and any error show on the status line only: the result panels never get
    # an error badge, and keep the last result.
    queue = dict(concurrency_id=GPU_QUEUE, concurrency_limit=services.gpu_slots, show_progress_on=[status])
    # An API client may leave out the options (the declared defaults; None: the model's) and the English.
    optional = {**{o.name: o.default for o in EDIT_OPTIONS}, "source_english": None, "target_english": None}
    run_button(invert_btn, invert, invert_inputs, [state, status], status=status, buttons=run_buttons,
               defaults=optional, api_name="invert", **queue, **remembered)
    run_button(edit_btn, edit, edit_inputs, [state, status, compare, overlay, download, report_json, history],
               status=status, buttons=run_buttons, defaults=optional, api_name="edit", **queue, **remembered)

    @said_on_page(2, 3)
    def continue_from(state, request: gr.Request):
        lang = lang_of(request)
        if state.last_result is None:
            raise user_error(lang, tr(lang, "edit.nothing_to_continue"))
        with user_errors(lang):
            value = open_in_editor(state, state.last_result)
        return state, value, tr(lang, "edit.continued")

    def on_photo_file(state, path, request: gr.Request):
        """A photo from the upload button: checked now (not when Edit is pressed); a phone photo
        goes to the editor as its screen-size copy, the session keeps its file."""
        lang = lang_of(request)
        try:
            with user_errors(lang):
                value = open_in_editor(state, path)
        except gr.Error as exc:
            gr.Warning(exc.message, title=tr(lang, "common.error"))
            return state, gr.skip(), exc.message
        return state, value, tr(lang, "edit.hint")

    def cancel(state, request: gr.Request):
        return cancel_job(services.studio, state.session, lang_of(request))

    def on_model(name, source_text, target_text, request: gr.Request):
        lang = lang_of(request)
        d = edit_start_values(name)
        return (model_note(name, lang), d["steps"], d["skip_steps"], d["inversion_guidance"], d["guidance"],
                *english_preview(services.studio, lang, source_text, name, KV_EDIT),
                *english_preview(services.studio, lang, target_text, name, KV_EDIT))

    def on_prompt(text, name, request: gr.Request):
        return english_preview(services.studio, lang_of(request), text, name, KV_EDIT)

    continue_btn.click(continue_from, [state], [state, editor, status], api_name="continue_editing")
    photo_btn.upload(on_photo_file, [state, photo_btn], [state, editor, status], api_visibility="private",
                     show_progress_on=[status])
    # Not in the GPU queue: it must reach the running job, not wait behind it.
    cancel_btn.click(cancel, [state], [status], api_name="cancel_edit", show_progress="hidden")
    # .input, not .change: a model restored after a page reload keeps its restored options.
    model.input(on_model, [model, source, target],
                [note, steps, skip, inv_g, guid, source_en, source_note, made_source, target_en, target_note,
                 made_target], api_visibility="private")
    for box, english, box_note, made in ((source, source_en, source_note, made_source),
                                         (target, target_en, target_note, made_target)):
        box.change(on_prompt, [box, model], [english, box_note, made], api_visibility="private",
                   trigger_mode="always_last", show_progress="hidden", concurrency_id="translate",
                   concurrency_limit=2)

    def localise(state, name, saved, request: gr.Request):
        """On page load: texts in the browser's language, and what this browser left here."""
        lang = lang_of(request)
        saved = saved if isinstance(saved, dict) else {}
        if not saved:
            return (state, model_note(name, lang), *[gr.skip()] * (3 + len(options) + 2))
        name = saved.get("model") if saved.get("model") in [c for _, c in model_choices(KV_EDIT, lang)] else name
        stored = saved.get("options") or {}
        values = [restored(option, stored.get(option.name)) for option in EDIT_OPTIONS]
        path = restored_result(services, request, saved.get("job"))
        picture = gr.skip()
        if path:
            state.last_result = path
            picture = open_in_editor(state, path)
        return (state, model_note(name, lang), name, saved.get("source", ""), saved.get("target", ""), *values,
                picture, tr(lang, "edit.restored") if path else gr.skip())

    return {"editor": editor, "model": model, "state": state, "status": status,
            "localise": (localise, [state, model, saved_inputs],
                         [state, note, model, source, target, *options, editor, status])}
