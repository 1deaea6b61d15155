import type { ClientInternals, ConsumerClient } from './client.js';
import { newBackoff, type ConnectionRetryOptions } from './connection.js';
import { KalamConsumerError, invalidOption } from './errors.js';
import { IdleBackoff, type IdleBackoffOptions } from './idle.js';
import { resolveLogger, type LoggerOption } from './logger.js';
import type { ConsumerMessage, StartPosition } from './messages.js';
import { GAP_TIMEOUT_DEFAULT_MS, type OffsetGap } from './sequencer.js';
import { nonBlank, nonNegativeInt, nonNegativeNumber, optionalFunction, positiveInt } from './validate.js';
import type { WasmRuntime } from './wasm-contract.js';
import { ConnectionWatch } from './worker/connection-watch.js';
import { safely } from './worker/handler-policy.js';
import { PartitionLoop, type MessagePolicy, type PartitionHandle } from './worker/partition-loop.js';
import { loopReporter } from './worker/reporter.js';
import { StopControl } from './worker/stop-control.js';

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
  /**
   * Called for every failure the loop handles on its own: a poll or ack that will be retried
   * (phase 'connection' / 'commit', with `retryInMs`), offsets given up (phase 'gap'), a final
   * ack that did not land. The loop goes on; errors it cannot handle reject `run()` instead.
   */
  on_error?: (info: LowLevelErrorInfo) => void;
  /** Where the loop logs (default the console; `false` for none). `{ debug, info, warn, error }`. */
  logger?: LoggerOption;
}

export interface LowLevelErrorInfo {
  error: KalamConsumerError;
  phase: 'connection' | 'commit' | 'gap';
  partitionId: number;
  retryInMs?: number;
  /** For a failed commit: the offset it was for; for a gap: its first offset. */
  offset?: number;
  gap?: OffsetGap;
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
  const gapTimeoutMs = nonNegativeNumber('gap_timeout_ms', options.gap_timeout_ms, GAP_TIMEOUT_DEFAULT_MS);
  const onGap = optionalFunction<NonNullable<ConsumerOptions['on_gap']>>('on_gap', options.on_gap);
  const onError = optionalFunction<NonNullable<ConsumerOptions['on_error']>>('on_error', options.on_error);
  const logger = resolveLogger(options.logger, `consumer ${topic}[${partition}] group ${group}`);
  new IdleBackoff(options.idle_backoff); // validates now rather than at run()

  let stopControl: StopControl | undefined;
  let running = false;

  async function run(handler: ConsumerHandler<T>): Promise<void> {
    if (typeof handler !== 'function') throw invalidOption('run() needs a handler function');
    if (running) throw invalidOption('this consumer is already running');
    running = true;
    // No drain deadline here: run() resolves after the running handler returns, as documented.
    const stop = new StopControl(Number.POSITIVE_INFINITY);
    stopControl = stop;
    try {
      const start = await client.normalizeStart(options.start);
      await runtime.ready();
      const watch = new ConnectionWatch(logger);
      const report = (info: LowLevelErrorInfo): void => {
        if (onError) safely(() => onError(info));
      };
      const loop = new PartitionLoop({
        client,
        topic,
        groupId: group,
        partition,
        start,
        batchSize,
        timeoutSeconds,
        gapTimeoutMs,
        idle: options.idle_backoff,
        backoff: newBackoff(runtime.bindings, options.connection_retry, 'connection_retry'),
        stop,
        reporter: loopReporter({ topic, logger, watch, report, onGap: onGap && ((error: KalamConsumerError, gap: OffsetGap) => safely(() => onGap(error, gap))) }),
      });
      await loop.run(manualPolicy(handler, autoAck));
    } finally {
      running = false;
      stop.dispose();
      if (stopControl === stop) stopControl = undefined;
    }
  }

  const stop = (): void => {
    stopControl?.stop();
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

/**
 * consumer().run's per-message policy: the handler's own `ctx.ack()` (an immediate ack of
 * that offset), or with auto_ack one ack per batch after every handler returned. A handler
 * that throws ends `run()` with its error, after what finished is committed.
 */
function manualPolicy<T>(handler: ConsumerHandler<T>, autoAck: boolean): MessagePolicy {
  return {
    async handle(ready: ConsumerMessage<unknown>[], partition: PartitionHandle): Promise<void> {
      const { tracker } = partition;
      for (const raw of ready) {
        if (partition.stop.halted) return;
        const message = raw as ConsumerMessage<T>;
        let acked = false;
        let acking: Promise<void> | undefined;
        const ack = (): Promise<void> => {
          if (acked) return Promise.resolve();
          // The flag flips only after the server confirmed, so a failed ack can be retried
          // (the old SDK flipped it first and never re-sent, docs/PROTOCOL.md §10.16).
          acking ??= partition
            .ackOffset(message.offset)
            .then(() => {
              acked = true;
            })
            .finally(() => {
              acking = undefined;
            });
          return acking;
        };
        await handler({ message, user: message.user, ack });
        if (autoAck) tracker.finish(message.offset);
        // Without auto_ack an unacked message stays the handler's business: forgetting it
        // lets a redelivery (after the claim expired) reach the handler again.
        else if (!acked) tracker.forget(message.offset);
      }
    },
  };
}
