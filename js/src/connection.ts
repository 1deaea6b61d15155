import { KalamConsumerError, invalidOption, toConsumerError } from './errors.js';
import { sleep } from './timing.js';
import type { ConnectionRetryPolicy, WasmBindings, WasmConnectionBackoff } from './wasm-contract.js';

/**
 * How the loop retries refused connections, resets, 5xx and garbage responses. Defaults and
 * the rules a value must follow belong to the core crate (`retry.rs`): the wasm constructor
 * fills and checks them, with the same rules and words as `retry`.
 */
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

export const STOPPED: unique symbol = Symbol('stopped');

/** What the retry loop tells its owner: every failure it will retry, and the first success after one. */
export interface RetryReporter {
  failed(error: KalamConsumerError, delayMs: number, attempt: number): void;
  recovered?(): void;
}

/**
 * Runs `operation` until it succeeds, the signal aborts (-> STOPPED) or the wasm backoff gives
 * up (permanent errors at once, auth errors after its own allowance, transient ones after
 * maxAttempts) -> throws the typed error. `reporter` sees every error that will be retried.
 */
export async function withConnectionRetry<R>(
  backoff: WasmConnectionBackoff,
  signal: AbortSignal,
  operation: () => Promise<R>,
  reporter: RetryReporter,
): Promise<R | typeof STOPPED> {
  for (;;) {
    if (signal.aborted) return STOPPED;
    try {
      const result = await operation();
      if (backoff.failures > 0) {
        backoff.onSuccess();
        reporter.recovered?.();
      }
      return result;
    } catch (thrown) {
      if (signal.aborted) return STOPPED;
      const error = toConsumerError(thrown);
      const decision = backoff.onFailure(error.kind, Math.random());
      if (decision.action === 'give_up') throw error;
      reporter.failed(error, decision.delayMs, decision.attempt);
      await sleep(decision.delayMs, signal);
    }
  }
}

/** A backoff state for one partition; throws INVALID_OPTION (the core's words) for a bad policy. */
export function newBackoff(bindings: WasmBindings, options: ConnectionRetryOptions | undefined, option = 'connectionRetry'): WasmConnectionBackoff {
  if (options !== undefined && (typeof options !== 'object' || options === null)) throw invalidOption(`${option} must be an object`);
  try {
    return new bindings.ConnectionBackoff(definedFields(options) as ConnectionRetryPolicy);
  } catch (error) {
    throw toConsumerError(error, 'permanent');
  }
}

/** Drops `undefined` fields, which mean "the default" to a caller but "not a number" to the checks. */
export function definedFields<T extends object>(value: T | undefined): Partial<T> | undefined {
  if (value === undefined) return undefined;
  const out: Partial<T> = {};
  for (const [k, v] of Object.entries(value)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}
