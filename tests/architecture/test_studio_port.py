"""`Studio` and `serving.StudioClient` are interchangeable behind `StudioPort`.

The app is handed either one; a method on one and not the other is an AttributeError waiting for
the first user of `--ray` (it happened with `translate_preview`). These tests compare the two
classes with the port, name by name and signature by signature.
"""

from __future__ import annotations

import importlib.util
import inspect

import pytest

from editor.studio import Studio, StudioConfig
from editor.studio.port import StudioPort, port_members

# Public names that belong to one side only, and why.
STUDIO_ONLY = {
    "evict",  # a serving replica's own bound on sessions evicts an inversion
    "manager", "manager_started", "store", "translator", "memory", "sessions", "selector",  # what a Studio owns
}
CLIENT_ONLY = {"parallel_jobs", "retries"}  # how the client spreads jobs over replicas


def client_class():
    # Whether Ray is installed, without importing it: Ray read in this process before the serving
    # tests start their cluster would put that cluster on the network address (tests/serving).
    if importlib.util.find_spec("ray") is None:
        pytest.skip("ray is not installed")
    from serving.client import StudioClient

    return StudioClient


def public_names(cls) -> set[str]:
    return {name for name, _ in inspect.getmembers(cls) if not name.startswith("_")}


def instance_names(obj) -> set[str]:
    return public_names(type(obj)) | {name for name in vars(obj) if not name.startswith("_")}


def missing_members(obj) -> set[str]:
    """Port names `obj` lacks, or has as something that cannot be called where the port calls it."""
    return {name for name in port_members()
            if not hasattr(obj, name) or (callable(getattr(StudioPort, name, None)) and not callable(getattr(obj, name)))}


@pytest.fixture(scope="module")
def studio(tmp_path_factory):
    return Studio(StudioConfig(output_dir=tmp_path_factory.mktemp("out")))


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    return client_class()(handle=None, config=StudioConfig(output_dir=tmp_path_factory.mktemp("out")))


def test_the_studio_implements_the_port(studio):
    assert isinstance(studio, StudioPort)
    missing = missing_members(studio)
    assert not missing, f"Studio lacks {sorted(missing)}"


def test_the_serving_client_implements_the_port(client):
    assert isinstance(client, StudioPort)
    missing = missing_members(client)
    assert not missing, f"StudioClient lacks {sorted(missing)}"


def test_neither_side_has_a_public_method_the_port_does_not_name(studio, client):
    """A method added to the Studio for front ends must be added to the port, and so to the client."""
    extra_studio = instance_names(studio) - port_members() - STUDIO_ONLY
    extra_client = instance_names(client) - port_members() - CLIENT_ONLY
    assert not extra_studio, f"Studio has {sorted(extra_studio)}: add them to StudioPort (and StudioClient)"
    assert not extra_client, f"StudioClient has {sorted(extra_client)}: add them to StudioPort (and Studio)"


@pytest.mark.parametrize("name", sorted(n for n in port_members() if callable(getattr(StudioPort, n, None))))
def test_both_sides_take_the_same_parameters(name):
    """Same parameter names, in the same order, as the port (defaults may differ in spelling)."""
    def params(cls):
        member = inspect.getattr_static(cls, name)
        if isinstance(member, property):
            return "property"
        return [p.name for p in inspect.signature(member).parameters.values()]

    port = params(StudioPort)
    assert params(Studio) == port, f"Studio.{name}"
    assert params(client_class()) == port, f"StudioClient.{name}"


def test_the_comparison_fails_for_a_client_missing_a_method(tmp_path):
    """The check above can fail: a client without translate_preview is caught."""

    class Lacking(client_class()):
        translate_preview = None

    assert missing_members(Lacking(handle=None, config=StudioConfig(output_dir=tmp_path))) == {"translate_preview"}
