#!/usr/bin/env bash
# Set up (first run only, with test tools, Chromium and fonts) and run the whole test suite.
# Extra arguments go to pytest, e.g. scripts/test.sh -k kv_edit
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --dev || exit 1
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
.venv/bin/python -m pytest "$@"
rc=$?
if [ $rc = 5 ]; then echo "test.sh: pytest collected no tests" >&2; exit 1; fi
exit $rc
