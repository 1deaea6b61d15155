import type { ConsumerClient } from './client.js';
import { isInternalClient } from './client.js';
import { CommitTracker } from './commit-tracker.js';
import { STOPPED, connectionPolicy, newBackoff, withConnectionRetry, type ConnectionRetryOptions } from './connection.js';
import { KalamConsumerError, invalidOption, toConsumerError } from './errors.js';
import { IdleBackoff, type IdleBackoffOptions } from './idle.js';
import type { ConsumeBatchResult, ConsumerMessage, StartPosition } from './messages.js';
import type { QueryResponse, SqlParams } from './sql.js';
import { GAP_TIMEOUT_DEFAULT_MS, OffsetSequencer, type OffsetGap } from './sequencer.js';
import { sleep } from './timing.js';
import { nonBlank, nonNegativeInt, nonNegativeNumber, positiveInt } from './validate.js';
import type { MessageRetryPolicy, WasmBindings, WasmRuntime, WireStart } from './wasm-contract.js';

// The worker loop shared by runConsumer and the deprecated runAgent. Per partition it polls,
// hands messages over one at a time in offset order, retries failures, and commits the highest
// contiguous finished offset once per batch. What a "message" becomes for the handler (a change,
// or a legacy row) is the caller's business: see `EngineHooks`.
//
// Never committing past a gap: the server claims every fetched range and moves the group's
// cursor (docs/PROTOCOL.md §3.4); acks are cumulative (§3.7). A consume whose answer is lost after the
// server claimed it, or a claim another worker of the group still holds, leaves a range this
// worker never saw while the next consume returns what follows it. Each partition therefore
// learns where the group stands with a `limit: 0` probe (next_offset = committed + 1, §3.5),
// hands out only batches that connect to that point (OffsetSequencer), keeps later batches back
// until the server redelivers the missing range after its visibility timeout, and reports a gap
// that never fills (deleted messages) as OFFSET_GAP after gapTimeoutMs before going on.

export interface RetryOptions {
  /** Attempts per message, including the first (default 3). */
  maxAttempts?: number;
  /** Delay before the second attempt in ms (default 300). */
  initialBackoffMs?: number;
  /** Cap of the delay in ms (default 5000); also the cap of the in-place retry pause. */
  maxBackoffMs?: number;
  /** Growth per attempt (default 2). */
  multiplier?: number;
  /** Random spread of each delay, 0..1 (default 0). */
  jitterRatio?: number;
  /** Whether a handler error is worth another attempt (default: always). */
  shouldRetry?: (error: unknown, attempt: number) => boolean;
}

export const RETRY_DEFAULTS = { maxAttempts: 3, initialBackoffMs: 300, maxBackoffMs: 5000, multiplier: 2, jitterRatio: 0 } as const;

/** The context every handler call gets (runAgent adds its legacy fields on top). */
export interface BaseContext {
  name: string;
  /** Stable per message across attempts: `<name>:<topic>:<partition>:<offset>`. */
  runKey: string;
  attempt: number;
  maxAttempts: number;
  sql(sql: string, params?: SqlParams): Promise<QueryResponse>;
  queryOne<T = Record<string, unknown>>(sql: string, params?: SqlParams): Promise<T | null>;
  queryAll<T = Record<string, unknown>>(sql: string, params?: SqlParams): Promise<T[]>;
  /** Requests an early commit of this message (and everything before it). */
  ack(): Promise<void>;
}

export interface EngineRetryInfo<TItem> {
  error: unknown;
  /** The attempt that failed. */
  attempt: number;
  maxAttempts: number;
  backoffMs: number;
  runKey: string;
  partitionId: number;
  offset: number;
  item: TItem;
}

export type ErrorPhase = 'handler' | 'invalid' | 'failed' | 'connection' | 'commit' | 'gap';

export interface EngineErrorInfo<TItem> {
  error: unknown;
  phase: ErrorPhase;
  partitionId: number;
  offset?: number;
  runKey?: string;
  item?: TItem;
  /** For connection errors: the wait before the next try. */
  retryInMs?: number;
  /** For phase 'gap' (error code OFFSET_GAP): the offsets that never arrived and were given up. */
  gap?: OffsetGap;
}

