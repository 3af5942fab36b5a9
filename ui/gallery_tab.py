"""Gallery tab: every saved result with its parameters (read from the output store's history),
and a button that re-opens one in the Edit tab."""

from __future__ import annotations

from pathlib import Path

import gradio as gr

from ui.app_state import Services, session_owner
from ui.feedback import user_errors
from ui.i18n import lang_of, t, tr

MAX_SHOWN = 200  # newest first; older results stay on disk and in history.jsonl


def saved_entries(services: Services, owner: str | None = None) -> list[dict]:
    """History entries whose image file still exists, newest first, with an absolute `path`.

    With a private gallery (public Spaces) only the entries saved by `owner`'s session are listed.
    """
    store = services.store
    seen, entries = set(), []
    for entry in reversed(store.history()):
        path = Path(store.root) / entry.get("file", "")
        if entry["sha256"] in seen or not path.is_file():
            continue
        if services.config.private_gallery and (owner is None or entry.get("params", {}).get("owner") != owner):
            continue
        seen.add(entry["sha256"])
        entries.append({**entry, "path": str(path)})
        if len(entries) >= MAX_SHOWN:
            break
    return entries


def caption(entry: dict) -> str:
    p = entry.get("params", {})
    task = p.get("task", "")
    text = p.get("target_prompt") or p.get("prompt") or p.get("headline") or ""
    return f"{task} · {text}"[:80] if text else task


def shown(entry: dict) -> dict:
    """The history entry as displayed: without the absolute path (clients would read it as a file)."""
    return {k: v for k, v in entry.items() if k != "path"}


def build_gallery_tab(services: Services, tabs: gr.Tabs, edit_editor: gr.ImageEditor, generate_init: gr.Image) -> tuple:
    entries_state = gr.State([])
    with gr.Row():
        refresh = gr.Button(t("gallery.refresh"), elem_id="gallery-refresh")
        index = gr.Number(value=0, precision=0, minimum=0, label=t("gallery.selected"), elem_id="gallery-index")
        open_btn = gr.Button(t("gallery.open_edit"), variant="primary", elem_id="gallery-open")
        open_gen_btn = gr.Button(t("gallery.open_generate"), elem_id="gallery-open-generate")
    gallery = gr.Gallery(label=t("gallery.saved"), columns=6, height=420, allow_preview=True, format="png",
                         interactive=False, elem_id="gallery-grid")
    params = gr.JSON(label=t("gallery.params"))

    def list_saved(request: gr.Request):
        with user_errors(lang_of(request)):
            entries = saved_entries(services, session_owner(request))
        return entries, [(e["path"], caption(e)) for e in entries], shown(entries[0] if entries else {})

    def select(entries, evt: gr.SelectData):
        i = evt.index if isinstance(evt.index, int) else 0
        return i, shown(entries[i] if 0 <= i < len(entries) else {})

    def pick(entries, index, request):
        lang = lang_of(request)
        i = int(index or 0)
        if not entries:  # e.g. called from the API before a refresh in this session
            entries = saved_entries(services, session_owner(request))
        if not 0 <= i < len(entries):
            raise gr.Error(tr(lang, "gallery.no_such", index=i, count=len(entries)))
        from PIL import Image

        with Image.open(entries[i]["path"]) as im:
            return im.convert("RGBA") if "A" in im.getbands() else im.convert("RGB")

    def open_in_edit(entries, index, request: gr.Request):
        image = pick(entries, index, request)
        return {"background": image, "layers": [], "composite": image}, gr.Tabs(selected="edit")

    def open_in_generate(entries, index, request: gr.Request):
        return pick(entries, index, request), gr.Tabs(selected="generate")

    refresh.click(list_saved, None, [entries_state, gallery, params], api_name="gallery")
    gallery.select(select, [entries_state], [index, params], api_visibility="private")
    open_btn.click(open_in_edit, [entries_state, index], [edit_editor, tabs], api_name="open_in_edit")
    open_gen_btn.click(open_in_generate, [entries_state, index], [generate_init, tabs], api_name="open_in_generate")
    return list_saved, [entries_state, gallery, params]
