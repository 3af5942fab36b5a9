"""A replica outage on a local Ray cluster (loopback), on a deployment of its own so the shared one
stays whole:

- a replica killed while it saves a job: one clear line ("The server restarted while saving your
  result ..."), never "Something went wrong (ActorDiedError)", and the job is never saved twice;
- with every replica down, the Status tab's questions are answered by the front end within about
  a second (they took 19 s), and it says the replicas are restarting.
"""

from __future__ import annotations

import threading
import time

import pytest

from editor.errors import IntactError
from editor.studio import JobContext

pytestmark = pytest.mark.slow

APP_NAME = "intact-outage-test"


@pytest.fixture(scope="module")
def lone_replica(ray_address, tmp_path_factory):
    """(handle, config, client) of a one-replica deployment that these tests may kill."""
    from ray import serve

    from editor.studio import StudioConfig
    from serving import ServingOptions, StudioClient, deploy

    config = StudioConfig(output_dir=tmp_path_factory.mktemp("outage") / "outputs")
    handle, _ = deploy(config, ServingOptions(replicas=1, max_sessions=2), name=APP_NAME)
    try:
        yield handle, config, StudioClient(handle, config, retries=1)
    finally:
        serve.delete(APP_NAME)


def _replica_actor_names() -> list[str]:
    import ray

    return [a["name"] for a in ray.util.list_named_actors(all_namespaces=True)
            if a["namespace"] == "serve" and APP_NAME in a["name"] and "StudioDeployment" in a["name"]]


def _kill_replicas() -> int:
    import ray

    names = _replica_actor_names()
    for name in names:
        ray.kill(ray.get_actor(name, namespace="serve"), no_restart=False)  # Serve starts a new one
    return len(names)


def test_a_replica_killed_while_saving_is_one_clear_line_and_never_a_second_save(lone_replica, tmp_path):
    from editor.ad.samples import product_shot
    from editor.studio import AdRequest

    handle, config, client = lone_replica
    product = product_shot("plain", 400, 400).rgb
    request = AdRequest(product=product, headline="저장 중 재시작", backdrop="studio-white", remover="offline",
                        formats=("instagram-square", "instagram-portrait", "story", "web-banner"))
    killer_started = threading.Event()
    killed = []
    assert len(_replica_actor_names()) == 1

    def progress(stage, step, total):
        if stage == "save" and not killer_started.is_set():
            killer_started.set()
            # Four full-size PNGs take a while to save: the replica dies in the middle.
            threading.Thread(target=lambda: killed.append(_kill_replicas())).start()

    try:
        client.make_ad(request, JobContext(progress=progress))
        outcome = "saved"
    except IntactError as exc:
        assert exc.key in ("replica_lost_saving", "replicas_restarting"), exc
        assert "\n" not in str(exc)
        outcome = "one line"
    assert killer_started.is_set()
    deadline = time.monotonic() + 10
    while not killed and time.monotonic() < deadline:
        time.sleep(0.1)
    assert killed == [1]
    from editor.storage import OutputStore

    saved = [r for r in OutputStore(config.output_dir).history() if r.get("caption") == "저장 중 재시작"]
    assert len(saved) <= 1, saved  # never saved twice by a retry
    print(f"\nreplica killed while saving: {outcome}, {len(saved)} record(s)")


def client_quiet_s() -> float:
    from serving.client import STATUS_QUIET_S

    return STATUS_QUIET_S


def test_status_answers_from_the_front_end_within_a_second_while_the_replicas_are_down(lone_replica):
    from types import SimpleNamespace

    from ui.status import works_markdown

    handle, config, client = lone_replica
    deadline, answered = time.monotonic() + 300, False
    while time.monotonic() < deadline and not answered:  # the previous test's kill: the replica comes back
        time.sleep(client_quiet_s())
        answered = client.data_problems() == [] and not client.replicas_restarting  # the replica's own answer
    assert answered, "the replica did not come back"
    assert _kill_replicas() == 1
    start = time.monotonic()
    problems = client.data_problems()
    plan = client.plan_preview("tiny")
    seconds = time.monotonic() - start
    print(f"\n/status questions with the replica down: {seconds:.2f} s")
    # The first question waits its 1 s deadline, the second is answered at once: ~1 s (printed above;
    # the figure for the notes). The bound only has to tell that from waiting on the dead replica
    # (19 s in round 2) on a machine that may be running another test file beside this one.
    assert seconds < 5.0
    assert problems == [] and plan is not None and client.replicas_restarting
    services = SimpleNamespace(config=SimpleNamespace(model="tiny"), studio=client)  # what the tab reads
    assert "다시 시작하는 중" in works_markdown(services, "ko", problems)
