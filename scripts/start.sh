#!/usr/bin/env bash
# Set up (first run only) and launch the app on http://127.0.0.1:7860. Extra flags go to app.py.
set -euo pipefail
cd "$(dirname "$0")/.."
for arg in "$@"; do
  # Asking for help sets nothing up: it answers at once once the environment exists.
  if [[ "$arg" == "--help" || "$arg" == "-h" ]] && [[ -x .venv/bin/python ]]; then
    exec .venv/bin/python app.py "$@"
  fi
done
bash scripts/setup.sh
exec .venv/bin/python app.py "$@"
