import { isInternalClient, type ConsumerClient } from '../client.js';
import { CommitTracker } from '../commit-tracker.js';
import { STOPPED, withConnectionRetry, type RetryReporter } from '../connection.js';
import { KalamConsumerError, toConsumerError } from '../errors.js';
import { describeFailure } from '../failure-reason.js';
import { IdleBackoff, type IdleBackoffOptions } from '../idle.js';
import type { ConsumeBatchResult, ConsumerMessage } from '../messages.js';
import { OffsetSequencer, type OffsetGap } from '../sequencer.js';
import { sleep } from '../timing.js';
import type { WasmConnectionBackoff, WireStart } from '../wasm-contract.js';
import { clock, WorkerMonitor, type PartitionStats, type PartitionView } from './stats.js';
import type { StopControl } from './stop-control.js';

// The one poll loop of the package (docs/STYLE.md 20): runConsumer, runAgent and
// consumer().run all run their partitions through it and only bring a per-message policy.
//
// Never committing past a gap: the server claims every fetched range and moves the group's
// cursor (docs/PROTOCOL.md §3.4); acks are cumulative (§3.7). A consume whose answer is lost
// after the server claimed it, or a claim another worker of the group still holds, leaves a
// range this worker never saw while the next consume returns what follows it. Each partition
// therefore learns where the group stands with a `limit: 0` probe (next_offset = committed + 1,
// §3.5), hands out only batches that connect to that point (OffsetSequencer), keeps later
// batches back until the server redelivers the missing range after its visibility timeout, and
// reports a gap that never fills (deleted messages) as OFFSET_GAP after gapTimeoutMs.

/** One ack after stop may take this long; the work is redelivered if it does not land. */
const FINAL_COMMIT_TIMEOUT_MS = 5_000;
/**
 * Cap of the pause between polls while a gap is open. The missing claim only comes back after
 * the server's visibility timeout (60 s by default, unknown to us), and expiry is evaluated
 * lazily on a consume, so polling about once a second costs little and notices it promptly.
 * Pacing, not a retry: owned here, not by the core (HACKING.md, "Who owns which rule").
 */
const GAP_POLL_MAX_MS = 1_000;

/** What a partition tells its worker; every method is a report, none may throw. */
export interface PartitionReporter {
  /** A consume, probe or ack failed and will be retried after `retryInMs`. */
  connectionFailed(error: KalamConsumerError, retryInMs: number, phase: 'connection' | 'commit', partition: number): void;
  connectionRecovered(): void;
  /** Offsets that never arrived within gapTimeoutMs were given up (code OFFSET_GAP). */
  gapSkipped(error: KalamConsumerError, gap: OffsetGap, partition: number): void;
  /** An ack could not be sent: after stop (one bounded try) or refused by `canCommit`. */
  commitFailed(error: KalamConsumerError, upto: number, partition: number): void;
}

export interface PartitionSettings {
  client: ConsumerClient;
  topic: string;
  groupId: string;
  partition: number;
  start: WireStart;
  batchSize: number;
  timeoutSeconds: number;
  gapTimeoutMs: number;
  idle: IdleBackoffOptions | undefined;
  backoff: WasmConnectionBackoff;
  stop: StopControl;
  reporter: PartitionReporter;
  /** Fencing: false while this worker may no longer own the partition (fleet leases). */
  canCommit?: () => boolean;
  /** On stop, finish the fetched batch (first attempts, until the drain deadline): fleet handovers. */
  finishFetchedOnStop?: boolean;
  /** Where the partition's counters go (health() and metrics()); a private one when absent. */
  stats?: PartitionStats;
}

/** What a policy gets to work with: the partition's commit state and its commit calls. */
export interface PartitionHandle {
  readonly partition: number;
  readonly tracker: CommitTracker;
  readonly stop: StopControl;
  /** See PartitionSettings.finishFetchedOnStop. */
  readonly finishFetchedOnStop: boolean;
  /** False once a fleet worker may have lost the partition's lease (see canCommit). */
  holdsPartition(): boolean;
  /** The partition's counters: the policy bumps them per message (no clock, no allocation). */
  readonly stats: PartitionStats;
  /** Commits the highest contiguous finished offset (retried like a poll while running). */
  commit(): Promise<void>;
  /** Acks exactly `offset` now (a manual `ctx.ack()`), once, and records the commit. */
  ackOffset(offset: number): Promise<void>;
}

