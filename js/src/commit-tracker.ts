/**
 * Which offset of one partition may be committed. The server's ack is cumulative (docs/PROTOCOL.md
 * §3.7), so committing offset N also commits every earlier offset: the tracker only ever offers
 * the highest offset below which *every* fetched message has finished. Offsets may have gaps
 * (deleted messages are simply absent), so it tracks the fetched offsets, not a range.
 */
export class CommitTracker {
  /** Fetched, not yet committed offsets, ascending. */
  private pending: number[] = [];
  private readonly done = new Set<number>();
  /** Finished, but must not be the offset an ack names (dead-lettered with ackOnFailed: false). */
  private readonly held = new Set<number>();
  private committedOffset: number;
  /**
   * The lowest offset this worker has neither received-and-accepted nor seen committed: where
   * the next batch must start (docs/PROTOCOL.md §3.4). Undefined until a probe or a first batch
   * told us. A fetched batch that starts beyond it means a claim whose answer never arrived
   * (a lost response, or another worker's claim) lies in between: see OffsetSequencer.
   */
  private expectedNext: number | undefined;

  /** `committed`: the highest offset already committed by this worker, -1 for none. */
  constructor(committed = -1) {
    this.committedOffset = committed;
  }

  /** Highest offset this worker has committed (-1 when none). */
  get committed(): number {
    return this.committedOffset;
  }

  /** See `expectedNext`. */
  get expected(): number | undefined {
    return this.expectedNext;
  }

  /** Raises the expected next offset (never lowers it: what this worker accepted stays accepted). */
  expect(offset: number): void {
    if (this.expectedNext === undefined || offset > this.expectedNext) this.expectedNext = offset;
  }

  /** Forgets a tracked offset, so a redelivery of it is handed out again (manual-ack consumers). */
  forget(offset: number): void {
    this.pending = this.pending.filter((o) => o !== offset);
    this.done.delete(offset);
    this.held.delete(offset);
  }

  /**
   * True for a message this worker must not deliver again: at or below what it committed
   * (the server re-delivers whole claims after the visibility timeout, §3.4) or already in
   * flight here.
   */
  seen(offset: number): boolean {
    return offset <= this.committedOffset || this.pending.includes(offset);
  }

  /** Registers fetched offsets; returns the ones that are new, in ascending order. */
  track(offsets: readonly number[]): number[] {
    const fresh = [...new Set(offsets)].filter((offset) => !this.seen(offset)).sort((a, b) => a - b);
    this.pending = [...this.pending, ...fresh].sort((a, b) => a - b);
    return fresh;
  }

  /**
   * Marks a tracked message as finished. `ack: false` (a dead letter with ackOnFailed: false)
   * lets later messages commit past it but never makes it the committed offset itself.
   */
  finish(offset: number, options?: { ack?: boolean }): void {
    if (!this.pending.includes(offset)) return;
    this.done.add(offset);
    if (options?.ack === false) this.held.add(offset);
  }

  /** The offset to ack now, or undefined when nothing new is committable. */
  committable(): number | undefined {
    let upto: number | undefined;
    for (const offset of this.pending) {
      if (!this.done.has(offset)) break;
      if (!this.held.has(offset)) upto = offset;
    }
    return upto;
  }

  /**
   * Records a commit of `offset`, by this worker's ack or learned from the server (another
   * worker of the group committed it); everything at or below it is settled.
   */
  committedUpTo(offset: number): void {
    if (offset <= this.committedOffset) return;
    this.committedOffset = offset;
    this.expect(offset + 1);
    this.pending = this.pending.filter((o) => {
      if (o > offset) return true;
      this.done.delete(o);
      this.held.delete(o);
      return false;
    });
  }

  /** Number of fetched messages that are neither committed nor finished. */
  get inFlight(): number {
    return this.pending.filter((o) => !this.done.has(o)).length;
  }
}
