"""The launched app (tiny model) driven by a hostile client, through gradio_client and raw HTTP.

Defects this pins (issue #22): NaN in a whole-number field (edit seed, generate width/height/steps/
seed, gallery index) gave Gradio's multi-line "Could not preprocess input component ... cannot
convert float NaN to integer"; layout adjust with text size NaN or colour "rgba(1.2.3.4,5,6)"
answered with a raw Python message; a lone surrogate in any text field failed after the work
("Something went wrong (UnicodeEncodeError)").

Then a bounded property-based fuzz test (hypothesis) sends every public endpoint random strings
(lone surrogates, NUL, right-to-left marks, 10^5 characters) and numbers (NaN, ±inf, 1e400,
negatives): the only allowed outcomes are a result or one line that names no server folder and is
not the generic "something went wrong", each answered within 30 s. One app serves the module.
"""

from __future__ import annotations

import json
import math
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.app.app_server import running_app
from tests.app.test_api import EDIT_OPTIONS, ad_inputs, editor_value

pytestmark = pytest.mark.slow

REMOTE = {"X-Forwarded-For": "203.0.113.7"}
KOREAN = {**REMOTE, "Accept-Language": "ko-KR,ko;q=0.9"}
GENERIC = ("Something went wrong", "문제가 발생", "Could not preprocess", "cannot convert", "Traceback",
           "could not convert", "unexpected")
NAN, INF = float("nan"), float("inf")


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    root = tmp_path_factory.mktemp("fuzz-api")
    rng = np.random.default_rng(5)
    Image.fromarray(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)).save(root / "photo.png")
    layer = np.zeros((48, 64, 4), np.uint8)
    layer[10:30, 12:40] = (255, 40, 120, 255)
    Image.fromarray(layer, "RGBA").save(root / "stroke.png")
    from editor.ad.samples import product_shot

    Image.fromarray(product_shot("plain", 96, 96).rgb).save(root / "product.png")
    return root


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    with running_app(output_dir=tmp_path_factory.mktemp("fuzz-out")) as running:
        yield running


def client(app, headers=REMOTE):
    from gradio_client import Client

    return Client(app.url, verbose=False, headers=headers, download_files=False)


class RawClient:
    """A hostile client speaking raw HTTP, as gradio_client cannot: it refuses to send NaN or a lone
    surrogate. Arguments are named as in `view_api`; files are uploaded first; one session."""

    def __init__(self, app, headers=REMOTE):
        self.app, self.headers = app, headers
        self.session = f"fuzz-{time.monotonic_ns()}"
        self._info = client(app, headers).view_api(return_format="dict", print_info=False)["named_endpoints"]

    def predict(self, api_name: str, **kwargs) -> tuple[str, str]:
        """("ok", "") or ("error", the message), timed: under 30 s."""
        params = self._info[api_name]["parameters"]
        data = [self._files(kwargs[p["parameter_name"]]) if p["parameter_name"] in kwargs
                else p.get("parameter_default") for p in params]
        start = time.monotonic()
        event, payload = raw_call(self.app, api_name.lstrip("/"), data, self.headers, self.session)
        assert time.monotonic() - start < 30, api_name
        if event == "complete":
            return "ok", ""
        assert event == "error", (event, payload)
        message = json.loads(payload) if payload not in ("", "null") else None
        return "error", (message or {}).get("error") or "" if isinstance(message, dict) else str(message)

    def _files(self, value):
        if isinstance(value, dict) and (value.get("meta") or {}).get("_type") == "gradio.FileData":
            return raw_upload(self.app, Path(value["path"]), self.headers)
        if isinstance(value, dict):
            return {k: self._files(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self._files(v) for v in value]
        return value


def outcome(c: RawClient, api_name: str, **call) -> tuple[str, str]:
    return c.predict(api_name, **call)


def assert_one_clear_line(message: str, app) -> None:
    assert message and "\n" not in message.strip(), message
    assert not any(g in message for g in GENERIC), message
    assert str(app.output_dir) not in message and "/tmp" not in message, message


def raw_upload(app, path: Path, headers=REMOTE) -> dict:
    """POST /gradio_api/upload (multipart), as a browser uploads: the file's FileData."""
    boundary = "intact-test-boundary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"{path.name}\"\r\n"
            f"Content-Type: application/octet-stream\r\n\r\n").encode() + path.read_bytes() + \
        f"\r\n--{boundary}--\r\n".encode()
    request = urllib.request.Request(f"{app.url}gradio_api/upload", body,
                                     {"Content-Type": f"multipart/form-data; boundary={boundary}", **headers})
    with urllib.request.urlopen(request, timeout=30) as answer:
        [server_path] = json.loads(answer.read())
    return {"path": server_path, "orig_name": path.name, "meta": {"_type": "gradio.FileData"}}


