import type { Logger } from '../logger.js';
import type { Telemetry } from './telemetry.js';

// What a running worker knows about itself: `health()` and `metrics()` of the handle runConsumer
// returns, and the stall watchdog. The loop and the policy only bump counters and write a few
// fields (no clock read, no allocation per message besides the handler-time sample); everything
// else is computed when someone asks.

/** Where a worker is in its life. */
export type WorkerState = 'starting' | 'running' | 'reconnecting' | 'stopping' | 'stopped' | 'failed';

/** One partition as the worker sees it. Offsets are `null` until there is one. */
export interface PartitionHealth {
  partitionId: number;
  /** Highest offset handed to the handler. */
  lastDeliveredOffset: number | null;
  /** Highest offset this worker committed (or learned was committed). */
  lastCommittedOffset: number | null;
  /** Fetched messages whose handling has not finished. */
  inFlight: number;
  /** Messages kept back behind offsets that were claimed but not yet delivered (see Commits in the README). */
  heldBack: number;
  /** Offset of the message most recently started, while it runs (with `concurrency` > 1, one of them). */
  currentOffset: number | null;
  /** Attempt number of that message (1 = first), 0 when no message is being handled. */
  attempt: number;
  /** The partition's last error, in words (a failed attempt, poll or ack). */
  lastError: string | null;
  /** When that error happened (ms since epoch). */
  lastErrorAt: number | null;
  /** Seconds since a message of this partition last finished or a commit landed (or since it started). */
  secondsSinceProgress: number;
  /** True while the stall watchdog considers it stuck (see `stallTimeoutMs`). */
  stalled: boolean;
}

export interface WorkerHealth {
  state: WorkerState;
  /** When the current state began (ms since epoch); for 'reconnecting', the first failed request. */
  since: number;
  /** For 'failed': why, in words. */
  error?: string;
  /** The partitions this worker is running now. */
  partitions: PartitionHealth[];
  /** With `fleet`: this worker's id and the partitions it holds a lease on. */
  fleet?: { workerId: string; owned: number[] };
}

/** Percentiles in ms over the most recent samples (at most 1024). */
export interface DurationSummary {
  /** How many samples the percentiles are computed over. */
  samples: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

export interface RoundTrips {
  /** Requests that got an answer. */
  count: number;
  /** Requests that failed (each is retried, see `connectionRetry`). */
  errors: number;
  ms: DurationSummary;
}

export interface WorkerMetrics {
  /** Messages handed to the policy (each once, however many attempts it took). */
  received: number;
  /** Messages whose handler returned. */
  handled: number;
  /** Handler attempts that threw or timed out (each retry that fails counts again). */
  failed: number;
  /** Messages given to the dead-letter hook, which returned. */
  deadLettered: number;
  /** Retries scheduled after a failed attempt. */
  retries: number;
  /** Messages that could not be handed over (undecodable payload, bad metadata). */
  invalid: number;
  /** Messages a runAgent `rowParser` skipped. */
  skipped: number;
  /** Non-empty batches handed to the handler. */
  batches: number;
  /** Duration of each handler attempt. */
  handlerMs: DurationSummary;
  /** Consume requests (polls). */
  consume: RoundTrips;
  /** Ack requests (commits). */
  ack: RoundTrips;
}

/** What runConsumer and runAgent return: the run's promise, which also answers health() and metrics(). */
export type WorkerRun = Promise<void> & {
  health(): WorkerHealth;
  metrics(): WorkerMetrics;
};

/** The part of a running partition loop the health report reads. */
export interface PartitionView {
  readonly committed: number;
  readonly inFlight: number;
  readonly heldBack: number;
}

const WINDOW = 1024;

/** The last WINDOW durations in a ring: O(1) per sample, sorted only when asked. */
export class DurationWindow {
  /** Made on the first sample: a low-level consumer's loop never records any. */
  private ring: Float64Array | undefined;
  private next = 0;

  add(ms: number): void {
    (this.ring ??= new Float64Array(WINDOW))[this.next++ & (WINDOW - 1)] = ms;
  }

  summary(): DurationSummary {
    const n = Math.min(this.next, WINDOW);
    if (n === 0 || !this.ring) return { samples: 0, p50: 0, p95: 0, p99: 0, max: 0 };
    const sorted = this.ring.slice(0, n).sort();
    const at = (p: number): number => round(sorted[Math.max(0, Math.ceil(p * n) - 1)]!);
    return { samples: n, p50: at(0.5), p95: at(0.95), p99: at(0.99), max: round(sorted[n - 1]!) };
  }
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

const perf = (globalThis as { performance?: { now(): number } }).performance;
/** A monotonic clock in ms where there is one. */
export const clock: () => number = perf ? () => perf.now() : Date.now;

/**
 * One partition's counters and state. Kept by the worker across loops of the same partition
 * (a fleet worker may lose and retake it), so the counters are the worker's totals per partition.
 */
export class PartitionStats {
  received = 0;
  handled = 0;
  failed = 0;
  deadLettered = 0;
  retries = 0;
  invalid = 0;
  skipped = 0;
  batches = 0;
  commits = 0;
  consumes = 0;
  consumeErrors = 0;
  acks = 0;
  ackErrors = 0;
  delivered = -1;
  current = -1;
  attempt = 0;
  /** The last fetch returned as many messages as it asked for: more are probably waiting. */
  fullFetch = false;
  lastError: string | null = null;
  lastErrorAt: number | null = null;
  /** The running loop, while there is one. */
  view: PartitionView | undefined;
  progressAt = Date.now();
  stalled = false;
  private mark = 0;
  private lagSince: number | undefined;