/** The per-message part a caller brings. */
export interface MessagePolicy {
  /**
   * Handles the batch's ready messages in offset order and marks each finished one on the
   * tracker. Returns normally (also on stop: it checks `stop.halted`); throws to end the
   * partition with an error, after the loop commits what finished.
   */
  handle(ready: ConsumerMessage<unknown>[], partition: PartitionHandle): Promise<void>;
}

export class PartitionLoop implements PartitionHandle, PartitionView {
  readonly tracker = new CommitTracker();
  readonly stats: PartitionStats;
  private readonly sequencer: OffsetSequencer<ConsumerMessage<unknown>>;
  private readonly retryReporter: RetryReporter;
  private readonly commitReporter: RetryReporter;
  /** The batch ack sent while the next batch is fetched (see `ackInBackground`). */
  private inFlightAck: Promise<void> | undefined;
  /** How the last background ack failed: the next commit replays it in the foreground (see `commit`). */
  private backgroundAckFailure: { error: unknown } | undefined;

  constructor(private readonly s: PartitionSettings) {
    this.sequencer = new OffsetSequencer(this.tracker, s.gapTimeoutMs);
    const partition = s.partition;
    this.stats = s.stats ?? new WorkerMonitor().partition(partition);
    this.retryReporter = {
      failed: (error, delayMs) => s.reporter.connectionFailed(error, delayMs, 'connection', partition),
      recovered: () => s.reporter.connectionRecovered(),
    };
    this.commitReporter = {
      failed: (error, delayMs) => s.reporter.connectionFailed(error, delayMs, 'commit', partition),
      recovered: () => s.reporter.connectionRecovered(),
    };
  }

  get partition(): number {
    return this.s.partition;
  }

  get stop(): StopControl {
    return this.s.stop;
  }

  get finishFetchedOnStop(): boolean {
    return this.s.finishFetchedOnStop === true;
  }

  holdsPartition(): boolean {
    return !this.s.canCommit || this.s.canCommit();
  }

  get committed(): number {
    return this.tracker.committed;
  }

  get inFlight(): number {
    return this.tracker.inFlight;
  }

  get heldBack(): number {
    return this.sequencer.buffered;
  }

  /** Polls and hands batches to `policy` until stop; commits what finished on the way out. */
  async run(policy: MessagePolicy): Promise<void> {
    this.stats.attach(this);
    try {
      await this.poll(policy);
    } finally {
      // Also on an error: what finished is committed before the partition gives up.
      await this.settleAck();
      await this.finalCommit();
      this.stats.attach(undefined);
    }
  }

