import { describeFailure } from './failure-reason.js';
import { redactSecrets, scrubCause } from './redact.js';
import type { FailureKind } from './wasm-contract.js';

/**
 * Stable machine codes. The server's own codes (`TOKEN_EXPIRED`, `NOT_FOUND`, `FORBIDDEN`,
 * `unauthorized`, `SQL_EXECUTION_ERROR`, ...) are passed through as they arrive; the ones below
 * are produced by this package. Codes are frozen once published.
 *
 * The list is owned by crates/kalam-consumer-core/src/codes.rs (`Code`: what the wasm module
 * raises, then `RUNTIME_CODES`: what only this layer raises); tests/unit/error-codes.test.mjs
 * fails when this union and that file disagree.
 */
export type KalamConsumerErrorCode =
  | 'INVALID_URL'
  | 'INVALID_OPTION'
  | 'NETWORK_ERROR'
  | 'ABORTED'
  /** The request was aborted by a timeout signal (`AbortSignal.timeout()`). */
  | 'TIMEOUT'
  | 'HTTP_ERROR'
  | 'INVALID_RESPONSE'
  | 'DECODE_ERROR'
  | 'INVALID_METADATA'
  /** runConsumer / consumer(): offsets that never arrived within gapTimeoutMs were given up (reported, then skipped). */
  | 'OFFSET_GAP'
  | 'WASM_LOAD_FAILED'
  | 'WASM_VERSION_MISMATCH'
  /** The `authProvider` threw or kept failing. */
  | 'AUTH_PROVIDER_ERROR'
  /** runConsumer / topicLag: the topic's partition count cannot be read by this account: pass partitions or partitionCount. */
  | 'PARTITIONS_UNKNOWN'
  /** runConsumer: a message failed every attempt and there is no onFailed: the worker stopped at it. */
  | 'RETRIES_EXHAUSTED'
  /** runConsumer: a handler attempt passed handlerTimeoutMs (a failed attempt). */
  | 'HANDLER_TIMEOUT'
  /** Fleet: the partition lease table cannot be created or read by this account (the message names the DDL to run by hand). */
  | 'LEASE_TABLE'
  /** Fleet: a partition's lease ran out before it was renewed, or another worker took a newer epoch of it. */
  | 'LEASE_LOST'
  /** The topic does not exist (the server's code, also raised when system.topics has no row for it). */
  | 'NOT_FOUND'
  | (string & {});

export type KalamConsumerErrorKind = FailureKind;

export interface KalamConsumerErrorInit {
  code: KalamConsumerErrorCode;
  /** HTTP status, 0 when there was no response. */
  status?: number;
  kind?: KalamConsumerErrorKind;
  /** Raw response text (cut to 2 KiB) for HTTP errors, or the raw payload of a decode error. */
  body?: string;
  cause?: unknown;
}

const ERROR_NAME = 'KalamConsumerError';
const BODY_LIMIT = 2048;

/** Every error this package throws or reports. Never a string, always `code`/`status`/`kind`. */
export class KalamConsumerError extends Error {
  override readonly name = ERROR_NAME;
  readonly code: KalamConsumerErrorCode;
  readonly status: number;
  readonly kind: KalamConsumerErrorKind;
  readonly body: string | undefined;

  constructor(message: string, init: KalamConsumerErrorInit) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause });
    this.code = init.code;
    this.status = init.status ?? 0;
    this.kind = init.kind ?? 'permanent';
    this.body = init.body === undefined ? undefined : init.body.slice(0, BODY_LIMIT);
  }
}

/**
 * True for errors of this package, including the plain `Error`s the wasm module throws
 * (same `name`, `code`, `status`, `kind`) that have not been converted yet.
 */
export function isKalamConsumerError(value: unknown): value is KalamConsumerError {
  if (value instanceof KalamConsumerError) return true;
  return (
    value instanceof Error &&
    value.name === ERROR_NAME &&
    typeof (value as { code?: unknown }).code === 'string'
  );
}

export function invalidOption(message: string): KalamConsumerError {
  return new KalamConsumerError(message, { code: 'INVALID_OPTION', kind: 'permanent' });
}

function isAbortError(value: unknown): boolean {
  return (
    typeof value === 'object' &&
    value !== null &&
    ((value as { name?: unknown }).name === 'AbortError' || (value as { name?: unknown }).name === 'TimeoutError')
  );
}

/**
 * Turns anything thrown by the wasm module, `fetch` or an SQL client into a
 * `KalamConsumerError`, so callers only ever branch on `code`/`kind`.
 * `fallbackKind` is used when the thrown value carries no classification of its own
 * (for example the string an old `@kalamdb/client` rejects with).
 */
export function toConsumerError(value: unknown, fallbackKind: KalamConsumerErrorKind = 'transient'): KalamConsumerError {
  if (value instanceof KalamConsumerError) return value;
  if (isKalamConsumerError(value)) {
    const raw = value as unknown as { message: string; code: string; status?: unknown; kind?: unknown; body?: unknown };
    // The wasm transport copies response text into message and body; a proxy or a server
    // other than KalamDB may echo the request's Authorization header there (issue 11 item 12).
    const init: KalamConsumerErrorInit = {
      code: raw.code,
      status: typeof raw.status === 'number' ? raw.status : 0,
      kind: raw.kind === 'auth' || raw.kind === 'transient' || raw.kind === 'permanent' ? raw.kind : fallbackKind,
      cause: scrubCause(value),
    };
    if (typeof raw.body === 'string') init.body = redactSecrets(raw.body);
    return new KalamConsumerError(redactSecrets(raw.message), init);
  }
  if (isAbortError(value)) {
    return new KalamConsumerError('request aborted', { code: 'ABORTED', kind: 'transient', cause: value });
  }
  if (value instanceof TypeError) {
    // fetch rejects with a TypeError for refused connections, resets and DNS failures; the
    // reason ("connection refused") sits in its cause chain, so the message spells it out.
    return new KalamConsumerError(`network error: ${describeFailure(value)}`, { code: 'NETWORK_ERROR', kind: 'transient', cause: value });
  }
  if (value instanceof Error) {
    const status = (value as { status?: unknown }).status;
    const code = (value as { code?: unknown }).code;
    return new KalamConsumerError(value.message, {
      code: typeof code === 'string' ? code : 'HTTP_ERROR',
      status: typeof status === 'number' ? status : 0,
      kind: fallbackKind,
      cause: value,
    });
  }
  // @kalamdb/client rejects SQL errors with the raw response text; keep it as the body.
  const text = typeof value === 'string' ? value : safeStringify(value);
  return new KalamConsumerError(text.slice(0, 200) || 'unknown error', {
    code: 'HTTP_ERROR',
    kind: fallbackKind,
    body: text,
    cause: value,
  });
}

function safeStringify(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
