"""The launched app (tiny model, a queue of 2) against a careless or hostile client, through its API
as a remote browser would use it:

- every bad upload (not an image, empty, truncated, SVG) to every picture input gets our one line in
  the user's language, never Gradio's "Could not preprocess ... <server path>";
- a 79-megapixel upload is refused from its header and barely moves the server's memory;
- no answer of a whole session names the output, models, styles or presets folder;
- with the queue full of GPU jobs, the gallery and the status still answer, at once.

The client sends `X-Forwarded-For` (which the server trusts from loopback, as it would trust a
reverse proxy), so the app sees it as a remote client, not as the operator at this machine.
"""

from __future__ import annotations

import json
import os
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from benchmarks.load_test import RssSampler, rss_bytes
from tests.app.app_server import running_app
from tests.app.test_api import EDIT_OPTIONS, ad_inputs, editor_value
from tests.reliability.test_images import uniform_png
from tests.reliability.test_uploads import BAD_FILES

pytestmark = pytest.mark.slow

REMOTE = {"X-Forwarded-For": "203.0.113.7"}
KOREAN = {**REMOTE, "Accept-Language": "ko-KR,ko;q=0.9"}


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")
    styles, presets = root / "styles", root / "presets"
    styles.mkdir()
    presets.mkdir()
    (styles / "broken.json").write_text('{"display_name": "Broken", "trig', encoding="utf-8")
    (presets / "bakery.json").write_text('{"name": "bakery", "colour": "red"}', encoding="utf-8")
    inputs = root / "inputs"
    inputs.mkdir()
    for name, (data, _key) in BAD_FILES.items():
        (inputs / name).write_bytes(data)
    rng = np.random.default_rng(3)
    Image.fromarray(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)).save(inputs / "photo.png")
    layer = np.zeros((48, 64, 4), np.uint8)
    layer[10:30, 12:40] = (255, 40, 120, 255)
    Image.fromarray(layer, "RGBA").save(inputs / "stroke.png")
    from editor.ad.samples import product_shot

    Image.fromarray(product_shot("plain", 96, 96).rgb).save(inputs / "product.png")
    (inputs / "huge.png").write_bytes(uniform_png(8900, 8900))  # 79 MP, under 100 KB
    return {"root": root, "styles": styles, "presets": presets, "inputs": inputs, "output": root / "outputs"}


@pytest.fixture(scope="module")
def app(folders):
    env = {"INTACT_STYLES_DIR": str(folders["styles"]), "INTACT_PRESETS_DIR": str(folders["presets"])}
    with running_app("--queue-size", "2", env=env, output_dir=folders["output"]) as running:
        yield running


def client(app, headers=REMOTE, download_files=False):
    from gradio_client import Client

    return Client(app.url, verbose=False, headers=headers, download_files=download_files)


def predict_error(c, **call) -> str:
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError) as caught:
        c.predict(**call)
    return str(caught.value)


def bad_upload_calls(inputs: Path, bad: Path) -> dict[str, dict]:
    from gradio_client import handle_file

    good = inputs / "photo.png"
    return {
        "edit photo": dict(model="tiny", editor_value=editor_value(bad, inputs / "stroke.png"),
                           source_prompt="a", target_prompt="b", **EDIT_OPTIONS, api_name="/edit"),
        "edit brush layer": dict(model="tiny", editor_value=editor_value(good, bad), source_prompt="a",
                                 target_prompt="b", **EDIT_OPTIONS, api_name="/edit"),
        "cut-out product": dict(product=handle_file(str(bad)), remover="offline", api_name="/cutout"),
        "ad background": dict(**ad_inputs(inputs / "product.png", bg_mode="upload", bg_image=handle_file(str(bad))),
                              api_name="/build_ad"),
        "generate init image": dict(model="tiny", prompt="a cup", preset="", negative="", lora="", lora_weight=0.8,
                                    init_image=handle_file(str(bad)), strength=0.5, width=None, height=None, steps=1,
                                    guidance=None, seed=1, count=1, api_name="/generate"),
    }


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_every_bad_upload_gets_our_one_line_in_the_users_language(app, folders, name):
    c = client(app, headers=KOREAN)
    for where, call in bad_upload_calls(folders["inputs"], folders["inputs"] / name).items():
        message = predict_error(c, **call)
        assert "\n" not in message.strip(), (where, message)
        assert "preprocess" not in message and "/tmp" not in message and "Traceback" not in message, (where, message)
        assert name in message, (where, message)  # the user's own file name...
        assert any("\uac00" <= ch <= "\ud7a3" for ch in message), (where, message)  # ...in Korean


def test_a_79_megapixel_upload_is_refused_and_raises_server_memory_by_less_than_50_mb(app, folders):
    from gradio_client import handle_file

    c = client(app)
    inputs, huge = folders["inputs"], folders["inputs"] / "huge.png"
    calls = bad_upload_calls(inputs, huge)
    predict_error(c, **calls["cut-out product"])  # warm the code path (imports) before measuring
    time.sleep(1.0)
    baseline = rss_bytes(app.process.pid)
    sampler = RssSampler(app.process.pid, every=0.02)
    sampler.start()
    messages = [predict_error(c, **call) for call in calls.values()]
    messages.append(predict_error(c, product=handle_file(str(huge)), remover="offline", api_name="/cutout"))
    sampler.stop()
    rise_mb = (max(sampler.peak, rss_bytes(app.process.pid)) - baseline) / 2**20
    print(f"\n79 MP upload ({huge.stat().st_size / 1e3:.0f} KB) to {len(messages)} inputs: server RSS "
          f"{baseline / 2**20:.0f} MB -> peak +{rise_mb:.1f} MB")
    for message in messages:
        assert "79.2 megapixels" in message and "limit is 40 megapixels" in message, message
    assert rise_mb < 50, f"server memory rose by {rise_mb:.1f} MB"