  constructor(
    readonly partition: number,
    readonly worker: WorkerMonitor,
  ) {}

  error(words: string): void {
    this.lastError = words;
    this.lastErrorAt = Date.now();
  }

  /** A loop starts or stops running this partition. */
  attach(view: PartitionView | undefined): void {
    this.view = view;
    this.fullFetch = false;
    this.attempt = 0;
    this.current = -1;
    if (view) this.progressAt = Date.now();
  }

  /** Something finished on the way: called once per batch by the loop (not per message). */
  progressed(now = Date.now()): void {
    this.progressAt = now;
  }

  /**
   * Notices progress made since the last look (messages finished inside a long batch) and
   * returns whether the partition has work it is not getting through.
   */
  observe(now: number): boolean {
    const mark = this.handled + this.deadLettered + this.skipped + this.commits;
    if (mark !== this.mark) {
      this.mark = mark;
      this.progressAt = now;
    }
    const view = this.view;
    const lagging = view !== undefined && (view.inFlight > 0 || view.heldBack > 0 || this.fullFetch);
    if (!lagging) this.lagSince = undefined;
    else this.lagSince ??= now;
    return lagging;
  }

  /** ms the partition has had work without progress, 0 when it has none. */
  stuckFor(now: number): number {
    if (this.lagSince === undefined) return 0;
    return now - Math.max(this.progressAt, this.lagSince);
  }

  health(now: number): PartitionHealth {
    this.observe(now);
    const view = this.view;
    return {
      partitionId: this.partition,
      lastDeliveredOffset: this.delivered < 0 ? null : this.delivered,
      lastCommittedOffset: view === undefined || view.committed < 0 ? null : view.committed,
      inFlight: view?.inFlight ?? 0,
      heldBack: view?.heldBack ?? 0,
      currentOffset: this.attempt > 0 && this.current >= 0 ? this.current : null,
      attempt: this.attempt,
      lastError: this.lastError,
      lastErrorAt: this.lastErrorAt,
      secondsSinceProgress: Math.max(0, Math.round((now - this.progressAt) / 100) / 10),
      stalled: this.stalled,
    };
  }
}

/** The watchdog looks this often at least (and at least four times per stallTimeoutMs). */
const WATCHDOG_MAX_EVERY_MS = 5_000;
const WATCHDOG_MIN_EVERY_MS = 20;

export interface MonitorSettings {
  topic: string;
  groupId: string;
  stallTimeoutMs: number;
  logger: Logger;
  telemetry: Telemetry | undefined;
}

/**
 * The worker's own view of itself: its state, each partition's stats, the duration windows,
 * the stall watchdog. Made before the options are read (the handle exists from the first
 * moment), configured once they are.
 */
export class WorkerMonitor {
  readonly handlerMs = new DurationWindow();
  readonly consumeMs = new DurationWindow();
  readonly ackMs = new DurationWindow();
  private readonly partitions = new Map<number, PartitionStats>();
  private base: WorkerState = 'starting';
  private baseSince = Date.now();
  private failure: string | undefined;
  private stopping: number | undefined;
  private settings: MonitorSettings | undefined;
  private watchdog: ReturnType<typeof setInterval> | undefined;
  /** The worker's ConnectionWatch: 'reconnecting' while it says the connection is lost. */
  connection: { readonly lostSince: number | undefined; readonly recoveredAt: number | undefined } | undefined;
  fleet: { workerId: string; owned(): number[] } | undefined;

  get telemetry(): Telemetry | undefined {
    return this.settings?.telemetry;
  }

  configure(settings: MonitorSettings): void {
    this.settings = settings;
    const telemetry = settings.telemetry;
    if (telemetry) {
      telemetry.bind(settings.topic, settings.groupId);
      telemetry.observe(this);
    }
  }

  partition(partition: number): PartitionStats {
    let stats = this.partitions.get(partition);
    if (!stats) {
      stats = new PartitionStats(partition, this);
      this.partitions.set(partition, stats);
    }
    return stats;
  }

  forEachPartition(fn: (stats: PartitionStats) => void): void {
    for (const stats of this.partitions.values()) fn(stats);
  }

