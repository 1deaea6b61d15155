import { timerFor } from '../timing.js';

/**
 * The two stages of stopping a worker. `halt` fires at once: no new fetch, no new attempt,
 * sleeps end. `drain` fires `drainTimeoutMs` later: handlers still running are abandoned (their
 * messages stay uncommitted and come back after the visibility timeout).
 */
export class StopControl {
  private readonly haltController = new AbortController();
  private readonly drainController = new AbortController();
  private drainTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly drainTimeoutMs: number) {}

  get halt(): AbortSignal {
    return this.haltController.signal;
  }

  get drain(): AbortSignal {
    return this.drainController.signal;
  }

  get halted(): boolean {
    return this.haltController.signal.aborted;
  }

  stop(): void {
    if (this.halted) return;
    this.haltController.abort();
    // No deadline (Infinity, as consumer().run has) is no timer: see timerFor.
    this.drainTimer = timerFor(() => this.drainController.abort(), this.drainTimeoutMs);
  }

  /**
   * A control for one partition: stopped with this one (and drained with it), or on its own
   * (a fleet worker handing a partition over, or losing its lease).
   */
  child(): StopControl {
    const child = new StopControl(this.drainTimeoutMs);
    const onHalt = (): void => child.stop();
    const onDrain = (): void => child.drainController.abort();
    if (this.halted) child.stop();
    else this.halt.addEventListener('abort', onHalt, { once: true });
    if (this.drain.aborted) child.drainController.abort();
    else this.drain.addEventListener('abort', onDrain, { once: true });
    child.unlink = () => {
      this.halt.removeEventListener('abort', onHalt);
      this.drain.removeEventListener('abort', onDrain);
    };
    return child;
  }

  private unlink: (() => void) | undefined;

  /** Clears the drain timer once everything has finished (it must not keep a process alive). */
  dispose(): void {
    if (this.drainTimer !== undefined) clearTimeout(this.drainTimer);
    this.unlink?.();
  }
}
