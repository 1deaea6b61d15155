import type { ConsumerClient } from '../client.js';
import { newBackoff, definedFields, type ConnectionRetryOptions } from '../connection.js';
import { invalidOption, toConsumerError } from '../errors.js';
import { IdleBackoff, type IdleBackoffOptions } from '../idle.js';
import { resolveLogger, type Logger, type LoggerOption } from '../logger.js';
import type { StartPosition } from '../messages.js';
import { GAP_TIMEOUT_DEFAULT_MS } from '../sequencer.js';
import { nonBlank, nonNegativeInt, nonNegativeNumber, positiveInt } from '../validate.js';
import type { MessageRetryPolicy, WasmBindings } from '../wasm-contract.js';
import { resolveFleetOptions, type FleetOptions, type ResolvedFleetOptions } from '../fleet/index.js';
import { telemetrySettings, type Telemetry, type TelemetryOptions } from './telemetry.js';
import type { RetryOptions } from './types.js';

// The one place that reads and checks the options of runConsumer and runAgent (HACKING.md,
// "Who owns which rule"). Retry and connection-retry values are checked by the core crate
// (through the wasm constructors), so both get the same rules and the same words.

/** Options shared by runConsumer and runAgent. */
export interface EngineOptions {
  client: ConsumerClient;
  name: string;
  topic: string;
  groupId: string;
  /** Where a group without a committed offset starts: 'earliest', 'latest' (default), n, { offset: n }. */
  start?: StartPosition;
  /** Messages per poll and partition (default 20). */
  batchSize?: number;
  /**
   * Partitions to consume. Default: every partition of the topic, read from `system.topics`
   * (a `dba`/`system` account); a `service` account may not read it and must pass
   * `partitions` or `partitionCount`.
   */
  partitions?: number[];
  /** The topic's partition count: consume partitions 0..n-1 (for accounts that may not read system.topics). */
  partitionCount?: number;
  retry?: RetryOptions;
  connectionRetry?: ConnectionRetryOptions;
  idleBackoff?: IdleBackoffOptions;
  /** Sent with every poll (default 10); a long-polling server may wait that long. */
  timeoutSeconds?: number;
  /** Aborting it stops fetching at once, drains the running handlers, commits, then resolves. */
  stopSignal?: AbortSignal;
  /** How long running handlers may still take after stop (default 10000 ms). */
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
  /**
   * How long one handler attempt may take (default 60000 ms, the server's default visibility
   * timeout; `Infinity` for no limit). Past it, `ctx.signal` is aborted and the attempt counts
   * as failed (retried, then dead-lettered). A handler that ignores its signal keeps running
   * in the background while the next attempt starts.
   */
  handlerTimeoutMs?: number;
  /**
   * Handlers running at once per partition (default 1). Never two with the same `change.key`,
   * and one key's messages in offset order; messages without a key run one at a time among
   * themselves. The commit is the highest offset below which everything finished. Handlers
   * run side by side within a fetched batch, so a poll fetches max(batchSize, concurrency).
   */
  concurrency?: number;
  /** Where the worker logs; default the console, `false` for none. `{ debug, info, warn, error }`. */
  logger?: LoggerOption;
  /**
   * Share the topic's partitions with every other worker that runs the same config on the same
   * group (`true`, or options: lease table, lease time, worker id). Leases live in a KalamDB
   * table (docs/fleet.md); each partition is handled by one worker at a time.
   */
  fleet?: boolean | FleetOptions;
  /**
   * The stall watchdog: a partition that has work (fetched messages not finished, messages held
   * back, or a last poll that came back full) and makes no progress for this long gets one
   * warning, and an info line when it moves again. Default 60000 ms; `Infinity` turns it off.
   */
  stallTimeoutMs?: number;
  /**
   * OpenTelemetry, optional: your `tracer` (spans per message, poll and ack) and `meter`
   * (durations and counters). The package does not depend on `@opentelemetry/api`.
   */
  telemetry?: TelemetryOptions;
}

export const HANDLER_TIMEOUT_DEFAULT_MS = 60_000;
export const STALL_TIMEOUT_DEFAULT_MS = 60_000;
const BATCH_SIZE_DEFAULT = 20;
const TIMEOUT_SECONDS_DEFAULT = 10;
const DRAIN_TIMEOUT_DEFAULT_MS = 10_000;

export interface WorkerSettings {
  client: ConsumerClient;
  name: string;
  topic: string;
  groupId: string;
  batchSize: number;
  /** As given (checked), or undefined: learned from the server. */
  partitions: number[] | undefined;
  partitionCount: number | undefined;
  retry: MessageRetryPolicy;
  maxAttempts: number;
  shouldRetry: (error: unknown, attempt: number) => boolean;
  connectionRetry: ConnectionRetryOptions | undefined;
  idle: IdleBackoffOptions | undefined;
  timeoutSeconds: number;
  drainTimeoutMs: number;
  ackOnFailed: boolean;
  gapTimeoutMs: number;
  handlerTimeoutMs: number;
  concurrency: number;
  logger: Logger;
  stopSignal: AbortSignal | undefined;
  fleet: ResolvedFleetOptions | undefined;
  stallTimeoutMs: number;
  telemetry: Telemetry | undefined;
}