  private async poll(policy: MessagePolicy): Promise<void> {
    const { stop } = this.s;
    const stats = this.stats;
    if (!(await this.learnBeforeFirstFetch())) return;
    const idle = new IdleBackoff(this.s.idle);
    const gapPoll = new IdleBackoff({ initialMs: Math.min(this.s.idle?.initialMs ?? 10, GAP_POLL_MAX_MS), maxMs: Math.max(this.s.idle?.maxMs ?? 0, GAP_POLL_MAX_MS) });
    let firstBatch = true;
    // The last fetch connected to what we expect while a gap was open: a redelivery is under
    // way, so poll again at once and with a full batch.
    let catchingUp = false;
    while (!stop.halted) {
      const waiting = this.sequencer.gap !== undefined && !catchingUp;
      if (waiting && !(await this.reprobe())) break;
      // While waiting for a claim to come back, each poll claims one message at most: it is
      // kept back (and released by our later ack), so the batch size only bounds memory.
      const limit = waiting ? 1 : this.s.batchSize;
      const batch = await this.fetch(limit);
      if (batch === STOPPED) break;
      const messages = batch.messages;
      stats.fullFetch = messages.length >= limit;
      if (firstBatch && messages.length > 0) {
        firstBatch = false;
        if (!(await this.learnFromFirstBatch(lowestOffset(messages)))) break;
      }
      const { ready, accepted, skipped } = this.sequencer.offer(messages);
      for (const gap of skipped) this.reportGap(gap);
      // Fencing: a worker that may have lost the partition hands nothing more over (the new
      // owner gets these messages once our claim expires).
      if (this.s.canCommit && !this.s.canCommit()) break;
      if (ready.length > 0) {
        stats.batches++;
        stats.received += ready.length;
        stats.delivered = Math.max(stats.delivered, ready[ready.length - 1]!.offset);
        await policy.handle(ready, this);
      }
      await this.commitBatch();
      if (ready.length > 0) stats.progressed();
      if (stop.halted) break;
      if (ready.length === 0 && accepted && messages.length > 0) {
        await this.settleAck();
        if (this.tracker.committed >= 0 && highestOffset(messages) <= this.tracker.committed) await this.releaseClaim();
      }
      if (this.sequencer.gap !== undefined) {
        catchingUp = accepted && messages.length > 0;
        if (!catchingUp) await sleep(gapPoll.next(), stop.halt);
      } else {
        catchingUp = false;
        gapPoll.reset();
        if (messages.length === 0) await sleep(idle.next(), stop.halt);
        else idle.reset();
      }
    }
  }

  private fetch(limit: number): Promise<ConsumeBatchResult<unknown> | typeof STOPPED> {
    const { client, stop } = this.s;
    const expected = this.tracker.expected;
    return withConnectionRetry(
      this.s.backoff,
      stop.halt,
      () =>
        this.timed(
          'receive',
          client.consumeBatch<unknown>({
            topic: this.s.topic,
            group_id: this.s.groupId,
            // Matters only when the server forgot the group (restart) and it never committed.
            start: expected === undefined ? this.s.start : { Offset: expected },
            batch_size: limit,
            partition_id: this.s.partition,
            timeout_seconds: this.s.timeoutSeconds,
            signal: stop.halt,
          }),
        ),
      this.retryReporter,
    );
  }

  /** Counts and times one consume ('receive') or ack ('settle') request; per batch, never per message. */
  private async timed<R>(operation: 'receive' | 'settle', request: Promise<R>, offset?: number): Promise<R> {
    const stats = this.stats;
    const monitor = stats.worker;
    const startedAt = Date.now();
    const started = clock();
    let result: R;
    try {
      result = await request;
    } catch (error) {
      // A poll cut short by stop is no failure of the partition's: the stop, not the server,
      // ended it, so it is not counted, reported, traced or timed. (An ack is never cut by stop.)
      if (operation === 'receive' && this.s.stop.halted) throw error;
      if (operation === 'settle') stats.ackErrors++;
      else stats.consumeErrors++;
      stats.error(describeFailure(error));
      monitor.telemetry?.request(operation, this.s.partition, startedAt, clock() - started, { offset, error });
      throw error;
    }
    const ms = clock() - started;
    if (operation === 'receive') {
      stats.consumes++;
      monitor.consumeMs.add(ms);
    } else {
      stats.acks++;
      stats.commits++;
      monitor.ackMs.add(ms);
    }
    monitor.telemetry?.request(operation, this.s.partition, startedAt, ms, { offset, count: (result as { messages?: unknown[] }).messages?.length });
    return result;
  }

  private sendAck(upto: number, signal?: AbortSignal): Promise<unknown> {
    return this.timed('settle', this.s.client.ack(this.s.topic, this.s.groupId, this.s.partition, upto, signal ? { signal } : undefined), upto);
  }

  /**
   * The loop's commit after each batch. Normally the ack goes out in the background and the
   * next consume is sent beside it: the plain loop waits for its ack before polling again, and
   * that round trip is pure waiting. The two never conflict: the ack only covers offsets this
   * worker already fetched, and the server keeps the highest ack (docs/PROTOCOL.md §3.7). At
   * most one ack is in flight: the next commit waits for it first. After a failed background
   * ack, the commit is made in the foreground, with retries and reports, so an ack that keeps
   * failing stops the partition's progress loudly instead of letting it consume uncommitted.
   */
  private async commitBatch(): Promise<void> {
    await this.settleAck();
    if (this.backgroundAckFailure || this.s.stop.halted) return this.commit();
    this.ackInBackground();
  }

