"""Gallery tab: the saved results (the Studio's records), whole thumbnails with readable captions,
and buttons that re-open one in the Edit or Generate tab."""

from __future__ import annotations

import gradio as gr

from ui.app_state import Services, session_owner
from ui.feedback import user_errors
from ui.i18n import lang_of, t, tr

MAX_SHOWN = 200  # newest first; older results stay on disk and in history.jsonl


def saved_entries(services: Services, owner: str | None = None) -> list:
    """SavedResult items, newest first; with a private gallery only `owner`'s session's."""
    return services.studio.saved_results(owner, only_owner=services.config.private_gallery, limit=MAX_SHOWN)


def caption(lang: str, item) -> str:
    kind = tr(lang, f"gallery.task_{item.task}") if item.task in ("edit", "ad", "generate", "cutout") else item.task
    detail = item.role.split(":", 1)[1] if ":" in item.role else ""
    words = " · ".join(part for part in (kind, item.caption, detail) if part)
    return words[:80]


def shown(item) -> dict:
    """What the details panel shows of one result: no server paths, no owner tags."""
    if item is None:
        return {}
    return {"task": item.task, "caption": item.caption, "saved_at": item.saved_at, "format": item.role}


def build_gallery_tab(services: Services, tabs: gr.Tabs, edit_editor: gr.ImageEditor, generate_init: gr.Image) -> tuple:
    entries_state = gr.State([])
    with gr.Row():
        refresh = gr.Button(t("gallery.refresh"), elem_id="gallery-refresh")
        index = gr.Number(value=0, precision=0, minimum=0, label=t("gallery.selected"), elem_id="gallery-index")
        open_btn = gr.Button(t("gallery.open_edit"), variant="primary", elem_id="gallery-open")
        open_gen_btn = gr.Button(t("gallery.open_generate"), elem_id="gallery-open-generate")
    gallery = gr.Gallery(label=t("gallery.saved"), columns=6, height=420, allow_preview=True, format="png",
                         object_fit="contain", interactive=False, elem_id="gallery-grid")
    params = gr.JSON(label=t("gallery.params"))

    def list_saved(request: gr.Request):
        lang = lang_of(request)
        with user_errors(lang):
            entries = saved_entries(services, session_owner(request))
        return entries, [(str(e.path), caption(lang, e)) for e in entries], shown(entries[0] if entries else None)

    def select(entries, evt: gr.SelectData):
        i = evt.index if isinstance(evt.index, int) else 0
        return i, shown(entries[i] if 0 <= i < len(entries) else None)

    def pick(entries, index, request):
        lang = lang_of(request)
        if not entries:  # e.g. called from the API before a refresh in this session
            entries = saved_entries(services, session_owner(request))
        try:
            i = int(index or 0)
        except (TypeError, ValueError, OverflowError):
            i = -1
        if not 0 <= i < len(entries):
            raise gr.Error(tr(lang, "gallery.no_such", index=index, count=len(entries)))
        from PIL import Image

        with Image.open(entries[i].path) as im:
            return im.convert("RGBA") if "A" in im.getbands() else im.convert("RGB")

    def open_in_edit(entries, index, request: gr.Request):
        image = pick(entries, index, request)
        return {"background": image, "layers": [], "composite": image}, gr.Tabs(selected="edit")

    def open_in_generate(entries, index, request: gr.Request):
        return pick(entries, index, request), gr.Tabs(selected="generate")

    # Reading the history is cheap: its own queue, never behind a GPU job.
    refresh.click(list_saved, None, [entries_state, gallery, params], api_name="gallery", concurrency_id="gallery",
                  concurrency_limit=4)
    gallery.select(select, [entries_state], [index, params], api_visibility="private")
    open_btn.click(open_in_edit, [entries_state, index], [edit_editor, tabs], api_name="open_in_edit")
    open_gen_btn.click(open_in_generate, [entries_state, index], [generate_init, tabs], api_name="open_in_generate")
    return list_saved, [entries_state, gallery, params]
