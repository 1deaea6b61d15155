import type { KalamConsumerError } from '../errors.js';
import { describeFailure } from '../failure-reason.js';
import type { Logger } from '../logger.js';

/** How often a connection that stays lost is reported again. */
export const STILL_FAILING_EVERY_MS = 60_000;

/**
 * Turns the retry loops' failures into log lines a person can act on: the first failure at
 * once ("connection lost: connection refused"), then at most one line a minute while it lasts,
 * then "recovered" with how long it took. One per worker, shared by its partitions, so three
 * partitions failing together say it once.
 */
export class ConnectionWatch {
  private lostAt: number | undefined;
  private lastLine = 0;
  private failures = 0;
  private recoveredAtMs: number | undefined;

  constructor(
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  get lost(): boolean {
    return this.lostAt !== undefined;
  }

  /** Since when the connection has been failing (epoch ms), if it is. */
  get lostSince(): number | undefined {
    return this.lostAt;
  }

  /** When the connection last came back after a loss (epoch ms), if it ever did. */
  get recoveredAt(): number | undefined {
    return this.recoveredAtMs;
  }

  failed(error: KalamConsumerError, retryInMs: number, request: string): void {
    const now = this.now();
    this.failures += 1;
    const retry = `retrying in ${Math.round(retryInMs)} ms`;
    if (this.lostAt === undefined) {
      this.lostAt = now;
      this.lastLine = now;
      this.logger.warn(`connection lost: ${describeFailure(error)} (${request}); ${retry}`);
      return;
    }
    if (now - this.lastLine >= STILL_FAILING_EVERY_MS) {
      this.lastLine = now;
      const seconds = Math.round((now - this.lostAt) / 1000);
      this.logger.warn(`connection still failing after ${seconds} s (${this.failures} failed requests): ${describeFailure(error)} (${request}); ${retry}`);
    }
  }

  recovered(): void {
    if (this.lostAt === undefined) return;
    const seconds = ((this.now() - this.lostAt) / 1000).toFixed(1);
    this.logger.info(`connection recovered after ${seconds} s (${this.failures} failed requests)`);
    this.lostAt = undefined;
    this.failures = 0;
    this.recoveredAtMs = this.now();
  }
}