def test_no_answer_of_a_whole_session_names_a_server_folder(app, folders):
    from gradio_client import handle_file

    c = client(app)
    inputs = folders["inputs"]
    photo, stroke = inputs / "photo.png", inputs / "stroke.png"
    answers: list[str] = []

    def ask(**call):
        try:
            answers.append(json.dumps(c.predict(**call), ensure_ascii=False, default=str))
        except Exception as exc:  # noqa: BLE001 - refusals are answers too
            answers.append(f"{type(exc).__name__}: {exc}")

    ask(api_name="/status")
    ask(model="tiny", editor_value=editor_value(photo, stroke), source_prompt="a", **EDIT_OPTIONS, api_name="/invert")
    ask(model="tiny", editor_value=editor_value(photo, stroke), source_prompt="a", target_prompt="b", **EDIT_OPTIONS,
        api_name="/edit")
    ask(api_name="/continue_editing")
    ask(api_name="/cancel_edit")
    ask(api_name="/gallery")
    ask(index=0, api_name="/open_in_edit")
    ask(index=0, api_name="/open_in_generate")
    ask(product=handle_file(str(inputs / "product.png")), remover="offline", api_name="/cutout")
    ask(product=handle_file(str(inputs / "product.png")), mask_value=None, api_name="/cutout_fix")
    ask(**ad_inputs(inputs / "product.png"), api_name="/build_ad")
    generate = dict(model="tiny", prompt="a cup", preset="", negative="", lora="", lora_weight=0.8, init_image=None,
                    strength=0.5, width=None, height=None, steps=1, guidance=None, seed=1, count=1,
                    api_name="/generate")
    ask(**generate)
    # Refusals that used to carry a folder: a missing model, a style without its weights, broken data files.
    ask(model="flux-dev", editor_value=editor_value(photo, stroke), source_prompt="a", target_prompt="b",
        **EDIT_OPTIONS, api_name="/edit")
    ask(**{**generate, "model": "flux-dev"})
    ask(**{**generate, "lora": "realism"})
    ask(**{**generate, "lora": "broken"})
    ask(**{**generate, "preset": "bakery"})
    ask(**{**generate, "init_image": handle_file(str(inputs / "notes.png"))})
    ask(api_name="/status")
    folders_named = {"output": str(folders["output"]), "models": os.environ["INTACT_MODELS_DIR"],
                     "styles": str(folders["styles"]), "presets": str(folders["presets"])}
    assert len(answers) == 19
    for answer in answers:
        for what, folder in folders_named.items():
            assert folder not in answer, f"the {what} folder is in an answer: {answer[:500]}"
    status = answers[-1]
    assert "broken.json" in status and "bakery.json" in status  # the Status tab lists the skipped files by name


def browser_call(app, api_name: str, timeout: float = 20.0) -> tuple[int, float]:
    """Call an event with no inputs as Gradio's page does: a direct HTTP POST when the event is not
    queued (the page reads that from the app's config), else a join of the queue. (status, seconds)"""
    with urllib.request.urlopen(f"{app.url}config", timeout=timeout) as response:
        config = json.load(response)
    dependency = next(d for d in config["dependencies"] if d.get("api_name") == api_name)
    session = f"browser-{api_name}-{time.monotonic_ns()}"
    if dependency.get("queue") is False:
        path, body = f"run/{api_name}", {"data": [], "session_hash": session}
    else:  # queued: the page joins the queue (and is refused when it is full)
        path, body = "queue/join", {"data": [], "fn_index": dependency["id"], "session_hash": session}
    request = urllib.request.Request(f"{app.url}gradio_api/{path}", data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json", **REMOTE})
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            response.read()
            return response.status, time.perf_counter() - started
    except urllib.error.HTTPError as exc:
        return exc.code, time.perf_counter() - started


def test_gallery_and_status_answer_at_once_while_gpu_jobs_fill_the_queue(app):
    from gradio_client.utils import QueueError

    slow = dict(model="tiny", prompt="a cup", preset="", negative="", lora="", lora_weight=0.8, init_image=None,
                strength=0.5, width=512, height=512, steps=40, guidance=None, seed=1, count=1, api_name="/generate")
    refused, finished = threading.Event(), []

    def gpu_job():
        try:
            client(app).predict(**slow)
            finished.append(time.perf_counter())
        except QueueError:
            refused.set()

    jobs = []
    while not refused.is_set() and len(jobs) < 8:  # one runs, two wait (queue of 2): the next is refused
        jobs.append(threading.Thread(target=gpu_job))
        jobs[-1].start()
        refused.wait(0.7)
    assert refused.is_set(), "the GPU jobs never filled the queue"
    checked_at = time.perf_counter()
    for api_name in ("gallery", "status"):  # ...and the cheap endpoints still answer, without waiting
        status, seconds = browser_call(app, api_name)
        print(f"\n/{api_name} with the queue full: HTTP {status} in {seconds:.2f} s")
        assert status == 200 and seconds < 5.0, (api_name, status, seconds)
    for job in jobs:
        job.join(timeout=300)
    accepted = len(jobs) - 1  # the last one was refused
    over_before_check = sum(at <= checked_at for at in finished)
    assert over_before_check < accepted, "every GPU job was over before the check: nothing was proven"
