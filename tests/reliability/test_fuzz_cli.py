"""Property-based fuzz of every command line (hypothesis, bounded): `python -m editor edit |
generate | cutout | ad | brand` and `python -m models plan`, through the same `main()` the
processes run (in this process, so a case costs milliseconds to seconds, not a start-up).

Each case sets one flag of a working command to a hostile value — a text (lone surrogates, NUL,
right-to-left marks, 10^5 characters), a number (NaN, ±inf, 1e400, negatives, 2^70) or a file (a
truncated PNG, a bomb header, a zip bomb, a named pipe, a folder, an empty file). The only allowed
outcomes: exit 0, or exit 2 with exactly one stderr line starting "error:" that is not
"unexpected"; never a traceback, never a hang (each case under 30 s), never a half-written file.
"""

from __future__ import annotations

import contextlib
import io
import os
import struct
import time
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

TEXTS = ["\udcff\udcfe", "a\x00b", "\u202e\u0645\u0631\u062d\u0628\u0627", "x" * 100_000, "가" * 3000, "",
         "../../etc/passwd", "-", "{prompt}"]
WARM: set[str] = set()  # commands run once already in this process
NUMBERS = ["nan", "inf", "-inf", "1e400", "-5", "2e70", "0", "abc", "1.5"]


def _png_header(path: Path, width: int, height: int) -> Path:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
                     + chunk(b"IEND", b""))
    return path


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("fuzz-cli")
    rng = np.random.default_rng(1)
    Image.fromarray(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)).save(d / "photo.png")
    mask = np.zeros((48, 64), np.uint8)
    mask[10:30, 12:40] = 255
    Image.fromarray(mask).save(d / "mask.png")
    product = np.zeros((64, 64, 4), np.uint8)
    product[16:48, 20:44] = (180, 60, 40, 255)
    Image.fromarray(product, "RGBA").save(d / "product.png")
    hostile = {}
    hostile["truncated"] = d / "truncated.png"
    hostile["truncated"].write_bytes((d / "photo.png").read_bytes()[:200])
    hostile["bomb"] = _png_header(d / "bomb.png", 30_000, 30_000)
    hostile["zipbomb"] = d / "bomb.zip"
    with zipfile.ZipFile(hostile["zipbomb"], "w", zipfile.ZIP_DEFLATED) as archive:
        for i in range(3):
            archive.writestr(f"p{i}.png", bytes(4 << 20))
    hostile["fifo"] = d / "pipe.png"
    os.mkfifo(hostile["fifo"])
    hostile["folder"] = d / "folder.png"
    hostile["folder"].mkdir()
    hostile["empty"] = d / "empty.png"
    hostile["empty"].write_bytes(b"")
    return d, hostile


def _commands(d: Path, out: Path) -> dict[str, tuple[list[str], dict[str, str]]]:
    """Each command that works as it is, and its flags by kind: 'text', 'number' or 'file'."""
    record = ["--output-dir", str(out / "records")]
    return {
        "edit": (["edit", "--image", str(d / "photo.png"), "--mask", str(d / "mask.png"), "--source", "a cup",
                  "--target", "a mug", "--model", "tiny", "--steps", "2", "--skip-steps", "0", "--seed", "1",
                  "--out", str(out / "edit.png"), *record],
                 {"--source": "text", "--target": "text", "--model": "text", "--steps": "number",
                  "--seed": "number", "--guidance": "number", "--image": "file", "--mask": "file"}),
        "generate": (["generate", "--model", "tiny", "--prompt", "a cup", "--steps", "1", "--size", "32x32",
                      "--seed", "1", "--out", str(out / "gen"), *record],
                     {"--prompt": "text", "--negative-prompt": "text", "--size": "text", "--steps": "number",
                      "--seed": "number", "--guidance": "number", "--preset": "text", "--image": "file"}),
        "cutout": (["cutout", "--image", str(d / "product.png"), "--remover", "offline", "--out",
                    str(out / "cut.png"), *record], {"--image": "file"}),
        "ad": (["ad", "--product", str(d / "product.png"), "--headline", "신메뉴", "--remover", "offline",
                "--backdrop", "studio-white", "--format", "square", "--out", str(out / "ad"), *record],
               {"--headline": "text", "--subline": "text", "--price": "text", "--cta": "text", "--accent": "text",
                "--seed": "number", "--product": "file", "--layout": "file", "--background": "file"}),
        "ad-batch": (["ad", "--batch", "--product", str(d / "product.png"), "--headline", "x", "--remover", "offline",
                      "--backdrop", "studio-white", "--format", "square", "--out", str(out / "batch"), *record],
                     {"--headline": "text", "--product": "file", "--copy-csv": "file"}),
        "brand": (["brand", "save", "--name", "Cafe", "--brand-dir", str(out / "brands")],
                  {"--name": "text", "--color": "text", "--font": "text", "--logo": "file"}),
    }


def _run(argv: list[str], module: str) -> tuple[int, str]:
    if module == "models":
        from models.cli import main
    else:
        from editor.cli import main
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        rc = main(argv)
    return rc, err.getvalue()


def _assert_allowed(rc: int, err: str, out: Path, case) -> None:
    lines = [line for line in err.strip().splitlines() if not line.startswith(("note:", "\r"))]
    assert "Traceback" not in err, (case, err)
    assert rc in (0, 2), (case, rc, err)
    if rc == 2:
        errors = [line for line in lines if line.startswith("error:")]
        assert len(errors) == 1 and "unexpected" not in errors[0], (case, err)
    half = [p for p in out.rglob("*") if p.name.startswith(".") and p.name.endswith(".tmp")]
    assert half == [], (case, half)


@settings(max_examples=24, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_every_command_with_one_hostile_value_is_a_result_or_one_line(files, tmp_path_factory, data):
    d, hostile = files
    out = tmp_path_factory.mktemp("out")
    name = data.draw(st.sampled_from(sorted(_commands(d, out))), label="command")
    argv, flags = _commands(d, out)[name]
    flag = data.draw(st.sampled_from(sorted(flags)), label="flag")
    kind = flags[flag]
    if kind == "text":
        value = data.draw(st.one_of(st.sampled_from(TEXTS), st.text(max_size=30)), label="text")
    elif kind == "number":
        value = data.draw(st.sampled_from(NUMBERS), label="number")
    else:
        value = str(hostile[data.draw(st.sampled_from(sorted(hostile)), label="file")])
    argv = list(argv)
    if flag in argv:
        argv[argv.index(flag) + 1] = value
    else:
        argv += [flag, value]
    start = time.monotonic()
    rc, err = _run(argv, "editor")
    if name in WARM:  # a command's first run in this process pays its imports (tens of seconds when loaded)
        assert time.monotonic() - start < 30, (name, flag, value[:40])
    WARM.add(name)
    _assert_allowed(rc, err, out, (name, flag, value[:40]))


@settings(max_examples=12, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(flag=st.sampled_from(["--gpu-gb", "--ram-gb", "--steps", "--skip-steps", "--mask", "--images", "--size",
                             "--model", "--quantizers"]),
       value=st.one_of(st.sampled_from(NUMBERS + TEXTS[:4]), st.text(max_size=20)))
def test_models_plan_with_one_hostile_value_is_a_result_or_one_line(tmp_path, flag, value):
    rc, err = _run(["plan", "--model", "tiny", flag, value], "models")
    _assert_allowed(rc, err, tmp_path, (flag, value[:40]))
