"""Several processes saving into one output folder at once, as serving replicas do: every job keeps
its own folder and exactly one whole history line, however large the lines are."""

from __future__ import annotations

import multiprocessing
import os

from PIL import Image

from editor.storage import JobFile, OutputStore, readable_name

JOBS_EACH = 20
LINES_EACH = 150
# Lines far larger than a page or a pipe buffer: a write split in two would interleave.
PADDING = "가" * 60_000


def _save_jobs(root: str, tag: str, start) -> None:
    store = OutputStore(root)
    picture = Image.new("RGB", (8, 8), (len(tag), 0, 0))
    start.wait(timeout=60)  # both processes append at the same moment
    for i in range(JOBS_EACH):
        caption = f"{tag} {i}"
        store.save_job({"task": "edit", "caption": caption, "owner": tag, "notes": PADDING},
                       [JobFile("result", readable_name("edit", caption), image=picture)])


def _append_lines(root: str, tag: str, start) -> None:
    store = OutputStore(root)
    start.wait(timeout=60)
    for i in range(LINES_EACH):
        store._append_history({"id": f"{tag}-{i}", "files": [], "owner": tag, "notes": PADDING})


def _run_at_once(target, root) -> None:
    spawn = multiprocessing.get_context("spawn")
    start = spawn.Barrier(2)
    workers = [spawn.Process(target=target, args=(str(root), tag, start)) for tag in ("one", "two")]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=120)
        assert w.exitcode == 0


def _whole_lines(root) -> list[bytes]:
    raw_lines = (root / "history.jsonl").read_bytes().split(b"\n")
    assert raw_lines[-1] == b"" and all(raw_lines[:-1])  # newline-terminated, no empty or torn line
    return raw_lines[:-1]


def test_two_processes_appending_history_lines_in_a_tight_loop_never_interleave(tmp_path):
    _run_at_once(_append_lines, tmp_path)
    lines = _whole_lines(tmp_path)
    records = OutputStore(tmp_path).history()
    assert len(records) == len(lines) == 2 * LINES_EACH  # every line parsed
    for tag in ("one", "two"):
        assert [r["id"] for r in records if r["owner"] == tag] == [f"{tag}-{i}" for i in range(LINES_EACH)]


def test_two_processes_saving_jobs_at_once_leave_one_folder_and_one_whole_line_per_job(tmp_path):
    _run_at_once(_save_jobs, tmp_path)
    lines = _whole_lines(tmp_path)
    records = OutputStore(tmp_path).history()
    assert len(records) == len(lines) == 2 * JOBS_EACH  # every line parsed
    assert len({r["id"] for r in records}) == 2 * JOBS_EACH
    for tag in ("one", "two"):
        mine = [r["caption"] for r in records if r["owner"] == tag]
        assert mine == [f"{tag} {i}" for i in range(JOBS_EACH)]  # each once, in the order it saved them
    assert all(r["notes"] == PADDING for r in records)
    jobs = tmp_path / "jobs"
    assert sorted(os.listdir(jobs)) == sorted(r["id"] for r in records)  # no staging folder left
    assert all((tmp_path / r["files"][0]["file"]).is_file() for r in records)
