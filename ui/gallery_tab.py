"""Gallery tab: the saved results (the Studio's records), whole thumbnails with readable captions;
download or delete the selected one (delete: one's own only), or re-open it in the Edit or
Generate tab (immediately: the picture is handed over as the saved file, not re-encoded)."""

from __future__ import annotations

import gradio as gr

from ui.app_state import Services
from ui.feedback import said_on_page, user_error, user_errors
from ui.i18n import lang_of, named, t, tr
from ui.numbers import Number
from ui.photo import open_in_editor

MAX_SHOWN = 200  # newest first; older results stay on disk and in history.jsonl
TASKS = ("edit", "ad", "generate", "cutout")


def saved_entries(services: Services, owner: str | None = None) -> list:
    """SavedResult items, newest first; with a private gallery only `owner`'s browser's."""
    return services.studio.saved_results(owner, only_owner=services.config.private_gallery, limit=MAX_SHOWN)


def caption(lang: str, item) -> str:
    kind = tr(lang, f"gallery.task_{item.task}") if item.task in TASKS else item.task
    detail = item.role.split(":", 1)[1] if ":" in item.role else ""
    words = " · ".join(part for part in (kind, item.caption, named(lang, "format", detail) if detail else "") if part)
    return words[:80]


def shown(item) -> dict:
    """What may be shown of one result: no server paths, no owner tags."""
    if item is None:
        return {}
    return {"task": item.task, "caption": item.caption, "saved_at": item.saved_at, "format": item.role}


def info_line(lang: str, item) -> str:
    """The selected result in words (the kind, its words, when)."""
    if item is None:
        return tr(lang, "gallery.empty")
    return tr(lang, "gallery.info", words=caption(lang, item), saved_at=_local_time(item.saved_at))


def _local_time(iso: str) -> str:
    """A record's UTC time as this computer's local time, to the minute."""
    import datetime as dt

    try:
        return dt.datetime.fromisoformat(iso).astimezone().strftime("%Y-%m-%d %H:%M")
    except (TypeError, ValueError):
        return iso


def build_gallery_tab(services: Services, tabs: gr.Tabs, edit_editor: gr.ImageEditor, generate_init: gr.Image,
                      edit_status: gr.Markdown, edit_state: gr.State) -> tuple:
    entries_state = gr.State([])
    # The pictures first: on a phone the controls below them would push them out of sight.
    gallery = gr.Gallery(label=t("gallery.saved"), columns=6, height=420, allow_preview=True, format="png",
                         object_fit="contain", interactive=False, elem_id="gallery-grid")
    info = gr.Markdown(elem_id="gallery-status")
    with gr.Row():
        refresh = gr.Button(t("gallery.refresh"), elem_id="gallery-refresh")
        index = Number(value=0, precision=0, minimum=0, label=t("gallery.selected"), elem_id="gallery-index")
        open_btn = gr.Button(t("gallery.open_edit"), variant="primary", elem_id="gallery-open")
        open_gen_btn = gr.Button(t("gallery.open_generate"), elem_id="gallery-open-generate")
    with gr.Row():
        download = gr.DownloadButton(t("gallery.download"), value=None, elem_id="gallery-download", size="sm")
        delete_btn = gr.Button(t("gallery.delete"), variant="stop", size="sm", elem_id="gallery-delete")

    def listed(lang: str, entries: list, selected: int = 0):
        item = entries[selected] if 0 <= selected < len(entries) else None
        return (entries, [(str(e.path), caption(lang, e)) for e in entries], info_line(lang, item),
                str(item.path) if item is not None else None)

    @said_on_page(2, 4)
    def list_saved(request: gr.Request):
        lang = lang_of(request)
        with user_errors(lang):
            return listed(lang, saved_entries(services, services.owner(request)))

    def select(entries, evt: gr.SelectData, request: gr.Request):
        i = evt.index if isinstance(evt.index, int) else 0
        item = entries[i] if 0 <= i < len(entries) else None
        return i, info_line(lang_of(request), item), str(item.path) if item is not None else None

    def pick(entries, index, request):
        lang = lang_of(request)
        if not entries:  # e.g. called from the API before a refresh in this session
            entries = saved_entries(services, services.owner(request))
        try:
            i = int(index or 0)
        except (TypeError, ValueError, OverflowError):
            i = -1
        if not 0 <= i < len(entries):
            raise user_error(lang, tr(lang, "gallery.no_such", index=index, count=len(entries)))
        return entries, i

    @said_on_page(2, 4)
    def open_in_edit(entries, index, state, request: gr.Request):
        lang = lang_of(request)
        entries, i = pick(entries, index, request)
        with user_errors(lang):
            value = open_in_editor(state, str(entries[i].path))  # a big result goes in at screen size
        return value, gr.Tabs(selected="edit"), tr(lang, "gallery.opened_edit"), state

    @said_on_page(2, 3)
    def open_in_generate(entries, index, request: gr.Request):
        entries, i = pick(entries, index, request)
        return str(entries[i].path), gr.Tabs(selected="generate"), tr(lang_of(request), "gallery.opened_generate")

    @said_on_page(2, 4)
    def delete(entries, index, request: gr.Request):
        lang = lang_of(request)
        entries, i = pick(entries, index, request)
        if not services.studio.delete_result(entries[i].job_id, services.owner(request)):
            # Not this browser's: the grid stays as it is and the reason stays on the page.
            reason = tr(lang, "gallery.not_yours")
            gr.Warning(reason, title=tr(lang, "common.error"))
            return gr.skip(), gr.skip(), reason, gr.skip()
        entries, items, _info, path = listed(lang, saved_entries(services, services.owner(request)))
        return entries, items, tr(lang, "gallery.deleted"), path

    # Reading the history is cheap: its own queue, never behind a GPU job.
    outputs = [entries_state, gallery, info, download]
    # Progress and errors show on the info line: the grid never becomes a bare error badge.
    refresh.click(list_saved, None, outputs, api_name="gallery", concurrency_id="gallery", concurrency_limit=4,
                  show_progress_on=[info])
    gallery.select(select, [entries_state], [index, info, download], api_visibility="private")
    open_btn.click(open_in_edit, [entries_state, index, edit_state], [edit_editor, tabs, edit_status, edit_state],
                   api_name="open_in_edit", queue=False)
    open_gen_btn.click(open_in_generate, [entries_state, index], [generate_init, tabs, info],
                       api_name="open_in_generate", queue=False)
    delete_btn.click(delete, [entries_state, index], outputs, api_name="delete_result", concurrency_id="gallery",
                     concurrency_limit=4, show_progress_on=[info])
    return list_saved, outputs