  private ackInBackground(): void {
    const upto = this.commitTarget();
    if (upto === undefined || !this.mayCommit(upto)) return;
    // One attempt, never aborted by stop (like every ack); the foreground commit that follows
    // reports its failure and retries it.
    this.inFlightAck = this.sendAck(upto, this.s.stop.drain).then(
      () => this.tracker.committedUpTo(upto),
      (error: unknown) => {
        this.backgroundAckFailure = { error };
      },
    );
  }

  /** The offset an ack should name now: the committable one, when it is beyond what is committed. */
  private commitTarget(): number | undefined {
    const upto = this.tracker.committable();
    return upto === undefined || upto <= this.tracker.committed ? undefined : upto;
  }

  /** Waits for the background ack, if one is in flight; never throws. */
  private async settleAck(): Promise<void> {
    const ack = this.inFlightAck;
    if (ack === undefined) return;
    this.inFlightAck = undefined;
    await ack;
  }

  async commit(): Promise<void> {
    await this.settleAck();
    const upto = this.commitTarget();
    if (upto === undefined) {
      // What a failed background ack covered is committed by now (learned from a probe).
      this.backgroundAckFailure = undefined;
      return;
    }
    if (this.s.stop.halted) return this.finalCommit();
    if (!this.mayCommit(upto)) return;
    // A failed background ack counts as this commit's first failed try: reported, backed off
    // and retried (or thrown when final) exactly as if it had been sent from here.
    let replay = this.backgroundAckFailure;
    this.backgroundAckFailure = undefined;
    const result = await withConnectionRetry(
      this.s.backoff,
      this.s.stop.halt,
      // Not aborted by stop: an ack already on the wire should land, or the finished work
      // would be delivered again. The drain deadline still bounds it.
      () => {
        if (!replay) return this.sendAck(upto, this.s.stop.drain);
        const failure = replay;
        replay = undefined;
        return Promise.reject(failure.error);
      },
      this.commitReporter,
    );
    if (result === STOPPED) return this.finalCommit();
    this.tracker.committedUpTo(upto);
  }

  async ackOffset(offset: number): Promise<void> {
    await this.settleAck();
    if (offset <= this.tracker.committed) return;
    if (!this.mayCommit(offset)) throw this.fencedError(offset);
    await this.sendAck(offset);
    this.tracker.committedUpTo(offset);
  }

  /** After stop: one bounded attempt, not tied to the (aborted) stop signal. */
  private async finalCommit(): Promise<void> {
    const upto = this.commitTarget();
    if (upto === undefined) return;
    if (!this.mayCommit(upto)) return;
    try {
      await this.sendAck(upto, AbortSignal.timeout(FINAL_COMMIT_TIMEOUT_MS));
      this.tracker.committedUpTo(upto);
    } catch (error) {
      this.s.reporter.commitFailed(toConsumerError(error), upto, this.s.partition);
    }
  }

  /** Fencing: a worker that may have lost its lease never commits (the new owner does). */
  private mayCommit(upto: number): boolean {
    if (!this.s.canCommit || this.s.canCommit()) return true;
    this.s.reporter.commitFailed(this.fencedError(upto), upto, this.s.partition);
    return false;
  }

  private fencedError(upto: number): KalamConsumerError {
    return new KalamConsumerError(
      `not committing ${this.s.topic} partition ${this.s.partition} up to offset ${upto}: this worker's lease on the partition may have expired, so another worker may own it now`,
      { code: 'LEASE_LOST', kind: 'permanent' },
    );
  }

  /** A `limit: 0` consume (see ClientInternals.probe), retried like a poll. */
  private probe(at: WireStart): Promise<number | typeof STOPPED> {
    const client = this.s.client;
    if (!isInternalClient(client)) return Promise.resolve(STOPPED);
    return withConnectionRetry(
      this.s.backoff,
      this.s.stop.halt,
      () => client.probe(this.s.topic, this.s.groupId, this.s.partition, at, this.s.stop.halt),
      this.retryReporter,
    );
  }

