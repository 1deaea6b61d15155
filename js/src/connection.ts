import { KalamConsumerError, invalidOption, toConsumerError } from './errors.js';
import { sleep } from './timing.js';
import type { ConnectionRetryPolicy, WasmBindings, WasmConnectionBackoff } from './wasm-contract.js';

/** How the loop retries refused connections, resets, 5xx and garbage responses. */
export interface ConnectionRetryOptions {
  /** First delay ceiling in ms (default 250); the delay is drawn uniformly below it (full jitter). */
  initialBackoffMs?: number;
  /** Cap of the delay ceiling in ms (default 30000). */
  maxBackoffMs?: number;
  /** Growth of the ceiling per consecutive failure (default 2). */
  multiplier?: number;
  /** Consecutive failures before giving up (default Infinity: retry forever). */
  maxAttempts?: number;
}

export const CONNECTION_RETRY_DEFAULTS = {
  initialBackoffMs: 250,
  maxBackoffMs: 30_000,
  multiplier: 2,
  maxAttempts: Number.POSITIVE_INFINITY,
} as const;

export function connectionPolicy(options: ConnectionRetryOptions | undefined): ConnectionRetryPolicy {
  const o = { ...CONNECTION_RETRY_DEFAULTS, ...stripUndefined(options ?? {}) };
  if (!(o.initialBackoffMs >= 0)) throw invalidOption('connectionRetry.initialBackoffMs must be >= 0');
  if (!(o.maxBackoffMs >= o.initialBackoffMs)) throw invalidOption('connectionRetry.maxBackoffMs must be >= initialBackoffMs');
  if (!(o.multiplier >= 1)) throw invalidOption('connectionRetry.multiplier must be >= 1');
  if (!(o.maxAttempts >= 1)) throw invalidOption('connectionRetry.maxAttempts must be >= 1');
  const policy: ConnectionRetryPolicy = {
    initialBackoffMs: o.initialBackoffMs,
    maxBackoffMs: o.maxBackoffMs,
    multiplier: o.multiplier,
  };
  // An infinite count cannot cross the boundary as an integer: omitted means "forever".
  if (Number.isFinite(o.maxAttempts)) policy.maxAttempts = Math.floor(o.maxAttempts);
  return policy;
}

export function stripUndefined<T extends object>(value: T): Partial<T> {
  const out: Partial<T> = {};
  for (const [k, v] of Object.entries(value)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}

export const STOPPED: unique symbol = Symbol('stopped');

/**
 * Runs `operation` until it succeeds, the signal aborts (-> STOPPED) or the wasm backoff gives
 * up (permanent errors at once, auth errors after its own allowance, transient ones after
 * maxAttempts) -> throws the typed error. `report` sees every error that will be retried.
 */
export async function withConnectionRetry<R>(
  backoff: WasmConnectionBackoff,
  signal: AbortSignal,
  operation: () => Promise<R>,
  report: (error: KalamConsumerError, delayMs: number, attempt: number) => void,
): Promise<R | typeof STOPPED> {
  for (;;) {
    if (signal.aborted) return STOPPED;
    try {
      const result = await operation();
      backoff.onSuccess();
      return result;
    } catch (thrown) {
      if (signal.aborted) return STOPPED;
      const error = toConsumerError(thrown);
      const decision = backoff.onFailure(error.kind, Math.random());
      if (decision.action === 'give_up') throw error;
      report(error, decision.delayMs, decision.attempt);
      await sleep(decision.delayMs, signal);
    }
  }
}

export function newBackoff(bindings: WasmBindings, policy: ConnectionRetryPolicy): WasmConnectionBackoff {
  try {
    return new bindings.ConnectionBackoff(policy);
  } catch (error) {
    throw toConsumerError(error, 'permanent');
  }
}
