/**
 * Ordered concurrency inside one partition (`concurrency: N`): up to N messages are handled at
 * once, never two with the same key at once, and messages of one key in offset order. Messages
 * without a key (`key: null`) share one lane: they run one at a time, in offset order, beside
 * keyed messages.
 *
 * Each key keeps the promise of its last scheduled message; the next message of that key waits
 * for it, then for a free slot. A message holds a slot only while it runs, so a long run of one
 * key never starves the others.
 */
export class KeyLanes {
  private readonly tails = new Map<string | null, Promise<void>>();
  private readonly waiting: Array<() => void> = [];
  private active = 0;

  constructor(private readonly limit: number) {}

  /** Schedules `work` for a message with `key`; resolves when it has run. `work` must not throw. */
  schedule(key: string | null, work: () => Promise<void>): Promise<void> {
    const previous = this.tails.get(key);
    const run = (previous ?? Promise.resolve()).then(async () => {
      await this.acquire();
      try {
        await work();
      } finally {
        this.release();
      }
    });
    this.tails.set(key, run);
    // Forget the key once its last message ran, so the map holds only keys in flight.
    void run.then(() => {
      if (this.tails.get(key) === run) this.tails.delete(key);
    });
    return run;
  }

  private acquire(): Promise<void> | void {
    if (this.active < this.limit) {
      this.active += 1;
      return;
    }
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  private release(): void {
    const next = this.waiting.shift();
    // The slot passes straight to the next waiter (FIFO: roughly offset order across keys).
    if (next) next();
    else this.active -= 1;
  }
}
