"""The GPU suite's dry run: the same code as on a lent GPU, on the CPU at tiny sizes, so the suite
is known to work before a GPU ever runs it."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_dry_run_measures_every_section_for_every_family(tmp_path):
    out = tmp_path / "gpu_dry-run"
    env = {**os.environ, "PYTHON": sys.executable, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(["bash", "benchmarks/gpu_suite.sh", "--dry-run", "--out", str(out)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    result = json.loads(out.with_suffix(".json").read_text())
    sections = {(s["family"], s["section"]): s for s in result["sections"]}
    assert not [s for s in result["sections"] if "error" in s or "skipped" in s]
    for family in ("flux", "flux2", "z-image"):
        generate = sections[(family, "generate")]
        assert [row["setting"] for row in generate["settings"]] == ["exact", "fast", "fastest"]
        memory = sections[(family, "memory")]
        assert {(p["offload"], p["feature_chunks"]) for p in memory["plans"]} == {
            ("none", 1), ("none", 4), ("group", 1), ("group", 4)}
        assert all(p["peak_bytes_above_resident"] > 0 for p in memory["plans"])
    for family in ("flux2", "z-image"):  # KV-Edit runs on every family's adapter, stores exact alike
        rows = {row["mode"]: row for row in sections[(family, "kv-edit")]["stores"]}
        assert rows["cpu"]["identical_to_device"] and rows["device"]["cache_bytes"] > 0
    stores = {row["mode"]: row for row in sections[("flux", "kv-edit")]["stores"]}
    assert stores["cpu"]["identical_to_device"]  # the pinned-memory store is exact
    assert stores["fp8"]["relative_rms_vs_device"] < 0.05
    free = sections[("flux", "kv-edit")]["inversion_free"]
    assert [row["source_passes_per_step"] for row in free][0] == 1.0 and len(free) == 3  # exact, fast, fastest
    assert all(row["source_passes_per_step"] <= 1.0 for row in free)
    keyframes = sections[("flux", "kv-edit")]["keyframes"]
    assert [row["setting"] for row in keyframes] == ["fast", "fastest"]
    steps = sections[("flux", "kv-edit")]["cached_steps"]
    assert all(row["bytes_ratio"] <= math.ceil(row["share_cap"] * steps) / steps + 1e-9 for row in keyframes)
    assert sections[("flux", "compile")]["blocks_compiled"] > 0
    text = out.with_suffix(".md").read_text()
    assert text.startswith("# GPU suite") and "## flux: kv-edit" in text
