"""Korean prompts for models that read English: the English that will be used, shown to edit.

Models whose text encoder reads Korean get the prompt as written. For the others, the Studio
translates (the translator model when it is here, else a built-in word list); the tab shows that
English in a box the user can correct, and the request carries the corrected English
(`target_english`, `source_english`, `prompt_english`). The box is filled by a cheap call that
loads no image model (`Studio.translate_preview`).

The English box belongs to the Korean text it was made from: a request sends it only while the
Korean is unchanged, so a stale translation never reaches the model.
"""

from __future__ import annotations

import gradio as gr

from editor.errors import IntactError
from editor.translate import contains_hangul
from ui.i18n import notice_text, tr


def english_preview(studio, lang: str, text: str, model: str, task: str):
    """(update for the English box, the note under it, what the box was made from)."""
    text = text or ""
    if not contains_hangul(text):
        return gr.update(value="", visible=False), "", ""
    try:
        translation = studio.translate_preview(text, model, task)
    except IntactError:  # a model that cannot do the task: the run says so, in the user's words
        return gr.update(value="", visible=False), "", ""
    if translation.backend == "pass-through":
        return gr.update(value="", visible=False), tr(lang, "prompt.reads_korean"), ""
    if not translation.editable:
        return gr.update(value="", visible=False), "", ""
    notes = [notice_text(lang, n) for n in translation.notices]
    if translation.backend == "marian":
        notes.insert(0, tr(lang, "prompt.by_translator"))
    return gr.update(value=translation.text, visible=True), "  \n".join(notes), text


def english_for(korean: str, english: str | None, made_from: str | None) -> str | None:
    """The English to send with a request: the box's, unless it was made from other Korean text
    (the user changed the prompt after the box was filled). An API client, which has no box
    history, sends its English as it is."""
    if not english or not english.strip() or not korean:
        return None
    return None if made_from and made_from != korean else english
