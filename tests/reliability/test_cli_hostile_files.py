"""The command line against hostile files and a hostile machine, each case in its own process:
a named pipe where a photo should be, text with lone surrogates, a CSV cell over 131,072
characters, a zip with a bad CRC, a zip bomb, a 400 MP logo in a brand kit, a read-only or
non-folder --brand-dir, and --out on a full disk.

For every case: exit 2 (never a hang), stderr is one line starting "error:" that says what is wrong,
no traceback, and nothing half-written: on a full disk none of the job's outputs is in --out and
the job is not in the history. All processes start together (3 at a time) in one fixture.
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import time
import zipfile
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
FAULTS = Path(__file__).resolve().parent / "faults"
PARALLEL = 3
# A process that has not answered by then is hung (a named pipe waits forever). Starting the CLI
# alone takes ~3 s on an idle 2-core machine and up to ~35 s on a shared, loaded one.
HANG_S = 150
BAD_BYTES = os.fsdecode(b"\xff\xfe")  # what a shell passes for $'\xff\xfe': lone surrogates in Python


@dataclass
class Outcome:
    rc: int
    stderr: str
    seconds: float


def png_header_only(path: Path, width: int, height: int) -> None:
    """A PNG whose header claims width×height (RGBA) with almost no data: what a bomb looks like."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) +
                     chunk(b"IEND", b""))


def _product(path: Path) -> Path:
    rgba = np.zeros((96, 96, 4), np.uint8)
    rgba[20:76, 30:66] = (200, 40, 40, 255)  # a red product on transparency: no cut-out model needed
    Image.fromarray(rgba, "RGBA").save(path)
    return path


def _cases(d: Path) -> dict[str, tuple[list[str], dict]]:
    product = _product(d / "cup.png")
    out = lambda name: ["--out", str(d / name), "--output-dir", str(d / "records" / name)]  # noqa: E731
    fifo = d / "fifo.png"
    os.mkfifo(fifo)
    csv_fifo = d / "fifo.csv"
    os.mkfifo(csv_fifo)
    long_csv = d / "long.csv"
    long_csv.write_text("file,headline\ncup.png," + "x" * 131_073 + "\n", encoding="utf-8")
    # A zip whose one photo was damaged after zipping: its CRC no longer matches.
    bad_crc = d / "bad-crc.zip"
    with zipfile.ZipFile(bad_crc, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("cup.png", product.read_bytes())
    data = bytearray(bad_crc.read_bytes())
    data[60] ^= 0xFF  # inside the stored member's bytes
    bad_crc.write_bytes(bytes(data))
    bomb = d / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        for i in range(20):
            archive.writestr(f"p{i:03d}.png", bytes(5 << 20))
    brands = d / "brands"
    (brands / "big").mkdir(parents=True)
    (brands / "big" / "brand.json").write_text(json.dumps({"version": 1, "name": "big", "logo": "logo.png"}))
    png_header_only(brands / "big" / "logo.png", 20_000, 20_000)
    read_only = d / "read-only-brands"
    read_only.mkdir()
    not_a_folder = d / "brands-file"
    not_a_folder.write_text("x")
    full = d / "full"
    full.mkdir()
    ad = ["editor", "ad", "--product", str(product), "--headline", "가을 신메뉴", "--format", "square", "story"]
    return {
        "edit_fifo": (["editor", "edit", "--image", str(fifo), "--mask", str(product), "--source", "a cup",
                       "--target", "a mug", "--model", "tiny", "--out", str(d / "e.png"),
                       "--output-dir", str(d / "records" / "e")], {}),
        "ad_fifo_product": (["editor", "ad", "--product", str(fifo), "--headline", "x", *out("fifo")], {}),
        "batch_fifo_csv": (["editor", "ad", "--batch", "--product", str(product), "--copy-csv", str(csv_fifo),
                            *out("fifo-csv")], {}),
        "surrogate_headline": (["editor", "ad", "--product", str(product), "--headline", BAD_BYTES, *out("sur")], {}),
        "surrogate_brand": (["editor", "brand", "save", "--name", "카페" + BAD_BYTES, "--brand-dir", str(brands)], {}),
        "surrogate_prompt": (["editor", "generate", "--model", "tiny", "--prompt", BAD_BYTES, "--steps", "1",
                              "--size", "32x32", *out("gen")], {}),
        "csv_long_cell": (["editor", "ad", "--batch", "--product", str(product), "--copy-csv", str(long_csv),
                           *out("csv")], {}),
        "zip_bad_crc": (["editor", "ad", "--batch", "--product", str(bad_crc), "--headline", "x", *out("crc")], {}),
        "zip_bomb": (["editor", "ad", "--batch", "--product", str(bomb), "--headline", "x", *out("bomb")], {}),
        "brand_show_400mp_logo": (["editor", "brand", "show", "--name", "big", "--brand-dir", str(brands)], {}),
        "ad_400mp_logo": (["editor", "ad", "--product", str(product), "--headline", "x", "--brand", "big",
                           "--brand-dir", str(brands), *out("logo")], {}),
        "brand_dir_read_only": (["editor", "brand", "save", "--name", "Cafe", "--brand-dir", str(read_only)],
                                {"INTACT_TEST_READ_ONLY": str(read_only)}),
        "brand_dir_is_a_file": (["editor", "brand", "save", "--name", "Cafe", "--brand-dir", str(not_a_folder)], {}),
        "ad_out_full_disk": ([*ad, "--out", str(full / "ads"), "--output-dir", str(d / "records" / "full"),
                              "--report", str(full / "report.json")], {"INTACT_TEST_FULL_DISK": str(full)}),
    }


def _run(args: list[str], extra_env: dict) -> Outcome:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
           "PYTHONPATH": os.pathsep.join([str(FAULTS), str(ROOT)]), **extra_env}
    start = time.monotonic()
    try:
        done = subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=HANG_S,
                              env=env, errors="replace")
    except subprocess.TimeoutExpired:
        return Outcome(-1, "hung", time.monotonic() - start)
    return Outcome(done.returncode, done.stderr, time.monotonic() - start)


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory):
    d = tmp_path_factory.mktemp("hostile")
    cases = _cases(d)
    with ThreadPoolExecutor(PARALLEL) as pool:
        futures = {name: pool.submit(_run, *case) for name, case in cases.items()}
        results = {name: future.result() for name, future in futures.items()}
    return d, results