/** What runConsumer / runAgent plug into the loop. */
export interface EngineHooks<TItem> {
  /** Builds the handler's item; `error` set means invalid (never retried, goes to the failure path). */
  prepare(message: ConsumerMessage<unknown>, bindings: WasmBindings): { item: TItem; error?: KalamConsumerError; skip?: boolean };
  invoke(base: BaseContext, item: TItem): Promise<void>;
  /** Dead-letter hook; absent means failed messages block the partition and are retried in place. */
  failed?: (base: BaseContext, item: TItem, error: unknown) => Promise<void>;
  onRetry?: (info: EngineRetryInfo<TItem>) => void;
  onError?: (info: EngineErrorInfo<TItem>) => void;
}

export interface EngineOptions {
  client: ConsumerClient;
  name: string;
  topic: string;
  groupId: string;
  /** Where a group without a committed offset starts: 'earliest', 'latest' (default), n, { offset: n }. */
  start?: StartPosition;
  /** Messages per poll and partition (default 20). */
  batchSize?: number;
  /** Partitions consumed side by side (default [0]). */
  partitions?: number[];
  retry?: RetryOptions;
  connectionRetry?: ConnectionRetryOptions;
  idleBackoff?: IdleBackoffOptions;
  /** Sent with every poll (default 10); a long-polling server may wait that long. */
  timeoutSeconds?: number;
  /** Aborting it stops fetching at once, drains the running handler, commits, then resolves. */
  stopSignal?: AbortSignal;
  /** How long a running handler may still take after stop (default 10000 ms). */
  drainTimeoutMs?: number;
  /** Commit a message after onFailed returned (default true). */
  ackOnFailed?: boolean;
  /**
   * How long a partition waits for offsets that were claimed but never delivered to it (a lost
   * consume answer, another worker's claim) before reporting them as OFFSET_GAP (phase 'gap')
   * and going on. Default 180000 ms: three times the server's default visibility timeout, after
   * which such a claim has come back; only messages absent on the server stay missing that long.
   */
  gapTimeoutMs?: number;
}

const FINAL_COMMIT_TIMEOUT_MS = 5_000;
/**
 * Cap of the pause between polls while a gap is open. The missing claim only comes back after
 * the server's visibility timeout (60 s by default, configured per server, unknown to us), and
 * expiry is evaluated lazily on a consume, so polling about once a second costs little and
 * notices the redelivery promptly.
 */
const GAP_POLL_MAX_MS = 1_000;

interface Settings {
  client: ConsumerClient;
  name: string;
  topic: string;
  groupId: string;
  batchSize: number;
  partitions: number[];
  retry: Required<MessageRetryPolicy>;
  shouldRetry: (error: unknown, attempt: number) => boolean;
  connection: ReturnType<typeof connectionPolicy>;
  idle: IdleBackoffOptions | undefined;
  timeoutSeconds: number;
  drainTimeoutMs: number;
  ackOnFailed: boolean;
  gapTimeoutMs: number;
}

