#!/usr/bin/env bash
# Set up (first run only, with test tools, Chromium and fonts) and run the whole test suite.
# Extra arguments go to pytest, e.g. scripts/test.sh -k kv_edit (add -n 0 for one process)
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --dev || exit 1
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
# Two workers (pytest-xdist): much of the suite waits on subprocesses, browsers and a Ray cluster,
# so two test files at a time use the two cores better; each file, and all serving tests, stay on one worker (tests/conftest.py: _group).
.venv/bin/python -m pytest -n "${INTACT_TEST_WORKERS:-2}" --dist loadscope --no-loadscope-reorder "$@"
rc=$?
if [ $rc = 5 ]; then echo "test.sh: pytest collected no tests" >&2; exit 1; fi
exit $rc
