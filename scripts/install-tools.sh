#!/usr/bin/env bash
# Installs every tool the build needs, from the package registries only.
# Each step is skipped when the right version is already there, so a second run is quick.
set -euo pipefail

WASM_BINDGEN_VERSION="0.2.130"   # must equal the `=` pin of wasm-bindgen in Cargo.toml
WASM_PACK_VERSION="0.15.1"

log() { printf '[install-tools] %s\n' "$*" >&2; }

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  log "adding rust target wasm32-unknown-unknown"
  rustup target add wasm32-unknown-unknown
fi

installed_version() { "$1" --version 2>/dev/null | awk '{print $2}' || true; }

# `--locked` first for reproducibility; the registry mirror here may lack a crate version that a
# tool's lock file names, so fall back to fresh resolution within the tool's own semver ranges.
cargo_install() {
  cargo install --locked --force "$@" || cargo install --force "$@"
}

if [ "$(installed_version wasm-bindgen)" != "$WASM_BINDGEN_VERSION" ]; then
  log "cargo install wasm-bindgen-cli $WASM_BINDGEN_VERSION"
  cargo_install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION"
fi

if [ "$(installed_version wasm-pack)" != "$WASM_PACK_VERSION" ]; then
  log "cargo install wasm-pack $WASM_PACK_VERSION"
  cargo_install wasm-pack --version "$WASM_PACK_VERSION"
fi