  running(): void {
    this.moveTo('running');
    const s = this.settings;
    if (!s || !Number.isFinite(s.stallTimeoutMs) || this.watchdog !== undefined) return;
    const every = Math.min(WATCHDOG_MAX_EVERY_MS, Math.max(WATCHDOG_MIN_EVERY_MS, s.stallTimeoutMs / 4));
    this.watchdog = setInterval(() => this.watch(), every);
    (this.watchdog as { unref?: () => void }).unref?.();
  }

  stopRequested(): void {
    this.stopping ??= Date.now();
  }

  /** The run resolved (`failed` false) or rejected with `error`. */
  finished(failed: boolean, error?: unknown): void {
    this.dispose();
    if (!failed) this.moveTo('stopped');
    else {
      this.failure = error instanceof Error ? error.message : String(error);
      this.moveTo('failed');
    }
    for (const stats of this.partitions.values()) stats.attach(undefined);
  }

  dispose(): void {
    if (this.watchdog !== undefined) clearInterval(this.watchdog);
    this.watchdog = undefined;
  }

  state(): { state: WorkerState; since: number } {
    if (this.base === 'stopped' || this.base === 'failed') return { state: this.base, since: this.baseSince };
    if (this.stopping !== undefined) return { state: 'stopping', since: this.stopping };
    const lost = this.connection?.lostSince;
    if (lost !== undefined) return { state: 'reconnecting', since: lost };
    return { state: this.base, since: Math.max(this.baseSince, this.connection?.recoveredAt ?? 0) };
  }

  health(): WorkerHealth {
    const now = Date.now();
    const { state, since } = this.state();
    const partitions: PartitionHealth[] = [];
    for (const stats of this.partitions.values()) if (stats.view) partitions.push(stats.health(now));
    partitions.sort((a, b) => a.partitionId - b.partitionId);
    const health: WorkerHealth = { state, since, partitions };
    if (this.failure !== undefined) health.error = this.failure;
    if (this.fleet) health.fleet = { workerId: this.fleet.workerId, owned: this.fleet.owned() };
    return health;
  }

  /** Totals over every partition this worker has run. */
  totals(): Omit<WorkerMetrics, 'handlerMs' | 'consume' | 'ack'> & { consumes: number; consumeErrors: number; acks: number; ackErrors: number } {
    const t = { received: 0, handled: 0, failed: 0, deadLettered: 0, retries: 0, invalid: 0, skipped: 0, batches: 0, consumes: 0, consumeErrors: 0, acks: 0, ackErrors: 0 };
    for (const p of this.partitions.values()) {
      t.received += p.received;
      t.handled += p.handled;
      t.failed += p.failed;
      t.deadLettered += p.deadLettered;
      t.retries += p.retries;
      t.invalid += p.invalid;
      t.skipped += p.skipped;
      t.batches += p.batches;
      t.consumes += p.consumes;
      t.consumeErrors += p.consumeErrors;
      t.acks += p.acks;
      t.ackErrors += p.ackErrors;
    }
    return t;
  }

  metrics(): WorkerMetrics {
    const { consumes, consumeErrors, acks, ackErrors, ...counts } = this.totals();
    return {
      ...counts,
      handlerMs: this.handlerMs.summary(),
      consume: { count: consumes, errors: consumeErrors, ms: this.consumeMs.summary() },
      ack: { count: acks, errors: ackErrors, ms: this.ackMs.summary() },
    };
  }

  private moveTo(state: WorkerState): void {
    if (this.base === state) return;
    this.base = state;
    this.baseSince = Date.now();
  }

  /** The stall watchdog: one line when a partition with work stops moving, one when it moves again. */
  private watch(): void {
    const s = this.settings;
    if (!s) return;
    const now = Date.now();
    for (const stats of this.partitions.values()) {
      if (!stats.view) continue;
      stats.observe(now);
      const stuck = stats.stuckFor(now);
      if (!stats.stalled && stuck >= s.stallTimeoutMs) {
        stats.stalled = true;
        s.logger.warn(`${s.topic}[${stats.partition}] has made no progress for ${Math.round(stuck / 1000)} s with work pending: ${describeStall(stats)} (stallTimeoutMs ${s.stallTimeoutMs})`);
      } else if (stats.stalled && stuck < s.stallTimeoutMs) {
        stats.stalled = false;
        s.logger.info(`${s.topic}[${stats.partition}] recovered: making progress again`);
      }
    }
  }
}

function describeStall(stats: PartitionStats): string {
  const view = stats.view!;
  const parts: string[] = [];
  if (stats.attempt > 0 && stats.current >= 0) parts.push(`the handler has been on offset ${stats.current} (attempt ${stats.attempt})`);
  if (view.inFlight > 0) parts.push(`${view.inFlight} fetched message${view.inFlight === 1 ? '' : 's'} unfinished`);
  if (view.heldBack > 0) parts.push(`${view.heldBack} held back waiting for missing offsets`);
  if (parts.length === 0) parts.push('the last poll returned a full batch and none has been handled since');
  if (stats.lastError !== null) parts.push(`last error: ${stats.lastError}`);
  return parts.join('; ');
}
