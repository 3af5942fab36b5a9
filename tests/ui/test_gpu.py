"""`@gpu` is a no-op off Spaces and hands the function to `spaces.GPU` on a ZeroGPU Space."""

from __future__ import annotations

import importlib.machinery
import sys
import types

from ui.gpu import gpu


def run(x, progress=None):
    return x * 2


def test_off_spaces_the_function_is_returned_unchanged(monkeypatch):
    monkeypatch.delenv("SPACE_ID", raising=False)
    assert gpu(run) is run
    assert gpu(duration=30)(run) is run


def test_on_a_space_without_the_spaces_package_nothing_changes(monkeypatch):
    monkeypatch.setenv("SPACE_ID", "shop/intact")
    monkeypatch.setitem(sys.modules, "spaces", None)  # `import spaces` fails, as when it is not installed
    assert gpu(run) is run


def test_on_a_zerogpu_space_spaces_gpu_wraps_the_function_with_its_duration(monkeypatch):
    calls = []

    def GPU(duration):
        def decorate(fn):
            calls.append((fn, duration))

            def wrapped(*args, **kwargs):
                return fn(*args, **kwargs)

            return wrapped

        return decorate

    fake = types.ModuleType("spaces")
    fake.__spec__ = importlib.machinery.ModuleSpec("spaces", None)
    fake.GPU = GPU
    monkeypatch.setitem(sys.modules, "spaces", fake)
    monkeypatch.setenv("SPACE_ID", "shop/intact")
    wrapped = gpu(duration=45)(run)
    assert calls == [(run, 45)]
    assert wrapped is not run and wrapped(21) == 42
    assert wrapped.__name__ == "run" and wrapped.__wrapped__ is run  # gradio reads the real signature
