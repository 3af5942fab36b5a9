"""StudioClient against StudioDeployment replicas on a local Ray cluster: the same jobs, outcomes,
errors, progress and cancellation as the in-process Studio, with each session on its replica."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from PIL import Image

from editor.errors import IntactError
from editor.studio import EditRequest, JobCancelled, JobContext

pytestmark = pytest.mark.slow

H, W = 40, 56
FAST = dict(steps=3, skip_steps=1, seed=3, model="tiny")


def photo_and_mask(seed: int, size=(H, W)):
    rng = np.random.default_rng(seed)
    photo = rng.integers(0, 256, (*size, 3), dtype=np.uint8)
    mask = np.zeros(size, np.float32)
    mask[size[0] // 5: size[0] * 4 // 5, size[1] // 4: size[1] * 3 // 4] = 1
    return photo, mask


def edit(seed: int = 1, target: str = "a red cup", size=(H, W), **kw) -> EditRequest:
    photo, mask = photo_and_mask(seed, size)
    return EditRequest(image=photo, mask=mask, source_prompt="a white cup", target_prompt=target, **{**FAST, **kw})


def long_edit(target: str) -> EditRequest:
    """Long enough on the tiny model (many steps at 256 px) to be stopped half way."""
    return edit(9, target, size=(256, 256), steps=40, skip_steps=0)


def history_captions(config) -> list[str]:
    from editor.storage import OutputStore

    return [r["caption"] for r in OutputStore(config.output_dir).history()]


def test_an_edit_on_a_replica_streams_its_progress_and_gives_the_in_process_picture(client, studio):
    steps = []
    outcome = client.edit(edit(target="same picture"), JobContext(session="p", progress=lambda *s: steps.append(s)))
    local = studio.edit(edit(target="same picture"), JobContext(session="p"))
    np.testing.assert_array_equal(np.asarray(outcome.image), np.asarray(local.image))
    assert isinstance(outcome.before, Image.Image) and outcome.mask.shape == (H, W)
    assert [s for s in steps if s[0] == "invert"] and [s for s in steps if s[0] == "edit"]
    assert steps[-1] == ("save", 1, 1)  # every progress report, in order, up to the save
    assert outcome.saved.files["result"].is_file() and outcome.report["served_by"].startswith("SERVE_REPLICA::")
    assert client.last_plan == outcome.report["memory_plan"] and client.resident()[0] == "tiny"


def test_a_sessions_second_edit_goes_to_its_replica_and_reuses_the_inversion(client):
    first = client.edit(edit(2), JobContext(session="affine")).report
    second = client.edit(edit(2, "a blue cup"), JobContext(session="affine")).report
    assert first["inversion"] == "computed" and second["inversion"] == "reused"
    assert second["served_by"] == first["served_by"]


def test_an_error_on_the_replica_arrives_as_the_same_user_error(client, studio):
    from models.locate import locate

    missing = next(name for name in ("flux-schnell", "flux-dev", "z-image-turbo") if not locate(name).available)
    request = edit(model=missing)
    with pytest.raises(IntactError) as remote:
        client.edit(request, JobContext(session="err"))
    with pytest.raises(IntactError) as local:
        studio.edit(request)
    assert str(remote.value) == str(local.value)
    assert (remote.value.key, remote.value.field, remote.value.values) == (local.value.key, local.value.field,
                                                                           local.value.values)
    assert remote.value.operator_hint == local.value.operator_hint  # for the app's log, never the browser


def test_cancel_reaches_the_job_on_its_replica_and_nothing_is_saved(client, served):
    _, config = served
    steps: list = []
    cancelled: list = []

    def cancel_after_three_steps():
        deadline = time.monotonic() + 120
        while len(steps) < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        cancelled.append(client.cancel("to-cancel"))

    stopper = threading.Thread(target=cancel_after_three_steps)
    stopper.start()
    with pytest.raises(JobCancelled):
        client.edit(long_edit("never saved"), JobContext(session="to-cancel", progress=lambda *s: steps.append(s)))
    stopper.join()
    assert cancelled == [True] and len(steps) < 40
    assert "never saved" not in history_captions(config)
    assert client.cancel("to-cancel") is False  # nothing runs for it any more


def test_a_progress_callback_that_raises_stops_the_job_on_the_replica(client, served):
    handle, config = served

    class Stop(Exception):
        pass

    def progress(stage, step, total):
        if stage == "edit" and step >= 2:
            raise Stop

    with pytest.raises(Stop):
        client.edit(long_edit("stopped by progress"), JobContext(session="raiser", progress=progress))
    deadline = time.monotonic() + 30  # the replica stops it at its next step
    while handle.options(multiplexed_model_id="raiser").cancel.remote("raiser").result() and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(0.5)
    assert "stopped by progress" not in history_captions(config)


def test_a_fresh_process_joins_a_loopback_cluster_by_its_address_with_the_routers_settings(ray_address, served):
    """What `python app.py --ray 127.0.0.1:PORT` does, in a process that inherited no Ray setting."""
    import os
    import subprocess
    import sys

    from serving.cluster import APP, running_apps
    from tests.app.app_server import ROOT

    deadline = time.monotonic() + 180  # a replica killed by an earlier test is being replaced
    while running_apps().get(APP) != 2 and time.monotonic() < deadline:
        time.sleep(1)
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    code = ("from serving import connect, studio_client\n"
            "from editor.studio import StudioConfig\n"
            f"client = studio_client({ray_address!r}, StudioConfig())\n"
            "import ray\n"
            "from ray.serve._private import constants\n"
            "print(ray.util.get_node_ip_address(), constants.RAY_SERVE_QUEUE_LENGTH_RESPONSE_DEADLINE_S,"
            " client.parallel_jobs, sorted(client.styles()))\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split()[:3] == ["127.0.0.1", "1.0", "8"]  # loopback node; the running 2 replicas found


def test_listings_are_the_replicas_view_of_the_machine(client, studio):
    assert client.styles().keys() == studio.styles().keys()
    assert client.presets().keys() == studio.presets().keys()
    assert [m.name for m in client.models("kv-edit")] == [m.name for m in studio.models("kv-edit")]
    assert client.plan_preview("tiny").name == studio.plan_preview("tiny").name
    assert client.default_model("kv-edit") == studio.default_model("kv-edit")


def test_the_app_built_on_the_client_runs_as_many_accelerator_jobs_at_once_as_the_replicas_take(client, served):
    import app as app_module

    _, config = served
    args = app_module.build_parser().parse_args(["--model", "tiny", "--output-dir", str(config.output_dir)])
    demo = app_module.create_demo(app_module.config_from_args(args), studio=client)
    limits = {fn.api_name: fn.concurrency_limit for fn in demo.fns.values() if fn.concurrency_id == "gpu"}
    assert {"edit", "invert", "generate", "build_ad"} <= set(limits)
    assert set(limits.values()) == {client.parallel_jobs} and client.parallel_jobs == 8


def test_the_gallery_reads_the_folder_every_replica_writes(client):
    saved = client.edit(edit(4, "for the gallery"), JobContext(session="g", owner="owner-g")).saved
    listed = client.saved_results("owner-g", only_owner=True)
    assert [item.job_id for item in listed] == [saved.id] and listed[0].path == saved.files["result"]
    assert client.delete_result(saved.id, "someone else") is False
    assert client.delete_result(saved.id, "owner-g") is True and client.saved_results("owner-g", only_owner=True) == []


def test_a_batch_of_ads_from_files_here_is_built_on_a_replica(client, tmp_path):
    from editor.ad.samples import product_shot
    from editor.studio import AdBatchRequest, AdRequest

    paths = []
    for name, colour in (("jam.png", (178, 34, 52)), ("tea.png", (40, 120, 60))):
        Image.fromarray(product_shot("plain", 96, 96, colour=colour).rgb).save(tmp_path / name)
        paths.append(str(tmp_path / name))
    request = AdBatchRequest(tuple(paths), AdRequest(product=None, headline="served batch", formats=("square",),
                                                     scale=0.2))
    outcome = client.make_ads_batch(request, JobContext(session="batch"))
    assert [(i["name"], i["status"]) for i in outcome.items] == [("jam", "done"), ("tea", "done")]
    assert outcome.saved.files["zip"].is_file()


def test_a_replica_at_its_session_bound_evicts_the_least_recently_used_session(served):
    """One replica holding one session: a third session's turn pushes the first one out."""
    from ray import serve

    from serving import ServingOptions, StudioClient, deploy

    _, config = served
    handle, _ = deploy(config, ServingOptions(replicas=1, max_sessions=1), name="intact-bound-test")
    try:
        bounded = StudioClient(handle, config)
        assert bounded.edit(edit(5), JobContext(session="a")).report["inversion"] == "computed"
        assert bounded.edit(edit(5), JobContext(session="b")).report["inversion"] == "computed"
        again = bounded.edit(edit(5), JobContext(session="a")).report
        assert again["inversion"] == "recomputed (evicted to make room)"
        assert handle.holding.remote().result()["inversions"] == 1
    finally:
        serve.delete("intact-bound-test")


def test_a_replica_lost_mid_job_is_replaced_and_the_job_saved_once(client, served):
    import ray

    _, config = served
    holder = client.edit(edit(6), JobContext(session="lost")).report["served_by"]
    steps: list = []

    def kill_after_three_steps():
        deadline = time.monotonic() + 120
        while len(steps) < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        ray.kill(ray.get_actor(holder, namespace="serve"), no_restart=True)

    killer = threading.Thread(target=kill_after_three_steps)
    killer.start()
    report = client.edit(long_edit("survives its replica"), JobContext(session="lost",
                                                                     progress=lambda *s: steps.append(s))).report
    killer.join()
    assert report["served_by"] != holder and report["inversion"] == "recomputed (replica changed)"
    assert history_captions(config).count("survives its replica") == 1
