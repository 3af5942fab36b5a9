"""Connecting to a Ray cluster and putting the Studio on it.

    client = studio_client("auto", StudioConfig(output_dir=...), ServingOptions(replicas=2))

connects this process to the cluster (`ray start --head` on this machine: "auto", or an address),
deploys the `StudioDeployment` when the cluster does not run it yet (a second front end reuses the
running one), and returns a `StudioClient` for the app.

Serve runs without its HTTP and gRPC proxies: the app reaches the replicas through deployment
handles only, so serving opens no port of its own. A cluster started on a loopback address keeps
every Ray process on loopback (see `loopback_environment`).

Every replica writes results to the StudioConfig's `output_dir`: one folder that every replica and
every front end must reach at the same path (one machine: any folder; several machines: a network
volume mounted at the same path everywhere). The replicas import Intact from the path it has here,
so on several machines Intact is installed at the same path on each, and each machine's models are
found as `ray start` there was told (INTACT_MODELS_DIR and the other INTACT_ settings are read from
the environment `ray start` ran in).
"""

from __future__ import annotations

import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from editor.studio import StudioConfig
from serving.client import StudioClient

log = logging.getLogger("intact.serving")

ROOT = Path(__file__).resolve().parents[1]
APP = "intact"  # the Serve application of the StudioDeployment (GPU replicas)
LOOPBACK = ("127.0.0.1", "localhost", "::1")
JOBS_IN_FLIGHT_PER_REPLICA = 4  # the app keeps this many jobs in flight per replica


@dataclass(frozen=True)
class ServingOptions:
    replicas: int = 1  # StudioDeployment replicas; each asks Ray for one GPU where the cluster has GPUs
    cpu_replicas: int = 0  # replicas for cut-outs and ads without a diffusion model (no GPU)
    max_sessions: int = 2  # sessions whose inversion one replica keeps (least recently used out)
    cpus_per_replica: float = 1.0  # what each replica asks Ray for (also its torch threads on CPU)
    max_ongoing: int = 16  # jobs one replica accepts at once (they take turns on its model)


# Serve routes a session's job to the replica holding it only if that replica answers a load
# probe in time (0.1 s by default); otherwise the session moves, which costs it a re-inversion
# (seconds on a GPU, far more than the wait). So the app's router waits longer for busy replicas.
ROUTER_ENVIRONMENT = {"RAY_SERVE_QUEUE_LENGTH_RESPONSE_DEADLINE_S": "1.0",
                      "RAY_SERVE_MAX_QUEUE_LENGTH_RESPONSE_DEADLINE_S": "5.0"}


def loopback_environment() -> None:
    """Keep a cluster this process starts, and this process's view of one, on 127.0.0.1. Ray
    resolves a loopback node address to the machine's network address unless clusters are
    limited to this machine; the variable that does that is named for the platforms where that
    is the default."""
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    # Ray reads that variable once, when it is imported: a process that imported Ray earlier (a test
    # run that touched Ray before starting its cluster) would put the cluster on the network address.
    constants = sys.modules.get("ray._private.ray_constants")
    if constants is not None and hasattr(constants, "ENABLE_RAY_CLUSTER"):
        constants.ENABLE_RAY_CLUSTER = False


def connect(address: str) -> None:
    """Join the Ray cluster at `address` as a driver: host:port, or "auto" (Ray finds the cluster
    started on this machine, RAY_ADDRESS first). A cluster kept on loopback (scripts/serve_ray.sh,
    the tests) is joined by its 127.0.0.1 address: that sets the loopback environment before Ray is
    imported, which is when Ray reads it."""
    for name, value in ROUTER_ENVIRONMENT.items():  # read when Serve is imported, below
        os.environ.setdefault(name, value)
    if address.rsplit(":", 1)[0].strip("[]") in LOOPBACK:
        loopback_environment()
        kwargs = {"_node_ip_address": "127.0.0.1"}
    else:
        kwargs = {}
    import ray

    if ray.is_initialized():
        return
    _token_auth_when_set_up()
    ray.init(address=address, namespace="intact", log_to_driver=False, logging_level="WARNING", **kwargs)


