#!/usr/bin/env bash
# Debian packages the build and the browser tests use: binaryen (wasm-opt) and chromium.
# Skipped when already installed; needs root, as on the project's machines.
set -euo pipefail
missing=()
command -v wasm-opt >/dev/null 2>&1 || missing+=(binaryen)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
if [ ${#missing[@]} -gt 0 ]; then
  echo "[install-system-packages] apt-get install ${missing[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi
