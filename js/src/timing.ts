// Small timing helpers shared by the runtime. All waits are abortable so `stop()` never has to
// wait for a backoff or an idle sleep to run out.

/**
 * Resolves after `ms`, or at once when `signal` aborts (never rejects). Always through a
 * timer, even for 0 ms: a loop that waits `sleep(0)` between attempts must still let
 * timers run (a stop signal's own timeout, a host's exit timer), or it spins a core forever.
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = timerFor(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

/**
 * The longest delay a timer holds: 2^31 - 1 ms, about 24.8 days. Node and browsers fire a
 * longer one after 1 ms instead (Node also prints a TimeoutOverflowWarning), so every delay the
 * runtime sets goes through `timerFor`, which reads a longer one, `Infinity` included, as never.
 */
export const MAX_TIMER_MS = 2_147_483_647;

/** `setTimeout(fn, ms)` (negative `ms` as 0), or no timer when `ms` is longer than a timer holds. */
export function timerFor(fn: () => void, ms: number): ReturnType<typeof setTimeout> | undefined {
  return ms > MAX_TIMER_MS ? undefined : setTimeout(fn, Math.max(0, ms));
}

export interface LinkedSignal {
  signal: AbortSignal;
  /** True when the abort came from the timeout, not from a parent signal. */
  timedOut(): boolean;
  dispose(): void;
}

/**
 * An AbortSignal that fires when any parent fires or after `timeoutMs`.
 * (AbortSignal.any only exists from Node 20.3, and the package supports Node 18.)
 */
export function linkSignals(parents: Array<AbortSignal | undefined>, timeoutMs?: number): LinkedSignal {
  const controller = new AbortController();
  let timedOut = false;
  const cleanups: Array<() => void> = [];
  const abort = (reason?: unknown): void => {
    if (!controller.signal.aborted) controller.abort(reason);
  };
  for (const parent of parents) {
    if (!parent) continue;
    if (parent.aborted) {
      abort(parent.reason);
      continue;
    }
    const onAbort = (): void => abort(parent.reason);
    parent.addEventListener('abort', onAbort, { once: true });
    cleanups.push(() => parent.removeEventListener('abort', onAbort));
  }
  if (timeoutMs !== undefined && timeoutMs > 0) {
    const timer = timerFor(() => {
      timedOut = true;
      abort();
    }, timeoutMs);
    cleanups.push(() => clearTimeout(timer));
  }
  return {
    signal: controller.signal,
    timedOut: () => timedOut,
    dispose: () => {
      for (const cleanup of cleanups) cleanup();
    },
  };
}

/**
 * `promise`, or a rejection as soon as `signal` aborts: for work that takes no signal of its
 * own (the SQL helpers), so a stop never waits for it. The work itself is left to finish.
 */
export function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(new DOMException('stopped', 'AbortError'));
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(new DOMException('stopped', 'AbortError'));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}
