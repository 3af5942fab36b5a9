#!/usr/bin/env bash
# Set up (first run only) and launch the app on http://127.0.0.1:7860. Extra flags go to app.py.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python app.py "$@"
