"""Turning domain errors into one-line messages in the user's language, and progress bars."""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import gradio as gr

from editor.errors import IntactError
from ui.error_text import error_text
from ui.i18n import tr

log = logging.getLogger("intact.ui")


def user_error(lang: str, message: str, **kwargs) -> gr.Error:
    """A gr.Error whose toast title is in the user's language too (gradio's default is "Error")."""
    return gr.Error(message, title=tr(lang, "common.error"), **kwargs)


@contextmanager
def user_errors(lang: str) -> Iterator[None]:
    """Show what the user can act on as a gr.Error in their language; never a traceback or a
    server path in the page (operator details go to the log)."""
    try:
        yield
    except gr.Error:
        raise
    except IntactError as exc:
        hint = getattr(exc, "operator_hint", "")
        if hint:
            log.warning("%s %s", exc, hint)
        raise user_error(lang, error_text(exc, lang), print_exception=False) from exc
    except Exception as exc:  # out-of-memory, bugs: logged with their trace
        from models.memory.oom import is_out_of_memory

        if is_out_of_memory(exc):
            raise user_error(lang, tr(lang, "err.out_of_memory"), print_exception=False) from exc
        log.exception("unexpected error in a UI event")
        raise user_error(lang, tr(lang, "err.unexpected", detail=type(exc).__name__)) from exc


def progress_reporter(progress: gr.Progress, lang: str) -> Callable[[str, int, int], None]:
    """The domain's `progress(stage, step, total)` callback drawn as a gradio progress bar."""

    def report(stage: str, step: int, total: int) -> None:
        progress((step, total), desc=tr(lang, f"progress.{stage}"), unit=tr(lang, "progress.unit"))

    return report


def cancel_job(studio, session: str | None, lang: str) -> str:
    """Ask the Studio to stop `session`'s running job; the line the page shows about it."""
    stopped = session is not None and studio.cancel(session)
    return tr(lang, "common.cancelling" if stopped else "common.nothing_running")


def from_api(request) -> bool:
    """Whether an event was called through the API (gradio_client marks its calls; raw HTTP calls
    go to /gradio_api/call/…), not by the page."""
    if request is None:
        return True
    headers = getattr(request, "headers", None) or {}
    if headers.get("x-gradio-user") in ("api", "mcp"):
        return True
    url = getattr(request, "url", None)
    return "/call/" in str(getattr(url, "path", url) or "")


def said_on_page(status: int, outputs: int):
    """For an event answered off the queue (app.answer_cheap_events_directly): Gradio 6's page shows
    such an event's error as a bare "Error" badge without its words, a dead end. On the page, the
    wrapped handler's refusal goes to its output number `status` (a status line) and its other
    `outputs` stay as they were; an API caller still gets the error. The handler takes a
    `request: gr.Request` keyword (Gradio passes it by that annotation)."""

    def wrap(fn):
        signature = inspect.signature(fn)

        @functools.wraps(fn)
        def handler(*args, **kwargs):
            try:
                return fn(*args, **kwargs)
            except gr.Error as exc:
                request = signature.bind_partial(*args, **kwargs).arguments.get("request")
                if from_api(request):
                    raise
                answer = [gr.skip()] * outputs
                answer[status] = f"⚠️ {exc.message}"
                return tuple(answer) if outputs > 1 else answer[0]

        return handler

    return wrap
