"""Examples in the page's language: one set per language, the other hidden by the page's CSS
(ui/layout.py: `html:lang(ko)` follows the browser's language), so a Korean page shows no English
example and an English page no Korean one. Examples are never run (nor cached) at start-up."""

from __future__ import annotations

from collections.abc import Callable

import gradio as gr

from ui.i18n import t

LANGUAGES = ("ko", "en")


def examples_by_language(rows: dict[str, list[list]], inputs: list, elem_id: str,
                         label: Callable[[list], str]) -> None:
    """`rows[lang]`: that language's example rows for `inputs`; `label(row)` names a row."""
    for lang in LANGUAGES:
        gr.Examples(rows[lang], inputs, label=t("common.examples"), cache_examples=False,
                    example_labels=[label(row) for row in rows[lang]], elem_id=f"{elem_id}-{lang}")


def examples_css(elem_ids: list[str]) -> str:
    """The CSS that shows each example set only on a page in its language."""
    rules = []
    for elem_id in elem_ids:
        rules.append(f"html:lang(ko) #{elem_id}-en {{ display: none; }}")
        rules.append(f"html:not(:lang(ko)) #{elem_id}-ko {{ display: none; }}")
    return "\n".join(rules)
