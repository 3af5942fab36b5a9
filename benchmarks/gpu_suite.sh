#!/usr/bin/env bash
# The GPU suite (benchmarks/gpu_suite.py) in at most 8 minutes, results in benchmarks/results/.
#   bash benchmarks/gpu_suite.sh              # on a CUDA machine
#   bash benchmarks/gpu_suite.sh --dry-run    # the same code on the CPU at tiny sizes
# PYTHON picks the interpreter (default: the repository's .venv if there is one, else python3).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3 )}"
export HF_HUB_OFFLINE=1
# 450 s of sections plus building and writing; the hard stop leaves what was written so far.
exec timeout --signal=INT --kill-after=15 480 "$PYTHON" benchmarks/gpu_suite.py "$@"
