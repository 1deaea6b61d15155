import type { StopControl } from './stop-control.js';

/** How one handler attempt ended. */
export type AttemptOutcome =
  | { readonly kind: 'ok' }
  | { readonly kind: 'failed'; readonly error: unknown }
  /** Past `handlerTimeoutMs`: counts as a failed attempt; its `ctx.signal` was aborted. */
  | { readonly kind: 'timed_out' }
  /** Abandoned at the drain deadline after stop: the message stays uncommitted. */
  | { readonly kind: 'drained' };

const OK: AttemptOutcome = { kind: 'ok' };
const TIMED_OUT: AttemptOutcome = { kind: 'timed_out' };
const DRAINED: AttemptOutcome = { kind: 'drained' };

/** The watchdog looks this often at most, and at least once per this share of the timeout. */
const WATCHDOG_MIN_MS = 5;
const WATCHDOG_MAX_MS = 1_000;
const WATCHDOG_SHARE = 20;

/**
 * One running attempt. Made only when the attempt needs one: its handler returned a promise
 * (the watchdog must see it) or asked for `ctx.signal`. Its AbortSignal is likewise made only
 * when asked for: most handlers never do, and an object per message is measurable.
 */
export class AttemptSlot {
  startedAt = 0;
  settle: ((outcome: AttemptOutcome) => void) | undefined;
  private controller: AbortController | undefined;
  private aborted = false;

  signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.aborted) this.controller.abort();
    }
    return this.controller.signal;
  }

  abort(): void {
    this.aborted = true;
    this.controller?.abort();
  }
}

/** Where an attempt's slot lives: the attempt's context, under this key (see SlotHolder). */
export const SLOT = Symbol('kalam.attemptSlot');

/**
 * What `AttemptRunner.run` is given for an attempt: the object that holds (or will hold) the
 * attempt's slot, made on first need by `slotOf`. A symbol key, not a `#private` field: the
 * bundle is built without class static blocks (scripts/build.mjs), and esbuild then lowers a
 * private field to a WeakMap entry per object and the class's other fields to
 * Object.defineProperty (tests/bundle-shape.test.mjs keeps them out). A symbol stays out of
 * `Object.keys` and JSON.
 */
export interface SlotHolder {
  [SLOT]: AttemptSlot | undefined;
}

/** The holder's slot, made now if it has none yet. */
export function slotOf(holder: SlotHolder): AttemptSlot {
  return (holder[SLOT] ??= new AttemptSlot());
}

/**
 * Runs handler attempts with the two limits every attempt has: `handlerTimeoutMs` and the drain
 * deadline after stop. One per worker: a single watchdog timer checks every running attempt,
 * instead of a timer per message, and it stays out of the way of handlers that finish
 * synchronously.
 */
export class AttemptRunner {
  private readonly running = new Set<AttemptSlot>();
  private watchdog: ReturnType<typeof setInterval> | undefined;

  constructor(
    private readonly stop: StopControl,
    readonly timeoutMs: number,
    private readonly now: () => number = Date.now,
  ) {
    stop.halt.addEventListener('abort', () => this.forEach((slot) => slot.abort()), { once: true });
    stop.drain.addEventListener('abort', () => this.forEach((slot) => slot.settle?.(DRAINED)), { once: true });
    if (Number.isFinite(timeoutMs)) {
      const every = Math.min(WATCHDOG_MAX_MS, Math.max(WATCHDOG_MIN_MS, timeoutMs / WATCHDOG_SHARE));
      this.watchdog = setInterval(() => this.expire(), every);
      // Idle, the watchdog must not keep a process alive (Node; browsers have no unref). While
      // an attempt runs it must: a handler promise that never settles holds nothing else, and
      // the process would exit before the timeout fired (see hold/release).
      this.unref();
    }
  }

  /**
   * Calls `call(a, b, c)` and waits for it within the limits. A handler that returns synchronously
   * costs no promise, no slot and no registration; the arguments are passed through so a caller
   * needs no closure per attempt. `holder` is the attempt's context (see SlotHolder).
   */
  run<A, B, C>(holder: SlotHolder, call: (a: A, b: B, c: C) => unknown, a: A, b: B, c: C): AttemptOutcome | Promise<AttemptOutcome> {
    if (this.stop.drain.aborted) return DRAINED;
    let result: unknown;
    try {
      result = call(a, b, c);
    } catch (error) {
      return { kind: 'failed', error };
    }
    if (!isThenable(result)) return OK;
    const slot = slotOf(holder);
    slot.startedAt = this.now();
    return new Promise<AttemptOutcome>((resolve) => {
      let settled = false;
      slot.settle = (outcome) => {
        if (settled) return;
        settled = true;
        this.running.delete(slot);
        if (this.running.size === 0) this.unref();
        slot.settle = undefined;
        resolve(outcome);
      };
      if (this.running.size === 0) this.ref();
      this.running.add(slot);
      result.then(
        () => slot.settle?.(OK),
        (error: unknown) => slot.settle?.({ kind: 'failed', error }),
      );
    });
  }

  private ref(): void {
    (this.watchdog as { ref?: () => void } | undefined)?.ref?.();
  }

  private unref(): void {
    (this.watchdog as { unref?: () => void } | undefined)?.unref?.();
  }

  dispose(): void {
    if (this.watchdog !== undefined) clearInterval(this.watchdog);
    this.watchdog = undefined;
  }

  private expire(): void {
    const deadline = this.now() - this.timeoutMs;
    this.forEach((slot) => {
      if (slot.startedAt > deadline) return;
      slot.abort();
      slot.settle?.(TIMED_OUT);
    });
  }

  private forEach(fn: (slot: AttemptSlot) => void): void {
    for (const slot of [...this.running]) fn(slot);
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && (typeof value === 'object' || typeof value === 'function') && typeof (value as PromiseLike<unknown>).then === 'function';
}