def raw_call(app, api_name: str, data: list, headers=REMOTE, session: str | None = None) -> tuple[str, str]:
    """POST /gradio_api/call/<api> with `data` (NaN written as the literal NaN and lone surrogates as
    JSON escapes, as a hostile client may), then read the event stream: (last event, its data)."""
    body = {"data": data, **({"session_hash": session} if session else {})}
    request = urllib.request.Request(f"{app.url}gradio_api/call/{api_name}", json.dumps(body).encode(),
                                     {"Content-Type": "application/json", **headers})
    with urllib.request.urlopen(request, timeout=30) as answer:
        event_id = json.loads(answer.read())["event_id"]
    with urllib.request.urlopen(urllib.request.Request(f"{app.url}gradio_api/call/{api_name}/{event_id}",
                                                       headers=headers), timeout=60) as stream:
        text = stream.read().decode("utf-8")
    events = [line.removeprefix("event: ").strip() for line in text.splitlines() if line.startswith("event:")]
    datas = [line.removeprefix("data: ") for line in text.splitlines() if line.startswith("data:")]
    return events[-1], datas[-1]


# --- the defects, one by one ------------------------------------------------------------------


def test_raw_http_nan_seed_on_edit_is_our_one_line_about_the_seed(app, inputs):
    info = client(app).view_api(return_format="dict", print_info=False)["named_endpoints"]["/edit"]["parameters"]
    picture = {"background": raw_upload(app, inputs / "photo.png"),
               "layers": [raw_upload(app, inputs / "stroke.png")], "composite": None}
    values = {"model": "tiny", "editor_value": picture, "source_prompt": "a", "target_prompt": "b", **EDIT_OPTIONS,
              "seed": NAN}
    data = [values.get(p["parameter_name"], p.get("parameter_default")) for p in info]
    event, message = raw_call(app, "edit", data)
    assert event == "error", message
    assert "seed" in message.lower() and "whole number" in message, message
    assert "preprocess" not in message and "NaN to integer" not in message, message


@pytest.mark.parametrize("field", ["width", "height", "steps", "seed"])
@pytest.mark.parametrize("value", [NAN, INF, -INF])
def test_non_finite_whole_numbers_on_generate_are_one_line_naming_the_field(app, field, value):
    call = dict(model="tiny", prompt="a cup", preset="", negative="", lora="", lora_weight=0.8, init_image=None,
                strength=0.5, width=None, height=None, steps=1, guidance=None, seed=1, count=1, api_name="/generate")
    call[field] = value
    kind, message = outcome(RawClient(app, KOREAN), **call)
    assert kind == "error"
    assert_one_clear_line(message, app)


def test_a_nan_gallery_index_is_one_line(app):
    kind, message = outcome(RawClient(app), index=NAN, api_name="/open_in_edit")
    assert kind == "error"
    assert_one_clear_line(message, app)


def test_layout_adjust_with_a_nan_size_or_a_broken_colour_is_one_line(app, inputs):
    c = RawClient(app)
    build = ad_inputs(inputs / "product.png", formats=["instagram-square"])
    assert outcome(c, **build, api_name="/build_ad")[0] == "ok"
    adjust = dict(build, name="instagram-square", position="top", align="center", text_size=96, font=None,
                  text_colour="#222222", accent="#aa2233", emphasis="accent", product_size=0.5, product_x=0.5,
                  product_y=0.9, api_name="/apply_layout")
    for change in ({"text_size": NAN}, {"text_colour": "rgba(1.2.3.4,5,6)"}, {"product_x": INF}):
        kind, message = outcome(c, **{**adjust, **change})
        assert kind == "error", change
        assert_one_clear_line(message, app)


@pytest.mark.parametrize("field", ["headline", "subline", "price", "cta", "old_price"])
def test_a_lone_surrogate_in_ad_copy_is_refused_at_the_port(app, inputs, field):
    kind, message = outcome(RawClient(app, KOREAN), **ad_inputs(inputs / "product.png", **{field: "가\udcff"}),
                            api_name="/build_ad")
    assert kind == "error" and "깨진 글자" in message, message
    assert_one_clear_line(message, app)


