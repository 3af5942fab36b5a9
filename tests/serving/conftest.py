"""One Ray cluster for the serving tests (loopback only, stopped after them) with the Studio deployed on two
replicas."""

from __future__ import annotations

import pytest

from tests.serving.cluster import local_cluster

REPLICAS = 2
MAX_SESSIONS = 2  # per replica


@pytest.fixture(scope="package")
def ray_address():
    with local_cluster() as address:
        yield address


@pytest.fixture(scope="package")
def served(ray_address, tmp_path_factory):
    """(handle, StudioConfig) of the Studio deployed as the app would deploy it, two replicas."""
    from editor.studio import StudioConfig
    from serving import ServingOptions, deploy

    config = StudioConfig(output_dir=tmp_path_factory.mktemp("served") / "outputs")
    handle, _ = deploy(config, ServingOptions(replicas=REPLICAS, max_sessions=MAX_SESSIONS))
    return handle, config


@pytest.fixture
def client(served):
    from serving import StudioClient

    handle, config = served
    return StudioClient(handle, config, parallel_jobs=8)
