import type { ClientInternals, ConsumerClient } from './client.js';
import { CommitTracker } from './commit-tracker.js';
import { STOPPED, connectionPolicy, newBackoff, withConnectionRetry, type ConnectionRetryOptions } from './connection.js';
import { KalamConsumerError, invalidOption } from './errors.js';
import { IdleBackoff, type IdleBackoffOptions } from './idle.js';
import type { ConsumeBatchResult, ConsumerMessage, StartPosition } from './messages.js';
import { GAP_TIMEOUT_DEFAULT_MS, OffsetSequencer, type OffsetGap } from './sequencer.js';
import { sleep } from './timing.js';
import { nonBlank, nonNegativeInt, nonNegativeNumber, positiveInt } from './validate.js';
import type { WasmRuntime, WireStart } from './wasm-contract.js';

export interface ConsumerOptions {
  topic: string;
  group_id: string;
  /** Used only while the group has no committed offset; default `'latest'`. */
  start?: StartPosition;
  /** Messages per request, default 20. */
  batch_size?: number;
  /** Default 0. */
  partition_id?: number;
  /**
   * Default false: the handler calls `ctx.ack()`. When true, the consumer commits each batch
   * with one ack once every handler of the batch has returned.
   */
  auto_ack?: boolean;
  /** Sent with every poll, default 10. */
  timeout_seconds?: number;
  /** Sleeps between empty polls; default `{ initialMs: 10, maxMs: 200 }`. */
  idle_backoff?: IdleBackoffOptions;
  /** Retries of failed polls and acks; default forever with full jitter, 250 ms to 30 s. */
  connection_retry?: ConnectionRetryOptions;
  /**
   * How long to wait for offsets that were claimed but never delivered here (a lost consume
   * answer, another consumer's claim) before giving them up; default 180000 ms (three times
   * the server's default visibility timeout).
   */
  gap_timeout_ms?: number;
  /** Called with an OFFSET_GAP error (its range in `gap`) when such offsets are given up. */
  on_gap?: (error: KalamConsumerError, gap: OffsetGap) => void;
}

export interface ConsumerContext<T = Record<string, unknown>> {
  message: ConsumerMessage<T>;
  /** The producing user, when the message has one. */
  user: string | undefined;
  /** Commits this message (and, ack being cumulative, everything before it). Idempotent. */
  ack(): Promise<void>;
}

export type ConsumerHandler<T> = (ctx: ConsumerContext<T>) => void | Promise<void>;

export interface ConsumerHandle<T = Record<string, unknown>> {
  /**
   * Polls and calls `handler` for each message in offset order until `stop()`. Rejects when
   * the handler throws (after committing what finished, with auto_ack) or on a permanent error.
   */
  run(handler: ConsumerHandler<T>): Promise<void>;
  /** Stops polling at once; `run()` resolves after the running handler returns. */
  stop(): void;
  readonly running: boolean;
  /** Same as stop(), for `using handle = client.consumer(...)`. */
  [Symbol.dispose](): void;
}

const FINAL_ACK_TIMEOUT_MS = 5_000;
/** Cap of the pause between polls while waiting for a missing claim to come back (see engine.ts). */
const GAP_POLL_MAX_MS = 1_000;

