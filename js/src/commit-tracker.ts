/** How a fetched, not yet committed offset stands (CommitTracker's `states`). */
const UNFINISHED = 0;
const FINISHED = 1;
/** Finished, but must not be the offset an ack names (dead-lettered with ackOnFailed: false). */
const FINISHED_HELD = 2;

/**
 * Which offset of one partition may be committed. The server's ack is cumulative (docs/PROTOCOL.md
 * §3.7), so committing offset N also commits every earlier offset: the tracker only ever offers
 * the highest offset below which *every* fetched message has finished. Offsets may have gaps
 * (deleted messages are simply absent), so it tracks the fetched offsets, not a range.
 *
 * Cost: the worker runs this for every message (bench `throughput.vs_plain`). The fetched
 * offsets are one ascending typed array with a parallel array of states, so a batch that
 * follows what is pending is appended without a lookup, `finish` in offset order is O(1) (it
 * looks where the previous one landed first, then searches), `committable` walks only what
 * finished since its last call, and a commit moves a start index. The arrays are reused: the
 * settled prefix is moved out in place and they grow only when more is in flight than ever
 * before, so the steady state allocates nothing.
 */
/** Entries the arrays start with; they double when more is in flight. */
const INITIAL_CAPACITY = 256;

export class CommitTracker {
  /** Fetched, not yet committed offsets, ascending, in `[head, tail)` (before `head`: settled). */
  private offsets = new Float64Array(INITIAL_CAPACITY);
  /** `states[i]`: UNFINISHED, FINISHED or FINISHED_HELD, for `offsets[i]`. */
  private states = new Uint8Array(INITIAL_CAPACITY);
  private head = 0;
  private tail = 0;
  /** Tracked offsets not finished yet (`inFlight`). */
  private unfinished = 0;
  /** Where the next `finish` probably lands: right after the previous one. */
  private hint = 0;
  /** How far `committable` has already walked the finished prefix (an index), and what it found. */
  private scanned = 0;
  private scannedUpto: number | undefined;
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
    const i = this.indexOf(offset);
    if (i < 0) return;
    if (this.states[i] === UNFINISHED) this.unfinished--;
    this.offsets.copyWithin(i, i + 1, this.tail);
    this.states.copyWithin(i, i + 1, this.tail);
    this.tail--;
    this.resetScan();
  }

  /**
   * True for a message this worker must not deliver again: at or below what it committed
   * (the server re-delivers whole claims after the visibility timeout, §3.4) or already in
   * flight here.
   */
  seen(offset: number): boolean {
    return offset <= this.committedOffset || this.indexOf(offset) >= 0;
  }

  /**
   * The usual case of `track`, without an array of offsets: when the messages are in strictly
   * ascending order and all follow everything tracked or committed, registers them all and
   * returns true; otherwise registers nothing and returns false (call `track`).
   */
  trackIfAfter(messages: readonly { offset: number }[]): boolean {
    return this.appendIfAfter(messages.length, (i) => messages[i]!.offset);
  }

  /** Registers fetched offsets; returns the ones that are new, in ascending order, once each. */
  track(batch: readonly number[]): number[] {
    if (this.appendIfAfter(batch.length, (i) => batch[i]!)) return batch.slice();
    // A redelivery, or a batch out of order: keep what is new, once, and merge it in.
    const fresh = batch.filter((offset) => !this.seen(offset)).sort((a, b) => a - b);
    let kept = 0;
    for (let i = 0; i < fresh.length; i++) if (i === 0 || fresh[i] !== fresh[i - 1]) fresh[kept++] = fresh[i]!;
    fresh.length = kept;
    if (kept > 0) this.merge(fresh);
    return fresh;
  }

  /**
   * Marks a tracked message as finished. `ack: false` (a dead letter with ackOnFailed: false)
   * lets later messages commit past it but never makes it the committed offset itself.
   */
  finish(offset: number, options?: { ack?: boolean }): void {
    const i = this.indexOf(offset);
    if (i < 0) return;
    const state = this.states[i];
    if (state === UNFINISHED) this.unfinished--;
    this.states[i] = state === FINISHED_HELD || options?.ack === false ? FINISHED_HELD : FINISHED;
    this.hint = i + 1;
  }

  /** True when `offset` is tracked and finished. */
  isFinished(offset: number): boolean {
    const i = this.indexOf(offset);
    return i >= 0 && this.states[i] !== UNFINISHED;
  }

  /** The offset to ack now, or undefined when nothing new is committable. */
  committable(): number | undefined {
    const { offsets, states, tail } = this;
    let i = Math.max(this.scanned, this.head);
    let upto = this.scannedUpto;
    while (i < tail) {
      const state = states[i];
      if (state === UNFINISHED) break;
      if (state === FINISHED) upto = offsets[i];
      i++;
    }
    this.scanned = i;
    this.scannedUpto = upto;
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
    const { offsets, states, tail } = this;
    let i = this.head;
    while (i < tail && offsets[i]! <= offset) {
      if (states[i] === UNFINISHED) this.unfinished--;
      i++;
    }
    this.head = i;
    if (this.scanned <= i) this.resetScan();
    // What the scan found is committed now: nothing new until it walks further.
    else if (this.scannedUpto !== undefined && this.scannedUpto <= offset) this.scannedUpto = undefined;
  }

  /** Number of fetched messages that are neither committed nor finished. */
  get inFlight(): number {
    return this.unfinished;
  }

  /** Appends `count` offsets when they ascend strictly from above everything tracked or committed. */
  private appendIfAfter(count: number, offsetAt: (index: number) => number): boolean {
    let previous = Math.max(this.tail > this.head ? this.offsets[this.tail - 1]! : -1, this.committedOffset);
    for (let i = 0; i < count; i++) {
      const offset = offsetAt(i);
      if (!(offset > previous)) return false;
      previous = offset;
    }
    this.makeRoom(count);
    const { offsets, states } = this;
    let at = this.tail;
    for (let i = 0; i < count; i++, at++) {
      offsets[at] = offsetAt(i);
      states[at] = UNFINISHED;
    }
    this.tail = at;
    this.unfinished += count;
    return true;
  }

  /** Ensures `count` more entries fit after `tail`: moves the live part to the front, or grows. */
  private makeRoom(count: number): void {
    if (this.tail + count <= this.offsets.length) return;
    const live = this.tail - this.head;
    if (live + count <= this.offsets.length) {
      // Room once the settled prefix is gone (head > 0, or the early return above would apply).
      this.offsets.copyWithin(0, this.head, this.tail);
      this.states.copyWithin(0, this.head, this.tail);
    } else {
      let capacity = this.offsets.length * 2;
      while (capacity < live + count) capacity *= 2;
      const offsets = new Float64Array(capacity);
      const states = new Uint8Array(capacity);
      offsets.set(this.offsets.subarray(this.head, this.tail));
      states.set(this.states.subarray(this.head, this.tail));
      this.offsets = offsets;
      this.states = states;
    }
    this.shift(this.head);
  }

  /** The indices after the live part moved `by` places to the front. */
  private shift(by: number): void {
    this.tail -= by;
    this.scanned = Math.max(0, this.scanned - by);
    this.hint = Math.max(0, this.hint - by);
    this.head = 0;
  }

  /** Index of a tracked (uncommitted) offset, or -1. */
  private indexOf(offset: number): number {
    const offsets = this.offsets;
    const hint = this.hint;
    if (hint >= this.head && hint < this.tail && offsets[hint] === offset) return hint;
    let low = this.head;
    let high = this.tail - 1;
    while (low <= high) {
      const mid = (low + high) >>> 1;
      const at = offsets[mid]!;
      if (at === offset) return mid;
      if (at < offset) low = mid + 1;
      else high = mid - 1;
    }
    return -1;
  }

  /** Merges ascending, untracked offsets into the live part (a redelivery: rare, so it copies). */
  private merge(fresh: number[]): void {
    const live = this.tail - this.head;
    const total = live + fresh.length;
    let capacity = this.offsets.length;
    while (capacity < total) capacity *= 2;
    const offsets = new Float64Array(capacity);
    const states = new Uint8Array(capacity);
    let i = this.head;
    let j = 0;
    for (let at = 0; at < total; at++) {
      if (j >= fresh.length || (i < this.tail && this.offsets[i]! < fresh[j]!)) {
        offsets[at] = this.offsets[i]!;
        states[at] = this.states[i]!;
        i++;
      } else {
        offsets[at] = fresh[j]!;
        states[at] = UNFINISHED;
        j++;
      }
    }
    this.offsets = offsets;
    this.states = states;
    this.head = 0;
    this.tail = total;
    this.hint = 0;
    this.unfinished += fresh.length;
    this.resetScan();
  }

  private resetScan(): void {
    this.scanned = this.head;
    this.scannedUpto = undefined;
  }
}
