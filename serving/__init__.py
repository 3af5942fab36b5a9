"""The Studio on Ray Serve: many users, many GPUs, one app.

Two ways run the same Studio. In-process (the default, `python app.py`): the app holds one `Studio`
and runs every job itself. Served (`python app.py --ray auto`): Studio replicas on a Ray cluster
run the jobs (`deployment.StudioDeployment`, one model manager and a bounded set of edit sessions
each, one GPU each where there are GPUs) and the app talks to them through a `StudioClient`, which
has the Studio's methods, so the UI does not know which way it runs.

    from serving import ServingOptions, studio_client
    studio = studio_client("auto", StudioConfig(output_dir="/shared/outputs"), ServingOptions(replicas=2))

Nothing below this package imports it; Ray is needed only here (requirements-serve.txt).
"""

from serving.client import StudioClient
from serving.cluster import ServingOptions, connect, deploy, loopback_environment, studio_client

__all__ = ["ServingOptions", "StudioClient", "connect", "deploy", "loopback_environment", "studio_client"]
