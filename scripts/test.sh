#!/usr/bin/env bash
# Runs every test of the project on a fresh machine: installs the toolchain and packages it
# needs, builds the dev server and the package, then runs the Rust and Node suites.
# `.ci/run` calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "tools"
bash scripts/install-tools.sh
bash scripts/install-system-packages.sh

step "lint: rustfmt and clippy (native, and the wasm crate for wasm32)"
cargo fmt --all --check
cargo clippy --workspace --all-targets -- -D warnings
# boundary.rs and the wasm-only code paths compile for wasm32 alone.
cargo clippy -p kalam-consumer-wasm --all-targets --target wasm32-unknown-unknown -- -D warnings

step "node packages"
npm ci --no-audit --no-fund

step "build: dev server (release) and package"
cargo build --release -p kalam-devserver
node scripts/build.mjs

step "core crate stays free of wasm dependencies"
if cargo tree -p kalam-consumer-core -e normal | grep -q wasm-bindgen; then
  echo "kalam-consumer-core must not depend on wasm-bindgen" >&2
  exit 1
fi

step "rust tests"
cargo test --release -p kalam-consumer-core -p kalam-devserver

step "wasm boundary tests (wasm-bindgen-test in Node)"
cargo test -p kalam-consumer-wasm --target wasm32-unknown-unknown

step "type tests"
if [ -f tests/types/tsconfig.json ]; then npx tsc --noEmit -p tests/types/tsconfig.json; fi

step "demo worker (what scripts/demo.sh runs after its build)"
node examples/demo-worker.mjs

step "node tests"
node scripts/run-node-tests.mjs
