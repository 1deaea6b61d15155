#!/usr/bin/env bash
# Debian packages the build and the browser tests use: binaryen (wasm-opt, run by
# scripts/build.mjs) and chromium (tests/browser). With arguments, only those of the two
# (the demo needs binaryen alone, so its .wasm is the size CI's is).
# Skipped when already installed; needs root, as on the project's machines.
set -euo pipefail
wanted=("$@")
[ ${#wanted[@]} -gt 0 ] || wanted=(binaryen chromium)
missing=()
for package in "${wanted[@]}"; do
  case "$package" in
    binaryen) command -v wasm-opt >/dev/null 2>&1 || missing+=(binaryen) ;;
    chromium) command -v chromium >/dev/null 2>&1 || missing+=(chromium) ;;
    *) echo "[install-system-packages] unknown package $package (binaryen, chromium)" >&2; exit 2 ;;
  esac
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "[install-system-packages] apt-get install ${missing[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi
