// Browser / bundler entry (`exports["."].browser` and `default`): the wasm module is fetched
// lazily on the first API call (every API is async anyway), once, from the file next to this
// module or from `consumerWasmUrl`. No top-level await, so bundlers need no plugin.
import * as wasm from './wasm/kalam_consumer_wasm.js';
import initWasm from './wasm/kalam_consumer_wasm.js';
import { checkWasmVersion, createApi } from './core.js';
import { KalamConsumerError, isKalamConsumerError } from './errors.js';
import type { WasmBindings, WasmRuntime } from './wasm-contract.js';

/** Compile-time check that the generated bindings still match the contract in HACKING.md. */
const bindings: WasmBindings = wasm;

let initPromise: Promise<void> | undefined;

const runtime: WasmRuntime = {
  bindings,
  ready(wasmUrl?: string | URL): Promise<void> {
    initPromise ??= initWasm({ module_or_path: wasmUrl ?? new URL('./wasm/kalam_consumer_wasm_bg.wasm', import.meta.url) })
      .then(() => checkWasmVersion(bindings))
      .catch((error: unknown) => {
        // Forget the failure so a later call (say, with a corrected consumerWasmUrl) can retry.
        initPromise = undefined;
        if (isKalamConsumerError(error)) throw error;
        throw new KalamConsumerError(`could not load kalam_consumer_wasm_bg.wasm: ${error instanceof Error ? error.message : String(error)}`, {
          code: 'WASM_LOAD_FAILED',
          kind: 'permanent',
          cause: error,
        });
      });
    return initPromise;
  },
};

const api = createApi(runtime);

/**
 * Creates a client for one server and identity: `consumeBatch`, `ack`, `consumer()`, SQL
 * helpers. Throws a typed `INVALID_URL` / `INVALID_OPTION` error for bad options.
 */
export const createConsumerClient = api.createConsumerClient;
/**
 * The worker runtime: polls `partitions` side by side, calls `onChange(ctx, change)` per message
 * in offset order, retries, dead-letters, commits once per batch and survives connection
 * failures. Resolves after `stopSignal` aborts; rejects on permanent errors (403, 404, bad
 * credentials, invalid options).
 */
export const runConsumer = api.runConsumer;
/** @deprecated Use `runConsumer` with `onChange(ctx, change)`; logs a one-time warning. */
export const runAgent = api.runAgent;

/**
 * Loads the wasm module now (optional: every API call does it on demand). `input` overrides
 * the default URL, for CSP setups, workers and edge runtimes.
 */
export function initConsumerWasm(input?: string | URL): Promise<void> {
  return runtime.ready(input);
}

export * from './public.js';