def test_a_lone_surrogate_in_a_prompt_is_refused_at_the_port(app, inputs):
    kind, message = outcome(RawClient(app), model="tiny", editor_value=editor_value(inputs / "photo.png",
                                                                                 inputs / "stroke.png"),
                            source_prompt="a", target_prompt="b\ud800", **EDIT_OPTIONS, api_name="/edit")
    assert kind == "error" and "broken character" in message, message


# --- the property-based fuzz test -------------------------------------------------------------


def hostile_texts():
    from hypothesis import strategies as st

    return st.one_of(
        st.sampled_from(["\udcff", "\ud800x", "a\x00b", "\u202e\u0645\u0631\u062d\u0628\u0627", "x" * 100_000,
                         "가" * 5000, "", " ", "{prompt}", "../../etc/passwd", "\r\n\r\n"]),
        st.text(max_size=40),
    )


def hostile_numbers():
    from hypothesis import strategies as st

    return st.sampled_from([NAN, INF, -INF, 1e400, -5, -1e300, 0, 0.5, 2**70, 1])


def test_fuzz_build_ad_texts_and_numbers(app, inputs):
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    c = RawClient(app, KOREAN)
    base = ad_inputs(inputs / "product.png", formats=["instagram-square"], scale=0.2)

    @settings(max_examples=8, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(field=st.sampled_from(["headline", "subline", "price", "cta", "old_price", "brand", "seed", "scale"]),
           text=hostile_texts(), number=hostile_numbers())
    def check(field, text, number):
        value = number if field in ("seed", "scale") else text
        kind, message = outcome(c, **{**base, field: value}, api_name="/build_ad")
        if kind == "error":
            assert_one_clear_line(message, app)

    check()


def test_fuzz_generate_texts_and_numbers(app):
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    c = RawClient(app)
    base = dict(model="tiny", prompt="a cup", preset="", negative="", lora="", lora_weight=0.8, init_image=None,
                strength=0.5, width=32, height=32, steps=1, guidance=None, seed=1, count=1, api_name="/generate")

    @settings(max_examples=10, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(field=st.sampled_from(["prompt", "negative", "preset", "lora", "model", "width", "height", "steps",
                                  "seed", "guidance", "strength", "lora_weight", "count"]),
           text=hostile_texts(), number=hostile_numbers())
    def check(field, text, number):
        numeric = field in ("width", "height", "steps", "seed", "guidance", "strength", "lora_weight", "count")
        value = number if numeric else text
        if field in ("width", "height") and isinstance(value, (int, float)) and math.isfinite(value) and value > 64:
            value = 64  # a valid but big picture would only be slow on the tiny model, not hostile
        if field == "steps" and isinstance(value, (int, float)) and math.isfinite(value) and value > 2:
            value = 2
        kind, message = outcome(c, **{**base, field: value})
        if kind == "error":
            assert_one_clear_line(message, app)

    check()


def test_fuzz_edit_gallery_and_status(app, inputs):
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    c = RawClient(app)
    photo = editor_value(inputs / "photo.png", inputs / "stroke.png")

    @settings(max_examples=8, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(field=st.sampled_from(["source_prompt", "target_prompt", "kv_cache", "seed", "skip_steps",
                                  "attn_scale", "guidance", "index"]),
           text=hostile_texts(), number=hostile_numbers())
    def check(field, text, number):
        if field == "index":
            kind, message = outcome(c, index=number, api_name="/open_in_generate")
        else:
            numeric = field in ("seed", "skip_steps", "attn_scale", "guidance")
            call = dict(model="tiny", editor_value=photo, source_prompt="a", target_prompt="b",
                        **{**EDIT_OPTIONS, "steps": 2, "skip_steps": 0})
            call[field] = number if numeric else text
            kind, message = outcome(c, **call, api_name="/edit")
        if kind == "error":
            assert_one_clear_line(message, app)

    check()
    assert outcome(c, api_name="/status")[0] == "ok"
    assert outcome(c, api_name="/gallery")[0] == "ok"


def _never_written_half(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.name.startswith(".") and p.name.endswith(".tmp")]


def test_no_half_written_file_is_left_after_the_fuzz(app):
    assert _never_written_half(app.output_dir) == []