/** Reads and checks every option before any request; throws INVALID_OPTION naming the option. */
export function workerSettings(options: EngineOptions, bindings: WasmBindings): WorkerSettings {
  const client = options.client;
  if (!client || typeof client.consumeBatch !== 'function' || typeof client.ack !== 'function') {
    throw invalidOption('client must be a consumer client from createConsumerClient()');
  }
  const name = nonBlank('name', options.name);
  const stopSignal = options.stopSignal;
  if (stopSignal !== undefined && !(stopSignal instanceof AbortSignal)) throw invalidOption('stopSignal must be an AbortSignal');
  const { retry, maxAttempts, shouldRetry } = retrySettings(options.retry, bindings);
  // Checked now by building one (each partition builds its own).
  newBackoff(bindings, options.connectionRetry).free();
  new IdleBackoff(options.idleBackoff);
  const handlerTimeoutMs = options.handlerTimeoutMs ?? HANDLER_TIMEOUT_DEFAULT_MS;
  if (typeof handlerTimeoutMs !== 'number' || !(handlerTimeoutMs > 0)) {
    throw invalidOption(`handlerTimeoutMs must be a number of ms > 0 (or Infinity for no limit), got ${String(options.handlerTimeoutMs)}`);
  }
  const stallTimeoutMs = options.stallTimeoutMs ?? STALL_TIMEOUT_DEFAULT_MS;
  if (typeof stallTimeoutMs !== 'number' || !(stallTimeoutMs > 0)) {
    throw invalidOption(`stallTimeoutMs must be a number of ms > 0 (or Infinity for no watchdog), got ${String(options.stallTimeoutMs)}`);
  }
  return {
    client,
    name,
    topic: nonBlank('topic', options.topic),
    groupId: nonBlank('groupId', options.groupId),
    batchSize: positiveInt('batchSize', options.batchSize, BATCH_SIZE_DEFAULT),
    ...partitionSettings(options),
    retry,
    maxAttempts,
    shouldRetry,
    connectionRetry: options.connectionRetry,
    idle: options.idleBackoff,
    timeoutSeconds: nonNegativeNumber('timeoutSeconds', options.timeoutSeconds, TIMEOUT_SECONDS_DEFAULT),
    drainTimeoutMs: nonNegativeNumber('drainTimeoutMs', options.drainTimeoutMs, DRAIN_TIMEOUT_DEFAULT_MS),
    ackOnFailed: options.ackOnFailed !== false,
    gapTimeoutMs: nonNegativeNumber('gapTimeoutMs', options.gapTimeoutMs, GAP_TIMEOUT_DEFAULT_MS),
    handlerTimeoutMs,
    concurrency: positiveInt('concurrency', options.concurrency, 1),
    logger: resolveLogger(options.logger, name),
    stopSignal,
    fleet: fleetSettings(options),
    stallTimeoutMs,
    telemetry: telemetrySettings(options.telemetry),
  };
}

function partitionSettings(options: EngineOptions): { partitions: number[] | undefined; partitionCount: number | undefined } {
  const { partitions, partitionCount } = options;
  if (partitions !== undefined && partitionCount !== undefined) throw invalidOption('pass either partitions or partitionCount, not both');
  if (partitionCount !== undefined) return { partitions: undefined, partitionCount: positiveInt('partitionCount', partitionCount, 1) };
  if (partitions === undefined) return { partitions: undefined, partitionCount: undefined };
  if (!Array.isArray(partitions) || partitions.length === 0) throw invalidOption('partitions must be a non-empty array');
  partitions.forEach((p, i) => nonNegativeInt(`partitions[${i}]`, p, 0));
  if (new Set(partitions).size !== partitions.length) throw invalidOption('partitions must not repeat');
  return { partitions: [...partitions], partitionCount: undefined };
}

function retrySettings(options: RetryOptions | undefined, bindings: WasmBindings) {
  if (options !== undefined && (typeof options !== 'object' || options === null)) throw invalidOption('retry must be an object');
  const { shouldRetry, ...numbers } = options ?? {};
  if (shouldRetry !== undefined && typeof shouldRetry !== 'function') throw invalidOption('retry.shouldRetry must be a function');
  const retry = (definedFields(numbers) ?? {}) as MessageRetryPolicy;
  let maxAttempts: number;
  try {
    // The core checks the values and knows the defaults; one throwaway state tells us both.
    const probe = new bindings.MessageRetry(retry);
    maxAttempts = probe.maxAttempts;
    probe.free();
  } catch (error) {
    throw toConsumerError(error, 'permanent');
  }
  return { retry, maxAttempts, shouldRetry: shouldRetry ?? (() => true) };
}

function fleetSettings(options: EngineOptions): ResolvedFleetOptions | undefined {
  const fleet = options.fleet;
  if (fleet === undefined || fleet === false) return undefined;
  if (fleet !== true && (typeof fleet !== 'object' || fleet === null)) throw invalidOption('fleet must be true, false or an options object');
  return resolveFleetOptions(options.topic, fleet === true ? {} : fleet);
}