def _token_auth_when_set_up() -> None:
    """Join with token authentication when this machine has a Ray token (as `ray start` does), so
    a cluster that requires one accepts the app without RAY_AUTH_MODE set by hand."""
    try:
        from ray._private.authentication.authentication_token_setup import (
            maybe_enable_token_auth_if_token_available,
        )
    except ImportError:  # a Ray without token authentication
        return
    maybe_enable_token_auth_if_token_available(warn_if_disabled=False)


def deploy(config: StudioConfig, options: ServingOptions, name: str = APP):
    """Run the StudioDeployment (and the CPU replicas, if any) on the connected cluster as the
    Serve application `name` (the CPU replicas as `name`-cpu); returns (handle, cpu handle or None)."""
    import ray
    from ray import serve

    from serving.deployment import StudioDeployment

    serve.start(proxy_location="Disabled", http_options={"host": "127.0.0.1"})
    gpus = 1 if ray.cluster_resources().get("GPU", 0) >= 1 else 0
    handle = serve.run(_bound(StudioDeployment, config, options, options.replicas, gpus), name=name,
                       route_prefix=None)
    cpu_handle = None
    if options.cpu_replicas > 0:
        cpu = StudioDeployment.options(name="StudioCPU")
        cpu_handle = serve.run(_bound(cpu, config, options, options.cpu_replicas, 0), name=cpu_app(name),
                               route_prefix=None)
    log.info("Studio deployed on Ray Serve: %d replica(s)%s, %d CPU replica(s)", options.replicas,
             " with one GPU each" if gpus else " on CPU", options.cpu_replicas)
    return handle, cpu_handle


def cpu_app(name: str = APP) -> str:
    """The Serve application of the optional CPU replicas (cut-outs, ads without a diffusion model)."""
    return f"{name}-cpu"


def _bound(deployment, config: StudioConfig, options: ServingOptions, replicas: int, gpus: int):
    runtime_env = {"env_vars": {"PYTHONPATH": os.pathsep.join(filter(None, (str(ROOT), os.environ.get("PYTHONPATH"))))}}
    return deployment.options(
        num_replicas=replicas, max_ongoing_requests=options.max_ongoing,
        ray_actor_options={"num_cpus": options.cpus_per_replica, "num_gpus": gpus, "runtime_env": runtime_env},
    ).bind(config, options.max_sessions, options.max_ongoing)


# A Serve application in one of these states is there: a replica restarting makes it UNHEALTHY for
# a while, and a front end starting then must use it, never deploy over it with its own settings.
PRESENT = ("RUNNING", "DEPLOYING", "UNHEALTHY")


def running_apps() -> dict[str, int]:
    """Serve applications on the connected cluster -> their replicas now (starting ones included)."""
    from ray import serve

    apps = {}
    for name, app in serve.status().applications.items():
        if str(app.status).rsplit(".", 1)[-1] in PRESENT:
            apps[name] = sum(sum(d.replica_states.values()) for d in app.deployments.values())
    return apps


def studio_client(address: str, config: StudioConfig, options: ServingOptions | None = None) -> StudioClient:
    """Connect, deploy the Studio unless the cluster already runs it, and return the app's client."""
    options = options or ServingOptions()
    connect(address)  # first: it sets what Ray and Serve read when they are imported
    from ray import serve

    apps = running_apps()
    if APP in apps:
        log.info("using the Studio already deployed on this cluster (%d replica(s))", apps[APP])
        handle = serve.get_app_handle(APP)
        cpu_handle = serve.get_app_handle(cpu_app()) if cpu_app() in apps else None
        replicas = max(1, apps[APP])
    else:
        handle, cpu_handle = deploy(config, options)
        replicas = options.replicas
    return StudioClient(handle, config, cpu_handle=cpu_handle, parallel_jobs=replicas * JOBS_IN_FLIGHT_PER_REPLICA)
