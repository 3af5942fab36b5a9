"""Refusals of events answered off the queue: on the page they go to the event's status line (Gradio
shows such an event's error as a bare badge), through the API they stay errors."""

from __future__ import annotations

from types import SimpleNamespace

import gradio as gr
import pytest

from ui.feedback import from_api, said_on_page


def page_request(path="/gradio_api/run/predict", **headers):
    return SimpleNamespace(headers=headers, url=SimpleNamespace(path=path))


@said_on_page(1, 3)
def refuses(value, request: gr.Request):
    raise gr.Error(f"no {value}")


@said_on_page(0, 1)
def answers(value, request: gr.Request):
    return f"done {value}"


def test_on_the_page_the_reason_goes_to_the_status_output_and_the_others_stay():
    first, status, third = refuses("name", page_request())
    assert status == "⚠️ no name"
    assert isinstance(first, type(gr.skip())) and isinstance(third, type(gr.skip()))
    assert answers("x", request=page_request()) == "done x"  # an answer passes unchanged


@pytest.mark.parametrize("request_", [page_request(**{"x-gradio-user": "api"}),  # gradio_client
                                      page_request("/gradio_api/call/brand_save"),  # raw HTTP
                                      None])
def test_through_the_api_it_stays_an_error(request_):
    assert from_api(request_)
    with pytest.raises(gr.Error, match="no name"):
        refuses("name", request_)
