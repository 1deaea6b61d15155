import { invalidOption } from './errors.js';

/** Backoff between polls that returned nothing (the server does not long-poll, §3.6). */
export interface IdleBackoffOptions {
  /** First idle sleep in ms (default 10). */
  initialMs?: number;
  /** Cap in ms (default 200); idle sleeps double up to it. */
  maxMs?: number;
}

export const IDLE_BACKOFF_DEFAULTS = { initialMs: 10, maxMs: 200 } as const;

/** Doubles on every empty poll, resets on any delivered message. */
export class IdleBackoff {
  private readonly initial: number;
  private readonly max: number;
  private current: number;

  constructor(options: IdleBackoffOptions | undefined) {
    const initial = options?.initialMs ?? IDLE_BACKOFF_DEFAULTS.initialMs;
    const max = options?.maxMs ?? Math.max(IDLE_BACKOFF_DEFAULTS.maxMs, initial);
    if (typeof initial !== 'number' || !(initial >= 0)) throw invalidOption('idleBackoff.initialMs must be >= 0');
    if (typeof max !== 'number' || !(max >= initial)) throw invalidOption('idleBackoff.maxMs must be >= initialMs');
    this.initial = initial;
    this.max = max;
    this.current = initial;
  }

  /** The sleep before the next poll after an empty one. */
  next(): number {
    const delay = this.current;
    this.current = Math.min(this.max, Math.max(1, this.current * 2));
    return delay;
  }

  reset(): void {
    this.current = this.initial;
  }
}