export function createLowLevelConsumer<T>(
  client: ConsumerClient & ClientInternals,
  runtime: WasmRuntime,
  options: ConsumerOptions,
): ConsumerHandle<T> {
  if (typeof options !== 'object' || options === null) throw invalidOption('consumer() needs an options object');
  const topic = nonBlank('topic', options.topic);
  const group = nonBlank('group_id', options.group_id);
  const batchSize = positiveInt('batch_size', options.batch_size, 20);
  const partition = nonNegativeInt('partition_id', options.partition_id, 0);
  const timeoutSeconds = nonNegativeNumber('timeout_seconds', options.timeout_seconds, 10);
  const autoAck = options.auto_ack === true;
  const policy = connectionPolicy(options.connection_retry);
  const gapTimeoutMs = nonNegativeNumber('gap_timeout_ms', options.gap_timeout_ms, GAP_TIMEOUT_DEFAULT_MS);
  if (options.on_gap !== undefined && typeof options.on_gap !== 'function') throw invalidOption('on_gap must be a function');
  const onGap = options.on_gap;
  new IdleBackoff(options.idle_backoff); // validates now rather than at run()

  let controller: AbortController | undefined;
  let running = false;

  async function run(handler: ConsumerHandler<T>): Promise<void> {
    if (typeof handler !== 'function') throw invalidOption('run() needs a handler function');
    if (running) throw invalidOption('this consumer is already running');
    running = true;
    const stop = new AbortController();
    controller = stop;
    const signal = stop.signal;
    const tracker = new CommitTracker();
    // Same ordering rule as runConsumer (engine.ts, sequencer.ts): a batch that starts beyond
    // the offset we expect follows a claim we never received; handing it out would let the
    // handler's cumulative ack commit that claim unprocessed.
    const sequencer = new OffsetSequencer<ConsumerMessage<T>>(tracker, gapTimeoutMs);
    const idle = new IdleBackoff(options.idle_backoff);
    const gapPoll = new IdleBackoff({ initialMs: 10, maxMs: GAP_POLL_MAX_MS });
    try {
      const start: WireStart = await client.normalizeStart(options.start);
      await runtime.ready();
      const backoff = newBackoff(runtime.bindings, policy);

      const probe = (at: WireStart): Promise<number | typeof STOPPED> =>
        withConnectionRetry(backoff, signal, () => client.probe(topic, group, partition, at, signal), () => {});

      const commit = async (finalCommit: boolean): Promise<void> => {
        const upto = tracker.committable();
        if (upto === undefined || upto <= tracker.committed) return;
        if (finalCommit) {
          // After stop: one bounded attempt; an unacked batch is simply delivered again later.
          try {
            await client.ack(topic, group, partition, upto, { signal: AbortSignal.timeout(FINAL_ACK_TIMEOUT_MS) });
            tracker.committedUpTo(upto);
          } catch {
            /* redelivered after the visibility timeout: at-least-once */
          }
          return;
        }
        // The ack itself is not tied to stop(): one already on the wire should land.
        const result = await withConnectionRetry(backoff, signal, () => client.ack(topic, group, partition, upto), () => {});
        if (result !== STOPPED) tracker.committedUpTo(upto);
      };

      // Where the group stands: the same rules as runConsumer (learnBeforeFirstFetch and
      // learnFromFirstBatch in engine.ts): a probe before the first fetch only for 'Latest',
      // and after it only when the first batch starts beyond the start position.
      if (start === 'Latest') {
        const next = await probe(start);
        if (next === STOPPED) return;
        tracker.expect(next);
      }
      let firstBatch = true;
      const position = start === 'Earliest' ? 0 : typeof start === 'object' ? start.Offset : undefined;

      let catchingUp = false;
      while (!signal.aborted) {
        const waiting: boolean = sequencer.gap !== undefined && !catchingUp;
        const expected: number | undefined = tracker.expected;
        if (waiting && expected !== undefined) {
          // The missing range may have been committed by another consumer meanwhile.
          const next = await probe({ Offset: expected });
          if (next === STOPPED) break;
          if (next !== expected) tracker.committedUpTo(next - 1);
        }
        const from: number | undefined = tracker.expected;
        const batch: ConsumeBatchResult<T> | typeof STOPPED = await withConnectionRetry(
          backoff,
          signal,
          (): Promise<ConsumeBatchResult<T>> =>
            client.consumeBatch<T>({
              topic,
              group_id: group,
              // Matters only when the server forgot the group (restart) and it never committed.
              start: from === undefined ? start : { Offset: from },
              batch_size: waiting ? 1 : batchSize,
              partition_id: partition,
              timeout_seconds: timeoutSeconds,
              signal,
            }),
          () => {},
        );
        if (batch === STOPPED) break;
        if (firstBatch && batch.messages.length > 0) {
          firstBatch = false;
          const first = batch.messages.reduce((low, m) => Math.min(low, m.offset), Infinity);
          if (position !== undefined && first > position) {
            const next = await probe(start);
            if (next === STOPPED) break;
            tracker.expect(next);
            if (next !== position) tracker.committedUpTo(next - 1);
          }
        }
        const { ready, accepted, skipped } = sequencer.offer(batch.messages);
        for (const gap of skipped) {
          const error = new KalamConsumerError(
            `offsets ${gap.from}..${gap.to} of ${topic} partition ${partition} were never delivered within ${gapTimeoutMs} ms; continuing after them`,
            { code: 'OFFSET_GAP', kind: 'permanent' },
          );
          try {
            onGap?.(error, gap);
          } catch {
            /* a throwing reporter must not stop the consumer */
          }
        }
        for (const message of ready) {
          if (signal.aborted) break;
          let acked = false;
          let acking: Promise<void> | undefined;
          const ack = (): Promise<void> => {
            if (acked) return Promise.resolve();
            // The flag flips only after the server confirmed, so a failed ack can be retried
            // (the old SDK flipped it first and never re-sent, docs/PROTOCOL.md §10.16).
            acking ??= client
              .ack(topic, group, partition, message.offset)
              .then(() => {
                acked = true;
                tracker.committedUpTo(message.offset);
              })
              .finally(() => {
                acking = undefined;
              });
            return acking;
          };
          try {
            await handler({ message, user: message.user, ack });
          } catch (error) {
            if (autoAck) await commit(true);
            throw error;
          }
          if (autoAck) tracker.finish(message.offset);
          // Without auto_ack an unacked message stays the handler's business: forgetting it
          // lets a redelivery (after the claim expired) reach the handler again.
          else if (!acked) tracker.forget(message.offset);
        }
        if (autoAck && !signal.aborted) await commit(false);
        if (sequencer.gap !== undefined) {
          catchingUp = accepted && batch.messages.length > 0;
          if (!catchingUp) await sleep(gapPoll.next(), signal);
        } else {
          catchingUp = false;
          gapPoll.reset();
          if (batch.messages.length === 0) await sleep(idle.next(), signal);
          else idle.reset();
        }
      }
      if (autoAck) await commit(true);
    } finally {
      running = false;
      if (controller === stop) controller = undefined;
    }
  }

  const stop = (): void => {
    controller?.abort();
  };
  return {
    run,
    stop,
    get running(): boolean {
      return running;
    },
    [Symbol.dispose]: stop,
  };
}