  /**
   * Where this partition must start, learned as cheaply as the protocol allows. A `limit: 0`
   * probe answers committed + 1, or the configured start position when the group never
   * committed (§3.5); it claims nothing.
   *
   * - 'Latest': probed before the first fetch. It creates an unknown group exactly as a first
   *   consume would, and its answer is the one position a batch must start at or before: a
   *   first batch beyond it follows a claim whose answer we never got.
   * - 'Earliest' / an offset: probed once, after the first non-empty batch. A first batch
   *   beyond the start position may follow a lost answer or another worker's live claim (a
   *   handover): the probe tells where the group really stands. A first batch at or below it
   *   may be a redelivered claim that holds committed offsets (a restart while the server
   *   kept the group's claims): the probe's answer differs from the start position only when
   *   it is a committed offset, and those messages are not handled again.
   * A client that is not ours cannot probe: the first batch then sets the start.
   */
  private async learnBeforeFirstFetch(): Promise<boolean> {
    if (!isInternalClient(this.s.client) || this.s.start !== 'Latest') return true;
    const next = await this.probe(this.s.start);
    if (next === STOPPED) return false;
    this.tracker.expect(next);
    return true;
  }

  private async learnFromFirstBatch(first: number): Promise<boolean> {
    const start = this.s.start;
    const position = start === 'Earliest' ? 0 : typeof start === 'object' ? start.Offset : undefined;
    if (!isInternalClient(this.s.client) || position === undefined) return true;
    const next = await this.probe(start);
    if (next === STOPPED) return false;
    // A first batch at or below the start position may still be a redelivered claim holding
    // committed offsets (a restart while the server kept the group's claims): the probe tells
    // what is committed, and those offsets are not handled again.
    if (first > position) this.tracker.expect(next);
    if (next !== position) this.tracker.committedUpTo(next - 1);
    return true;
  }

  /**
   * While a gap is open: another worker may have committed the missing range (a slow, not
   * a dead, previous owner), in which case it never comes back to us. Probing at our expected
   * offset answers committed + 1 when that moved, and our own offset otherwise.
   */
  private async reprobe(): Promise<boolean> {
    await this.settleAck();
    const expected = this.tracker.expected;
    if (!isInternalClient(this.s.client) || expected === undefined) return true;
    const next = await this.probe({ Offset: expected });
    if (next === STOPPED) return false;
    if (next !== expected) this.tracker.committedUpTo(next - 1);
    return true;
  }

  /**
   * A redelivered batch made only of offsets already committed still holds a claim on the
   * server until an ack covers its end (§3.4); re-acking the committed offset (a no-op for
   * the stored offset) releases it instead of having it come back every visibility timeout.
   */
  private async releaseClaim(): Promise<void> {
    const upto = this.tracker.committed;
    if (!this.mayCommit(upto)) return;
    await withConnectionRetry(
      this.s.backoff,
      this.s.stop.halt,
      () => this.sendAck(upto, this.s.stop.drain),
      this.commitReporter,
    );
  }

  private reportGap(gap: OffsetGap): void {
    const error = new KalamConsumerError(
      `offsets ${gap.from}..${gap.to} of ${this.s.topic} partition ${this.s.partition} were claimed or expected but never delivered ` +
        `within ${this.s.gapTimeoutMs} ms (deleted messages, or a claim that never came back); continuing after them`,
      { code: 'OFFSET_GAP', kind: 'permanent' },
    );
    this.s.reporter.gapSkipped(error, gap, this.s.partition);
  }
}

function lowestOffset(messages: readonly { offset: number }[]): number {
  let low = Infinity;
  for (const m of messages) if (m.offset < low) low = m.offset;
  return low;
}

function highestOffset(messages: readonly { offset: number }[]): number {
  let high = -1;
  for (const m of messages) if (m.offset > high) high = m.offset;
  return high;
}