function settingsOf(options: EngineOptions): Settings {
  const client = options.client;
  if (!client || typeof client.consumeBatch !== 'function' || typeof client.ack !== 'function') {
    throw invalidOption('client must be a consumer client from createConsumerClient()');
  }
  const partitions = options.partitions ?? [0];
  if (!Array.isArray(partitions) || partitions.length === 0) throw invalidOption('partitions must be a non-empty array');
  partitions.forEach((p, i) => nonNegativeInt(`partitions[${i}]`, p, 0));
  if (new Set(partitions).size !== partitions.length) throw invalidOption('partitions must not repeat');
  const r = options.retry ?? {};
  const retry: Required<MessageRetryPolicy> = {
    maxAttempts: positiveInt('retry.maxAttempts', r.maxAttempts, RETRY_DEFAULTS.maxAttempts),
    initialBackoffMs: nonNegativeNumber('retry.initialBackoffMs', r.initialBackoffMs, RETRY_DEFAULTS.initialBackoffMs),
    maxBackoffMs: nonNegativeNumber('retry.maxBackoffMs', r.maxBackoffMs, RETRY_DEFAULTS.maxBackoffMs),
    multiplier: nonNegativeNumber('retry.multiplier', r.multiplier, RETRY_DEFAULTS.multiplier),
    jitterRatio: nonNegativeNumber('retry.jitterRatio', r.jitterRatio, RETRY_DEFAULTS.jitterRatio),
  };
  // Same normalisation as the old SDK (docs/PROTOCOL.md §7.3): max >= initial, multiplier >= 1, jitter <= 1.
  retry.maxBackoffMs = Math.max(retry.maxBackoffMs, retry.initialBackoffMs);
  retry.multiplier = Math.max(1, retry.multiplier);
  retry.jitterRatio = Math.min(1, retry.jitterRatio);
  if (r.shouldRetry !== undefined && typeof r.shouldRetry !== 'function') throw invalidOption('retry.shouldRetry must be a function');
  return {
    client,
    name: nonBlank('name', options.name),
    topic: nonBlank('topic', options.topic),
    groupId: nonBlank('groupId', options.groupId),
    batchSize: positiveInt('batchSize', options.batchSize, 20),
    partitions: [...partitions],
    retry,
    shouldRetry: r.shouldRetry ?? (() => true),
    connection: connectionPolicy(options.connectionRetry),
    idle: checkIdle(options.idleBackoff),
    timeoutSeconds: nonNegativeNumber('timeoutSeconds', options.timeoutSeconds, 10),
    drainTimeoutMs: nonNegativeNumber('drainTimeoutMs', options.drainTimeoutMs, 10_000),
    ackOnFailed: options.ackOnFailed !== false,
    gapTimeoutMs: nonNegativeNumber('gapTimeoutMs', options.gapTimeoutMs, GAP_TIMEOUT_DEFAULT_MS),
  };
}

/** Validates idle-backoff options now, before any request; each partition builds its own. */
function checkIdle(options: IdleBackoffOptions | undefined): IdleBackoffOptions | undefined {
  new IdleBackoff(options);
  return options;
}

/** Calls a user callback that must not break the loop (reporting hooks). */
function safely(fn: (() => void) | undefined): void {
  if (!fn) return;
  try {
    const result = fn() as unknown;
    if (result && typeof (result as Promise<unknown>).catch === 'function') (result as Promise<unknown>).catch(() => {});
  } catch {
    /* a throwing reporter must not stop the worker */
  }
}

const DRAINED: unique symbol = Symbol('drained');


/**
 * Runs until `stopSignal` aborts (then drains and resolves) or a permanent error occurs (then
 * drains and rejects with it).
 */
