import { readFileSync } from 'node:fs';
import * as wasm from './wasm/kalam_consumer_wasm.js';
import { initSync } from './wasm/kalam_consumer_wasm.js';
import { checkWasmVersion } from './core.js';
import { KalamConsumerError } from './errors.js';
import type { WasmBindings, WasmRuntime } from './wasm-contract.js';

// Node loader: the .wasm sits next to this file, so it is read and instantiated synchronously
// at import (no top-level await, no configuration). If that fails (a bundler moved the file),
// the error is kept and raised by the first API call, unless `consumerWasmUrl` points to it.

/** Compile-time check that the generated bindings still match the contract in HACKING.md. */
const bindings: WasmBindings = wasm;

let loadError: unknown;
let loaded = false;

function instantiate(bytes: Uint8Array): void {
  initSync({ module: bytes });
  checkWasmVersion(bindings);
  loaded = true;
  loadError = undefined;
}

try {
  instantiate(readFileSync(new URL('./wasm/kalam_consumer_wasm_bg.wasm', import.meta.url)));
} catch (error) {
  loadError = error;
}

async function loadFrom(source: string | URL): Promise<void> {
  const url = source instanceof URL ? source : new URL(source, import.meta.url);
  if (url.protocol === 'file:') {
    instantiate(readFileSync(url));
    return;
  }
  const response = await fetch(url);
  if (!response.ok) throw new Error(`HTTP ${response.status} for ${url.href}`);
  instantiate(new Uint8Array(await response.arrayBuffer()));
}

let pending: Promise<void> | undefined;

export const nodeRuntime: WasmRuntime = {
  bindings,
  async ready(wasmUrl?: string | URL): Promise<void> {
    if (loaded) return;
    if (wasmUrl !== undefined) {
      pending ??= loadFrom(wasmUrl).finally(() => {
        pending = undefined;
      });
      try {
        await pending;
        return;
      } catch (error) {
        loadError = error;
      }
    }
    if (loadError instanceof KalamConsumerError) throw loadError;
    throw new KalamConsumerError(
      `could not load kalam_consumer_wasm_bg.wasm${wasmUrl === undefined ? ' next to the package (pass consumerWasmUrl)' : ` from ${String(wasmUrl)}`}: ${
        loadError instanceof Error ? loadError.message : String(loadError)
      }`,
      { code: 'WASM_LOAD_FAILED', kind: 'permanent', cause: loadError },
    );
  },
};
