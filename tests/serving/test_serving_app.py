"""The app started with --ray against the test's cluster (two Studio replicas): users editing through
the app's API get their own results, each session stays on its replica, a lost replica costs one
re-inversion and no result, and the history log keeps each result once."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.app.app_server import running_app
from tests.serving.cluster import descendants, is_loopback, listening_addresses

pytestmark = pytest.mark.slow

H, W = 48, 64
OPTIONS = {"steps": 3, "skip_steps": 1, "inversion_guidance": 1.5, "guidance": 3.5, "re_init": False,
           "attn_mask": False, "attn_scale": 1.0, "seed": 42, "kv_cache": "auto"}
PREFIX = "served app"  # every target prompt of this module starts with it (the history check finds them)


@pytest.fixture(scope="module")
def app(ray_address, served):
    _, config = served
    with running_app("--ray", ray_address, output_dir=config.output_dir, startup_timeout=300) as running:
        yield running


class User:
    """One browser session: its own photo and brush stroke."""

    def __init__(self, app, folder: Path, seed: int):
        from gradio_client import Client

        rng = np.random.default_rng(seed)
        self.rgb = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
        layer = np.zeros((H, W, 4), np.uint8)
        y, x = 6 + seed % 7, 5 + seed % 11
        layer[y:y + 20, x:x + 24] = (255, 40, 120, 255)
        self.stroke_mask = layer[:, :, 3] > 0
        self.photo, self.stroke = folder / f"photo-{seed}.png", folder / f"stroke-{seed}.png"
        Image.fromarray(self.rgb).save(self.photo)
        Image.fromarray(layer, "RGBA").save(self.stroke)
        self.client = Client(app.url, verbose=False)
        self.seed = seed

    def edit(self, n: int) -> dict:
        """One edit through /edit; checks the answer is this user's, returns the report."""
        from gradio_client import handle_file

        target = f"{PREFIX} user {self.seed} edit {n}"
        value = {"background": handle_file(str(self.photo)), "layers": [handle_file(str(self.stroke))],
                 "composite": None}
        _status, _compare, _overlay, files, report, history = self.client.predict(
            "tiny", value, "a noisy photo", target, **OPTIONS, api_name="/edit")
        assert report["target_translation"]["source_text"] == target
        result = np.asarray(Image.open(files[0]).convert("RGB"))
        outside = ~self.stroke_mask
        assert np.array_equal(result[outside], self.rgb[outside])  # this user's photo, every pixel
        assert not np.array_equal(result[self.stroke_mask], self.rgb[self.stroke_mask])
        assert len(history) == n + 1  # this session's own history only
        return report


def test_two_users_editing_at_once_get_their_own_results_each_on_its_replica(app, tmp_path):
    users = [User(app, tmp_path, seed) for seed in (1, 2)]
    reports: dict[int, list] = {u.seed: [] for u in users}
    errors: list = []

    def work(user: User):
        try:
            for n in range(2):
                reports[user.seed].append(user.edit(n))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(u,)) for u in users]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not errors, errors
    for first, second in reports.values():
        assert first["inversion"] == "computed" and second["inversion"] == "reused"  # affinity
        assert second["served_by"] == first["served_by"]


def test_killing_the_replica_holding_a_session_makes_its_next_edit_reinvert_elsewhere(app, tmp_path):
    import ray

    user = User(app, tmp_path, 3)
    holder = user.edit(0)["served_by"]
    assert user.edit(1)["inversion"] == "reused"
    ray.kill(ray.get_actor(holder, namespace="serve"), no_restart=True)
    moved = user.edit(2)
    assert moved["inversion"] == "recomputed (replica changed)" and moved["served_by"] != holder
    assert user.edit(3)["inversion"] == "reused"


def test_the_history_log_is_valid_and_has_each_result_once(app, served):
    _, config = served
    lines = (Path(config.output_dir) / "history.jsonl").read_bytes().split(b"\n")
    assert lines[-1] == b""
    records = [json.loads(line) for line in lines[:-1]]  # every line is one whole record
    mine = [r["caption"] for r in records if r["caption"].startswith(PREFIX)]
    assert sorted(mine) == sorted({*mine}) and len(mine) == 2 * 2 + 4  # the edits above, each once
    assert len({r["id"] for r in records}) == len(records)
    for record in records:
        for listed in record["files"]:
            path = Path(config.output_dir) / listed["file"]
            assert path.is_file() or not (Path(config.output_dir) / "jobs" / record["id"]).exists()


def test_the_cluster_and_the_app_listen_on_loopback_only(app):
    sockets = listening_addresses(descendants(os.getpid()))
    ports = {port for _, port, _ in sockets}
    assert int(app.url.rsplit(":", 1)[1].strip("/")) in ports  # the app and Ray's processes are all seen
    assert len(sockets) > 3
    assert [s for s in sockets if not is_loopback(s[0])] == []


def test_a_remote_user_never_receives_a_server_path_and_no_scratch_file_is_left(app, served, tmp_path):
    """Pictures go to and from the replicas as files in the output folder (serving/pictures.py):
    none of those paths reaches a remote browser's answers, and nothing is left in the folder."""
    from gradio_client import Client, handle_file

    from editor.ad.samples import product_shot
    from tests.app.test_api import ad_inputs

    _, config = served
    rng = np.random.default_rng(7)
    photo, stroke, product = tmp_path / "big-photo.png", tmp_path / "big-stroke.png", tmp_path / "product.png"
    Image.fromarray(rng.integers(0, 256, (192, 256, 3), dtype=np.uint8)).save(photo)  # big enough to go as files
    layer = np.zeros((192, 256, 4), np.uint8)
    layer[40:120, 60:180] = (255, 40, 120, 255)
    Image.fromarray(layer, "RGBA").save(stroke)
    Image.fromarray(product_shot("plain", 320, 320).rgb).save(product)
    remote = Client(app.url, verbose=False, headers={"X-Forwarded-For": "203.0.113.9"}, download_files=False)
    value = {"background": handle_file(str(photo)), "layers": [handle_file(str(stroke))], "composite": None}
    answers = [
        remote.predict("tiny", value, "a noisy photo", "private paths", **OPTIONS, api_name="/edit"),
        remote.predict(product=handle_file(str(product)), remover="offline", api_name="/cutout"),
        remote.predict(**ad_inputs(product, headline="경로 없음"), api_name="/build_ad"),
    ]
    text = json.dumps(answers, ensure_ascii=False, default=str)
    assert str(config.output_dir) not in text and ".scratch-" not in text and "/jobs/" not in text
    assert not list((Path(config.output_dir) / "jobs").glob(".scratch-*"))
