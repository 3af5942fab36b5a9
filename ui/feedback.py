"""Turning domain errors into one-line messages in the user's language, and progress bars."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import gradio as gr

from editor.errors import IntactError
from models.locate import ModelNotAvailableError
from ui.i18n import tr

log = logging.getLogger("intact.ui")


@contextmanager
def user_errors(lang: str) -> Iterator[None]:
    """Show what the user can act on as a gr.Error; never a traceback in the page."""
    try:
        yield
    except gr.Error:
        raise
    except ModelNotAvailableError as exc:
        raise gr.Error(f"{tr(lang, 'err.model_missing')} {exc}", print_exception=False) from exc
    except IntactError as exc:
        raise gr.Error(str(exc), print_exception=False) from exc
    except Exception as exc:  # model load errors, out-of-memory...: logged with their trace
        from models.loading import ModelLoadError

        if isinstance(exc, ModelLoadError):
            raise gr.Error(str(exc), print_exception=False) from exc
        log.exception("unexpected error in a UI event")
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise gr.Error(tr(lang, "err.unexpected", detail=f"{type(exc).__name__}: {first}")) from exc


def progress_reporter(progress: gr.Progress, lang: str) -> Callable[[str, int, int], None]:
    """The domain's `progress(stage, step, total)` callback drawn as a gradio progress bar."""

    def report(stage: str, step: int, total: int) -> None:
        progress((step, total), desc=tr(lang, f"progress.{stage}"), unit="steps")

    return report