EXPECTED = {
    "edit_fifo": "'fifo.png' is a named pipe, not an image file",
    "ad_fifo_product": "'fifo.png' is a named pipe, not an image file",
    "batch_fifo_csv": "The CSV file cannot be read",
    "surrogate_headline": "contains a broken character",
    "surrogate_brand": "contains a broken character",
    "surrogate_prompt": "contains a broken character",
    "csv_long_cell": "a cell is too long or broken",
    "zip_bad_crc": "The zip file is damaged: cup.png cannot be unpacked",
    "zip_bomb": "unpacks to far more than a photo",
    "brand_show_400mp_logo": "'logo.png' is 400.0 megapixels; the limit is 40 megapixels",
    "ad_400mp_logo": "'logo.png' is 400.0 megapixels; the limit is 40 megapixels",
    "brand_dir_read_only": "the brand folder is not writable (read-only)",
    "brand_dir_is_a_file": "the brand folder is not writable (not a folder)",
    "ad_out_full_disk": "could not be written to",
}


@pytest.mark.parametrize("case", sorted(EXPECTED))
def test_a_hostile_file_or_machine_is_exit_2_and_one_line_never_a_hang(outcomes, case):
    _, results = outcomes
    outcome = results[case]
    assert outcome.rc == 2, (case, outcome)
    lines = outcome.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), outcome.stderr
    assert EXPECTED[case] in lines[0] and "unexpected" not in lines[0] and "Traceback" not in outcome.stderr


def test_out_on_a_full_disk_leaves_none_of_the_jobs_outputs_and_no_history_line(outcomes):
    d, results = outcomes
    assert str(d / "full" / "ads") in results["ad_out_full_disk"].stderr  # the message names the destination
    left = [p for p in (d / "full").rglob("*") if p.is_file()]
    assert left == []  # no PNG, no zip, no layout, no report, no temporary file
    records = d / "records" / "full"
    history = records / "history.jsonl"
    assert not history.exists() or history.read_text().strip() == ""
    assert not (records / "jobs").exists() or list((records / "jobs").iterdir()) == []


def test_nothing_was_written_for_any_refused_case(outcomes):
    d, _ = outcomes
    for name in ("fifo", "fifo-csv", "sur", "gen", "csv", "crc", "bomb", "logo"):
        assert not (d / name).exists() or list((d / name).iterdir()) == [], name
    assert sorted(p.name for p in (d / "brands").iterdir()) == ["big"]
    assert list((d / "read-only-brands").iterdir()) == []
