// The part of the generated wasm bindings (crates/kalam-consumer-wasm, contract in HACKING.md)
// that the TS layer uses. Types come from the generated .d.ts, never re-declared here; the core
// receives the module as a `WasmRuntime` (docs/STYLE.md point 11) instead of importing it.
import type * as Generated from './wasm/kalam_consumer_wasm.js';

export type {
  AckRequest,
  AckResponse,
  ConnectionRetryPolicy,
  ConsumeBatch as WireBatch,
  ConsumeRequest,
  FailureKind,
  RequestOptions,
  RetryDecision,
  RetryPolicy as MessageRetryPolicy,
  WireMessage,
  WireStart,
} from './wasm/kalam_consumer_wasm.js';

export type WasmTransport = Generated.KalamConsumerClient;
export type WasmMessageRetry = Generated.MessageRetry;
export type WasmConnectionBackoff = Generated.ConnectionBackoff;

/** What core.ts needs from the wasm module; the entry files pass the module itself. */
export type WasmBindings = Pick<
  typeof Generated,
  'KalamConsumerClient' | 'MessageRetry' | 'ConnectionBackoff' | 'unwrapLegacyRow' | 'normalizeStart' | 'classifyFailure' | 'wasmReleaseInfo'
>;

/**
 * How an entry point hands the bindings to the core: `ready()` resolves once the module is
 * instantiated (immediately in Node, where the entry instantiates it at import time).
 */
export interface WasmRuntime {
  bindings: WasmBindings;
  ready(wasmUrl?: string | URL): Promise<void>;
}
