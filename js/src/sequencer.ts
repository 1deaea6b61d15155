import type { CommitTracker } from './commit-tracker.js';

/** An inclusive offset range that was expected but never delivered. */
export interface OffsetGap {
  from: number;
  to: number;
}

/** One fetched batch: the server reads one contiguous window per consume (docs/PROTOCOL.md §3.4). */
interface Run<M> {
  first: number;
  last: number;
  messages: M[];
}

export interface Offered<M> {
  /** Messages to hand out now, ascending, already registered with the tracker. */
  ready: M[];
  /**
   * The fetched batch connected to what this worker expects (a redelivery is under way, or
   * the normal case). False when it lies beyond a gap and was kept back.
   */
  accepted: boolean;
  /** Gaps given up on after `gapTimeoutMs`: the caller must report them. */
  skipped: OffsetGap[];
}

/** Default for how long a gap may stay open: three times the server's default 60 s visibility timeout. */
export const GAP_TIMEOUT_DEFAULT_MS = 180_000;

/**
 * Puts fetched batches of one partition in order and refuses to hand out anything beyond a gap.
 *
 * Why: every non-empty consume claims its range and moves the group's server cursor
 * (docs/PROTOCOL.md §3.4), and acks are cumulative (§3.7). When a consume's answer is lost after the
 * server claimed the range, or another worker of the group holds a claim (a handover), the next
 * consume returns messages *after* that range. Handling and acking them would commit the missing
 * range unprocessed and release its claim: lost. So a batch that starts beyond the tracker's
 * `expected` offset is kept back (not discarded: its claim is released by our later cumulative
 * ack, so it need not wait for its own expiry) until the missing range arrives, which the server
 * does once its claim expires (rewind to the smallest expired claim start), or until the caller
 * learns that the range was committed by someone else.
 *
 * Within one batch a hole between offsets is a deleted message (one consume reads one
 * contiguous window and never crosses a live claim), so only the start of a batch is compared.
 * A range that is genuinely absent on the server (messages deleted between batches) would block
 * forever: after `gapTimeoutMs` the gap is given up, returned in `skipped` for the caller to
 * report, and the batches after it are handed out.
 */
export class OffsetSequencer<M extends { offset: number }> {
  /** Batches kept back behind a gap, ordered by first offset. */
  private runs: Run<M>[] = [];
  /** The expected offset at which the current gap opened, and when. */
  private gapAt: number | undefined;
  private gapSince = 0;

  constructor(
    private readonly tracker: CommitTracker,
    private readonly gapTimeoutMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** The missing range in front of the kept-back batches, if any. */
  get gap(): OffsetGap | undefined {
    const expected = this.tracker.expected;
    const head = this.runs[0];
    if (!head || expected === undefined || head.first <= expected) return undefined;
    return { from: expected, to: head.first - 1 };
  }

  /** Number of messages kept back behind a gap. */
  get buffered(): number {
    return this.runs.reduce((n, run) => n + run.messages.length, 0);
  }

  /**
   * Adds a fetched batch (possibly empty: the tracker may have learned a commit that closes the
   * gap) and returns what may be handed out now.
   */
  offer(messages: readonly M[]): Offered<M> {
    let accepted = false;
    if (messages.length > 0) {
      // A batch arrives in offset order (§3.2); sorting is for anything else.
      const sorted = isAscending(messages) ? (messages as M[]) : [...messages].sort((a, b) => a.offset - b.offset);
      const run: Run<M> = { first: sorted[0]!.offset, last: sorted[sorted.length - 1]!.offset, messages: sorted };
      const expected = this.tracker.expected;
      accepted = expected === undefined || run.first <= expected;
      this.runs.push(run);
      if (this.runs.length > 1) this.runs.sort((a, b) => a.first - b.first);
    }
    let ready: M[] = [];
    /** `ready` is a batch's own array (handed out as is): copy it before adding to it. */
    let readyIsBatch = false;
    let runsTaken = 0;
    const skipped: OffsetGap[] = [];
    for (;;) {
      const head = this.runs[0];
      if (!head) break;
      const expected = this.tracker.expected;
      if (expected !== undefined && head.first > expected) {
        const now = this.now();
        if (this.gapAt !== expected) {
          this.gapAt = expected;
          this.gapSince = now;
        }
        if (now - this.gapSince < this.gapTimeoutMs) break;
        // Given up: reported by the caller, never silent. Later batches go on from here.
        skipped.push({ from: expected, to: head.first - 1 });
        this.tracker.expect(head.first);
      }
      this.runs.shift();
      runsTaken++;
      if (ready.length === 0 && this.tracker.trackIfAfter(head.messages)) {
        // All new (the usual case): the batch itself is what is handed out.
        ready = head.messages;
        readyIsBatch = true;
      } else {
        // Redelivered offsets this worker committed or already handles are dropped here.
        const fresh = this.tracker.track(head.messages.map((m) => m.offset));
        if (readyIsBatch) ready = ready.slice();
        readyIsBatch = false;
        const wanted = new Set(fresh);
        for (const m of head.messages) if (wanted.delete(m.offset)) ready.push(m);
      }
      this.tracker.expect(head.last + 1);
    }
    if (!this.gap) this.gapAt = undefined;
    // Runs accepted one after another may interleave (a redelivery overlapping a kept batch).
    if (runsTaken > 1) ready.sort((a, b) => a.offset - b.offset);
    return { ready, accepted, skipped };
  }
}

/** True when the messages are in strictly ascending offset order. */
function isAscending(messages: readonly { offset: number }[]): boolean {
  for (let i = 1; i < messages.length; i++) if (!(messages[i]!.offset > messages[i - 1]!.offset)) return false;
  return true;
}
