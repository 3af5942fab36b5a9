"""Shared test setup: offline, a private models folder, and the tiny FLUX pipeline."""

from __future__ import annotations

import os

import pytest

# Tests never reach a model hub; set before anything imports huggingface_hub.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from models.locate import rembg_model_dir  # noqa: E402  (after the environment above)

# Where scripts/setup.sh put rembg's cut-out models on this machine, read before each test session
# gets its private rembg folder (tests that cut out with a real model link the file from here).
MACHINE_REMBG_MODELS = {name: rembg_model_dir(name) / f"{name}.onnx" for name in ("u2netp", "u2net")}



def _group(nodeid: str) -> str:
    """The tests that one pytest-xdist worker runs together: a test file, or every serving test (they
    share one local Ray cluster, a package fixture; two clusters at once would only compete for the
    same two cores)."""
    path = nodeid.split("::", 1)[0]
    return "tests/serving" if path.startswith("tests/serving/") else path


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """scripts/test.sh runs two workers; each takes whole groups (`_group`), so a module's app and
    Chromium start once, on one worker."""
    from xdist.scheduler import LoadScopeScheduling

    class ByGroup(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return _group(nodeid)

    return ByGroup(config, log)


def pytest_collection_modifyitems(config, items):
    """The long groups (a browser, an app, a cluster) run first (scripts/test.sh passes
    --no-loadscope-reorder, so the workers take groups in this order): a long one left for the end
    would run alone while the other worker idles."""
    slow = {_group(item.nodeid) for item in items if item.get_closest_marker("slow") or item.get_closest_marker("browser")}
    items.sort(key=lambda item: _group(item.nodeid) not in slow)


def _printable(text: str) -> str:
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failure report that quotes a hostile input (a lone surrogate from the fuzz tests) is
    written with that character escaped: pytest-xdist sends reports between processes as UTF-8,
    and one it cannot encode stops the whole run instead of showing the failure."""
    outcome = yield
    report = outcome.get_result()
    if report.longrepr is not None:
        text = str(report.longrepr)
        if _printable(text) != text:
            report.longrepr = _printable(text)
    report.sections = [(title, _printable(content)) for title, content in report.sections]

@pytest.fixture(scope="session", autouse=True)
def _private_dirs(tmp_path_factory):
    """Each test session gets its own models folder, log and output folder."""
    root = tmp_path_factory.mktemp("intact-home")
    saved = {k: os.environ.get(k) for k in ("INTACT_MODELS_DIR", "INTACT_LOG", "INTACT_OUTPUT_DIR", "U2NET_HOME",
                                            "INTACT_BRAND_DIR")}
    os.environ["INTACT_MODELS_DIR"] = str(root / "models")
    os.environ["INTACT_LOG"] = str(root / "intact.log")
    os.environ["INTACT_OUTPUT_DIR"] = str(root / "outputs")
    os.environ["U2NET_HOME"] = str(root / "u2net")
    os.environ["INTACT_BRAND_DIR"] = str(root / "brands")
    yield root
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture
def real_cutout_model(tmp_path, monkeypatch):
    """`real_cutout_model("u2netp")` puts the machine's real model file (fetched by
    scripts/setup.sh) into a private rembg folder for this test. Fails, never skips, when the
    file is missing: cut-outs on real photos are part of what CI checks."""

    def provide(name: str = "u2netp"):
        source = MACHINE_REMBG_MODELS[name]
        if not source.is_file():
            pytest.fail(f"The {name} cut-out model is not on this machine (looked for {source}). "
                        f"scripts/setup.sh fetches it; by hand: python -m models download {name}", pytrace=False)
        home = tmp_path / "rembg-home"
        (home / "models" / name).mkdir(parents=True, exist_ok=True)
        (home / "models" / name / source.name).symlink_to(source)
        monkeypatch.setenv("U2NET_HOME", str(home))
        return source

    return provide


@pytest.fixture(scope="session")
def tiny_pipe():
    """The tiny FLUX pipeline (random weights), fp32 on CPU. Tests must not leave it modified."""
    import torch

    from models.tiny import build_tiny_flux_pipeline

    torch.manual_seed(0)
    return build_tiny_flux_pipeline(seed=0)


@pytest.fixture
def studio(tiny_pipe, tmp_path):
    """A Studio on the shared tiny pipeline, saving under tmp_path, planning for a fixed CPU budget
    (16 GB RAM, no GPU) so plans do not depend on this machine. Leaves the pipeline as it found it."""
    from types import SimpleNamespace

    from editor.studio import Studio, StudioConfig
    from editor.studio.memory import MemoryPolicy
    from models.manager import ModelManager
    from models.memory.planner import GB, MemoryBudget

    manager = ModelManager.from_pipeline("tiny", tiny_pipe)
    # (Its own brand kits too: the session's brand folder holds what other tests saved.)
    studio = Studio(StudioConfig(output_dir=tmp_path / "outputs", brand_dir=tmp_path / "brands"), manager=manager)
    studio.memory = MemoryPolicy(budget=MemoryBudget(0, 16 * GB, "test: no GPU, 16 GB RAM"))
    yield studio
    if manager.loaded_name is not None:
        # A fallback plan may have tiled the shared VAE, a style may be active: put them back.
        manager.apply_memory_plan(SimpleNamespace(offload="none", vae_tiling=False, text_encoders="device"))
        manager.styles.unload()
    assert not tiny_pipe.vae.use_tiling


TINY_MODELS = ("tiny", "tiny-flux2", "tiny-zimage")  # one tiny backend per model family


@pytest.fixture(scope="session")
def tiny_pipes():
    """Every family's tiny pipeline (random weights), fp32 on CPU, built once per session from the
    seed; keyed by registry name. Tests must not leave them modified."""
    from models.tiny import build_tiny_pipeline

    return {name: build_tiny_pipeline(name, seed=0) for name in TINY_MODELS}


@pytest.fixture(params=TINY_MODELS)
def family_pipe(request, tiny_pipes):
    """(model name, pipeline) for each family's tiny model in turn."""
    return request.param, tiny_pipes[request.param]
