import type { ClientInternals, ConsumerClient } from './client.js';
import { CommitTracker } from './commit-tracker.js';
import { STOPPED, connectionPolicy, newBackoff, withConnectionRetry, type ConnectionRetryOptions } from './connection.js';
import { invalidOption } from './errors.js';
import { IdleBackoff, type IdleBackoffOptions } from './idle.js';
import type { ConsumerMessage, StartPosition } from './messages.js';
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
    const idle = new IdleBackoff(options.idle_backoff);
    try {
      let start: WireStart = await client.normalizeStart(options.start);
      await runtime.ready();
      const backoff = newBackoff(runtime.bindings, policy);
      let firstSeen: number | undefined;

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

      while (!signal.aborted) {
        const batch = await withConnectionRetry(
          backoff,
          signal,
          () => client.consumeBatch<T>({ topic, group_id: group, start, batch_size: batchSize, partition_id: partition, timeout_seconds: timeoutSeconds, signal }),
          () => {},
        );
        if (batch === STOPPED) break;
        const ordered = [...batch.messages].sort((a, b) => a.offset - b.offset);
        // Whole claims are re-delivered after the visibility timeout (§3.4): skip what this
        // consumer already committed (and, with auto_ack, what it is still working on).
        const fresh = ordered.filter((m) => (autoAck ? !tracker.seen(m.offset) : m.offset > tracker.committed));
        if (autoAck) tracker.track(fresh.map((m) => m.offset));
        for (const message of fresh) {
          if (signal.aborted) break;
          firstSeen ??= message.offset;
          let acked = false;
          let acking: Promise<void> | undefined;
          const ack = (): Promise<void> => {
            if (acked) return Promise.resolve();
            // The flag flips only after the server confirmed, so a failed ack can be retried
            // (the old SDK flipped it first and never re-sent, PROTOCOL.md §10.16).
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
        }
        if (autoAck && !signal.aborted) await commit(false);
        // Resume point for the next poll: only matters when the server forgot the group's
        // cursor (a restart) and the group has no committed offset yet.
        if (tracker.committed >= 0) start = { Offset: tracker.committed + 1 };
        else if (firstSeen !== undefined) start = { Offset: firstSeen };
        else if (batch.messages.length === 0) start = { Offset: batch.next_offset };
        if (batch.messages.length === 0) await sleep(idle.next(), signal);
        else idle.reset();
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
