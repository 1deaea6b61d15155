#!/usr/bin/env bash
# The demo: installs what is needed, builds the dev server and the package, then starts
# kalam-devserver on a temporary data directory and runs a real worker against it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-tools.sh
# wasm-opt, as in CI: without it the demo's .wasm is not size-optimised (issue 10 measured
# 124 kB instead of 113 kB).
bash scripts/install-system-packages.sh binaryen
npm ci --no-audit --no-fund
cargo build --release -p kalam-devserver
node scripts/build.mjs
node examples/demo-worker.mjs