export async function runEngine<TItem>(runtime: WasmRuntime, options: EngineOptions, hooks: EngineHooks<TItem>): Promise<void> {
  if (typeof options !== 'object' || options === null) throw invalidOption('options object required');
  const s = settingsOf(options);
  const stopSignal = options.stopSignal;
  if (stopSignal !== undefined && !(stopSignal instanceof AbortSignal)) throw invalidOption('stopSignal must be an AbortSignal');

  // Validate start with the wasm core's rules before the first request.
  let start: WireStart;
  if (isInternalClient(s.client)) {
    start = await s.client.normalizeStart(options.start);
  } else {
    await runtime.ready();
    try {
      start = runtime.bindings.normalizeStart(options.start === undefined ? 'latest' : options.start);
    } catch (error) {
      throw toConsumerError(error, 'permanent');
    }
  }
  await runtime.ready();
  const bindings = runtime.bindings;

  // `halt` stops fetching and sleeping at once; `drain` fires drainTimeoutMs later and
  // bounds how long a running handler may still take.
  const halt = new AbortController();
  const drain = new AbortController();
  let drainTimer: ReturnType<typeof setTimeout> | undefined;
  let fatal: KalamConsumerError | undefined;
  const stop = (): void => {
    if (halt.signal.aborted) return;
    halt.abort();
    drainTimer = setTimeout(() => drain.abort(), s.drainTimeoutMs);
  };
  const onStopSignal = (): void => stop();
  if (stopSignal?.aborted) return;
  stopSignal?.addEventListener('abort', onStopSignal, { once: true });

  const report = (info: EngineErrorInfo<TItem>): void => safely(hooks.onError && (() => hooks.onError?.(info)));

  async function runPartition(partition: number): Promise<void> {
    const tracker = new CommitTracker();
    const sequencer = new OffsetSequencer<ConsumerMessage<unknown>>(tracker, s.gapTimeoutMs);
    const backoff = newBackoff(bindings, s.connection);
    const idle = new IdleBackoff(s.idle);
    const gapPoll = new IdleBackoff({ initialMs: Math.min(s.idle?.initialMs ?? 10, GAP_POLL_MAX_MS), maxMs: Math.max(s.idle?.maxMs ?? 0, GAP_POLL_MAX_MS) });
    const internal = isInternalClient(s.client) ? s.client : undefined;

    const connectionReport = (phase: ErrorPhase) => (error: KalamConsumerError, delayMs: number) =>
      report({ error, phase, partitionId: partition, retryInMs: delayMs });

    /** Commits the highest contiguous finished offset; retried like a poll while running. */
    const commit = async (): Promise<void> => {
      const upto = tracker.committable();
      if (upto === undefined || upto <= tracker.committed) return;
      if (halt.signal.aborted) return finalCommit();
      const result = await withConnectionRetry(
        backoff,
        halt.signal,
        // Not aborted by stop: an ack already on the wire should land, or the finished work
        // would be delivered again. The drain deadline still bounds it.
        () => s.client.ack(s.topic, s.groupId, partition, upto, { signal: drain.signal }),
        connectionReport('commit'),
      );
      if (result === STOPPED) return finalCommit();
      tracker.committedUpTo(upto);
    };

    /** After stop: one bounded attempt, not tied to the (aborted) stop signal. */
    const finalCommit = async (): Promise<void> => {
      const upto = tracker.committable();
      if (upto === undefined || upto <= tracker.committed) return;
      try {
        await s.client.ack(s.topic, s.groupId, partition, upto, { signal: AbortSignal.timeout(FINAL_COMMIT_TIMEOUT_MS) });
        tracker.committedUpTo(upto);
      } catch (error) {
        report({ error: toConsumerError(error), phase: 'commit', partitionId: partition, offset: upto });
      }
    };

    /**
     * Runs a handler-side promise; after stop it may only take until the drain deadline.
     * Returns DRAINED when it was abandoned.
     */
    const bounded = <R>(work: Promise<R>): Promise<{ ok: true; value: R } | { ok: false; error: unknown } | typeof DRAINED> =>
      new Promise((resolve) => {
        // A listener per call that is removed again: a long-lived promise raced against every
        // handler would keep one reaction per message alive for the worker's lifetime.
        const onDrain = (): void => resolve(DRAINED);
        if (drain.signal.aborted) return resolve(DRAINED);
        drain.signal.addEventListener('abort', onDrain, { once: true });
        work.then(
          (value) => {
            drain.signal.removeEventListener('abort', onDrain);
            resolve({ ok: true, value });
          },
          (error: unknown) => {
            drain.signal.removeEventListener('abort', onDrain);
            resolve({ ok: false, error });
          },
        );
      });

    /** Handles one message until it is finished (or the worker stops). Returns false on stop. */
    const processMessage = async (message: ConsumerMessage<unknown>): Promise<boolean> => {
      const offset = message.offset;
      const runKey = `${s.name}:${s.topic}:${partition}:${offset}`;
      let prepared: ReturnType<EngineHooks<TItem>['prepare']>;
      try {
        prepared = hooks.prepare(message, bindings);
      } catch (error) {
        throw toConsumerError(error, 'permanent');
      }
      if (prepared.skip) {
        tracker.finish(offset);
        return true;
      }
      const item = prepared.item;
      let earlyAcked = false;

      const context = (attempt: number): BaseContext => ({
        name: s.name,
        runKey,
        attempt,
        maxAttempts: s.retry.maxAttempts,
        sql: (sql, params) => s.client.query(sql, params),
        queryOne: (sql, params) => s.client.queryOne(sql, params),
        queryAll: (sql, params) => s.client.queryAll(sql, params),
        ack: async () => {
          // An early commit request: this message is done as far as the handler is concerned.
          earlyAcked = true;
          tracker.finish(offset);
          await commit();
        },
      });

      let pause = s.retry.initialBackoffMs;
      for (;;) {
        // One round of attempts (or, for an invalid message, none).
        let lastError: unknown = prepared.error;
        let attempt = 1;
        if (!prepared.error) {
          const retry = new bindings.MessageRetry(s.retry);
          try {
            for (;;) {
              if (halt.signal.aborted) return false;
              const outcome = await bounded(hooks.invoke(context(attempt), item));
              if (outcome === DRAINED) return false;
              if (outcome.ok) {
                tracker.finish(offset);
                return true;
              }
              lastError = outcome.error;
              if (earlyAcked) {
                // Already committed at the handler's request: report, never run it again.
                report({ error: lastError, phase: 'handler', partitionId: partition, offset, runKey, item });
                tracker.finish(offset);
                return true;
              }
              let retryable: boolean;
              try {
                retryable = s.shouldRetry(lastError, attempt) !== false;
              } catch {
                retryable = false;
              }
              const decision = retry.onFailure(retryable, Math.random());
              if (decision.action === 'give_up') break;
              const info: EngineRetryInfo<TItem> = {
                error: lastError,
                attempt,
                maxAttempts: s.retry.maxAttempts,
                backoffMs: decision.delayMs,
                runKey,
                partitionId: partition,
                offset,
                item,
              };
              safely(hooks.onRetry && (() => hooks.onRetry?.(info)));
              await sleep(decision.delayMs, halt.signal);
              attempt += 1;
            }
          } finally {
            retry.free();
          }
        }

        if (hooks.failed) {
          if (halt.signal.aborted) return false;
          const outcome = await bounded(hooks.failed(context(attempt), item, lastError));
          if (outcome === DRAINED) return false;
          if (outcome.ok) {
            // The dead-letter hook returned: the message may be committed (ackOnFailed) or
            // at least committed past by later messages.
            tracker.finish(offset, { ack: s.ackOnFailed });
            return true;
          }
          report({ error: outcome.error, phase: 'failed', partitionId: partition, offset, runKey, item });
        } else {
          report({ error: lastError, phase: prepared.error ? 'invalid' : 'handler', partitionId: partition, offset, runKey, item });
        }
        // Not committed past: pause (capped, growing) and try the same message again.
        await sleep(pause, halt.signal);
        if (halt.signal.aborted) return false;
        pause = Math.min(s.retry.maxBackoffMs, Math.max(1, pause * s.retry.multiplier));
      }
    };

    /** A `limit: 0` consume (see ClientInternals.probe), retried like a poll. */
    const probe = (at: WireStart): Promise<number | typeof STOPPED> =>
      withConnectionRetry(
        backoff,
        halt.signal,
        () => internal!.probe(s.topic, s.groupId, partition, at, halt.signal),
        connectionReport('connection'),
      );

    /**
     * Where this partition must start, learned as cheaply as the protocol allows. A `limit: 0`
     * probe answers committed + 1, or the configured start position when the group never
     * committed (§3.5); it claims nothing.
     *
     * - 'Latest': probed before the first fetch. It creates an unknown group exactly as a first
     *   consume would, and its answer is the one position a batch must start at or before: a
     *   first batch beyond it follows a claim whose answer we never got.
     * - 'Earliest' / an offset: a first batch that starts at (or below) that position cannot
     *   follow anything missing, so no probe is sent at all. A first batch beyond it may follow
     *   a lost answer or another worker's live claim (a handover), so the probe tells where the
     *   group really stands; the answer differs from the start position only when it is a
     *   committed offset, which also lets committed messages of a redelivered claim be skipped.
     * A client that is not ours cannot probe: the first batch then sets the start.
     */
    const learnBeforeFirstFetch = async (): Promise<boolean> => {
      if (!internal || start !== 'Latest') return true;
      const next = await probe(start);
      if (next === STOPPED) return false;
      tracker.expect(next);
      return true;
    };
    const learnFromFirstBatch = async (first: number): Promise<boolean> => {
      const position = start === 'Earliest' ? 0 : typeof start === 'object' ? start.Offset : undefined;
      if (!internal || position === undefined || first <= position) return true;
      const next = await probe(start);
      if (next === STOPPED) return false;
      tracker.expect(next);
      if (next !== position) tracker.committedUpTo(next - 1);
      return true;
    };

    /**
     * While a gap is open: another worker may have committed the missing range (a slow, not
     * a dead, previous owner), in which case it never comes back to us. Probing at our expected
     * offset answers committed + 1 when that moved, and our own offset otherwise.
     */
    const reprobe = async (): Promise<boolean> => {
      const expected = tracker.expected;
      if (!internal || expected === undefined) return true;
      const next = await probe({ Offset: expected });
      if (next === STOPPED) return false;
      if (next !== expected) tracker.committedUpTo(next - 1);
      return true;
    };

    /**
     * A redelivered batch made only of offsets already committed still holds a claim on the
     * server until an ack covers its end (§3.4); re-acking the committed offset (a no-op for
     * the stored offset) releases it instead of having it come back every visibility timeout.
     */
    const releaseClaim = async (): Promise<void> => {
      const upto = tracker.committed;
      await withConnectionRetry(
        backoff,
        halt.signal,
        () => s.client.ack(s.topic, s.groupId, partition, upto, { signal: drain.signal }),
        connectionReport('commit'),
      );
    };

    const reportGap = (gap: OffsetGap): void => {
      const error = new KalamConsumerError(
        `offsets ${gap.from}..${gap.to} of ${s.topic} partition ${partition} were claimed or expected but never delivered ` +
          `within ${s.gapTimeoutMs} ms (deleted messages, or a claim that never came back); continuing after them`,
        { code: 'OFFSET_GAP', kind: 'permanent' },
      );
      report({ error, phase: 'gap', partitionId: partition, offset: gap.from, gap });
    };

    try {
      await poll();
    } finally {
      // Also on a permanent error: what finished is committed before the worker gives up.
      await finalCommit();
    }

    async function poll(): Promise<void> {
      if (!(await learnBeforeFirstFetch())) return;
      let firstBatch = true;
      // The last fetch connected to what we expect while a gap was open: a redelivery is
      // under way, so poll again at once and with a full batch.
      let catchingUp = false;
      while (!halt.signal.aborted) {
        const waiting = sequencer.gap !== undefined && !catchingUp;
        if (waiting && !(await reprobe())) break;
        // While waiting for a claim to come back, each poll claims one message at most: it is
        // kept back (and released by our later ack), so the batch size only bounds memory.
        const limit: number = sequencer.gap !== undefined && !catchingUp ? 1 : s.batchSize;
        const expected: number | undefined = tracker.expected;
        const batch: ConsumeBatchResult<unknown> | typeof STOPPED = await withConnectionRetry(
          backoff,
          halt.signal,
          () =>
            s.client.consumeBatch<unknown>({
              topic: s.topic,
              group_id: s.groupId,
              // Matters only when the server forgot the group (restart) and it never committed.
              start: expected === undefined ? start : { Offset: expected },
              batch_size: limit,
              partition_id: partition,
              timeout_seconds: s.timeoutSeconds,
              signal: halt.signal,
            }),
          connectionReport('connection'),
        );
        if (batch === STOPPED) break;
        if (firstBatch && batch.messages.length > 0) {
          firstBatch = false;
          if (!(await learnFromFirstBatch(batch.messages.reduce((low, m) => Math.min(low, m.offset), Infinity)))) break;
        }
        const { ready, accepted, skipped } = sequencer.offer(batch.messages);
        skipped.forEach(reportGap);
        for (const message of ready) {
          if (halt.signal.aborted) break;
          if (!(await processMessage(message))) break;
        }
        await commit();
        if (halt.signal.aborted) break;
        if (ready.length === 0 && accepted && batch.messages.length > 0 && tracker.committed >= 0) {
          const last = batch.messages.reduce((high, m) => Math.max(high, m.offset), -1);
          if (last <= tracker.committed) await releaseClaim();
        }
        if (sequencer.gap !== undefined) {
          catchingUp = accepted && batch.messages.length > 0;
          if (!catchingUp) await sleep(gapPoll.next(), halt.signal);
        } else {
          catchingUp = false;
          gapPoll.reset();
          if (batch.messages.length === 0) await sleep(idle.next(), halt.signal);
          else idle.reset();
        }
      }
    }
  }

  const partitionRuns = s.partitions.map((partition) =>
    runPartition(partition).catch((error: unknown) => {
      // A permanent error in one partition stops them all; the first one is what we reject with.
      fatal ??= toConsumerError(error, 'permanent');
      stop();
    }),
  );
  try {
    await Promise.all(partitionRuns);
  } finally {
    stopSignal?.removeEventListener('abort', onStopSignal);
    if (drainTimer !== undefined) clearTimeout(drainTimer);
  }
  if (fatal) throw fatal;
}
