// The part of the generated wasm bindings (crates/kalam-consumer-wasm) that the TS layer uses,
// written down from the contract in HACKING.md. The entry files assign the real generated module
// to `WasmBindings`, so if the crate's exports drift from the contract, `tsc` fails there
// instead of a user finding out at run time.

export type WireStart = 'Latest' | 'Earliest' | { Offset: number };
export type WireOp = 'Insert' | 'Update' | 'Delete';
export type FailureKind = 'auth' | 'transient' | 'permanent';

export interface ConsumeRequest {
  topic_id: string;
  group_id: string;
  start: WireStart;
  limit: number;
  partition_id: number;
  timeout_seconds?: number;
}

export interface WireMessage {
  topic: string;
  group_id: string;
  partition_id: number;
  offset: number;
  key: string | null;
  timestamp_ms: number;
  user?: string;
  op: WireOp;
  payload?: unknown;
  decode_error?: string;
  raw_payload?: string;
}

export interface WireBatch {
  messages: WireMessage[];
  next_offset: number;
  has_more: boolean;
}

export interface AckRequest {
  topic_id: string;
  group_id: string;
  partition_id: number;
  upto_offset: number;
}

export interface AckResponse {
  success: boolean;
  acknowledged_offset: number;
}

export interface RequestOptions {
  signal?: AbortSignal;
}

export type RetryDecision =
  | { action: 'retry'; delayMs: number; attempt: number }
  | { action: 'give_up'; attempt: number };

export interface MessageRetryPolicy {
  maxAttempts: number;
  initialBackoffMs: number;
  maxBackoffMs: number;
  multiplier: number;
  jitterRatio: number;
}

export interface ConnectionRetryPolicy {
  initialBackoffMs: number;
  maxBackoffMs: number;
  multiplier: number;
  /** Omitted means: retry forever. */
  maxAttempts?: number;
}

export interface WasmTransport {
  consume(authHeader: string | undefined, request: ConsumeRequest, options?: RequestOptions): Promise<WireBatch>;
  ack(authHeader: string | undefined, request: AckRequest, options?: RequestOptions): Promise<AckResponse>;
  free(): void;
}

export interface WasmMessageRetry {
  onFailure(retryable: boolean, random: number): RetryDecision;
  readonly attempt: number;
  free(): void;
}

export interface WasmConnectionBackoff {
  onFailure(kind: FailureKind, random: number): RetryDecision;
  onSuccess(): void;
  free(): void;
}

/** What core.ts needs from the wasm module; injected by the entry files. */
export interface WasmBindings {
  KalamConsumerClient: new (baseUrl: string, options?: { fetch?: typeof fetch }) => WasmTransport;
  MessageRetry: new (policy: MessageRetryPolicy) => WasmMessageRetry;
  ConnectionBackoff: new (policy: ConnectionRetryPolicy) => WasmConnectionBackoff;
  unwrapLegacyRow(payload: unknown): unknown;
  normalizeStart(start: unknown): WireStart;
  classifyFailure(status: number, code?: string): FailureKind;
  wasmReleaseInfo(): { version: string };
}

/**
 * How an entry point hands the bindings to the core: `ready()` resolves once the module is
 * instantiated (immediately in Node, where the entry instantiates it at import time).
 */
export interface WasmRuntime {
  bindings: WasmBindings;
  ready(wasmUrl?: string | URL): Promise<void>;
}
