import { runEngine, startWorker, type BaseContext, type EngineErrorInfo, type EngineOptions, type EngineRetryInfo, type ErrorPhase, type WorkerRun } from './engine.js';
import { KalamConsumerError, invalidOption } from './errors.js';
import { unwrapLegacyRow } from './legacy-row.js';
import type { OffsetGap } from './sequencer.js';
import { checkAdapter, llmHelpers, type LlmAdapter, type LlmHelpers } from './llm.js';
import { TopicOp, type ConsumerMessage } from './messages.js';
import { optionalFunction } from './validate.js';
import type { WasmRuntime } from './wasm-contract.js';
import type { WorkerMonitor } from './worker/stats.js';

/** A topic message without its payload: what `change.message` holds. */
export type MessageMetadata = Omit<ConsumerMessage<unknown>, 'payload' | 'value' | 'decode_error'>;

/** One row change, as `onChange` receives it. */
export interface Change<TRow = Record<string, unknown>, TUser extends string | undefined = string> {
  /** The row (a legacy `{ row: {...} }` envelope is unwrapped). */
  data: TRow;
  /**
   * The user whose write produced the change: always a string by default. With
   * `requireUser: false` (SHARED-table sources) it is `undefined` for messages without one.
   */
  user: TUser;
  op: TopicOp;
  key: string | null;
  timestampMs: number;
  partitionId: number;
  offset: number;
  topic: string;
  groupId: string;
  /** The message's metadata, without `payload` / `value`. */
  message: MessageMetadata;
}

/** What the handler gets besides the change: identity, retry state, SQL, commit, LLM. */
export interface ConsumerContext extends BaseContext {
  /** Present only when an `llm` adapter was given. */
  llm?: LlmHelpers;
}

export interface RetryInfo<TRow = Record<string, unknown>> {
  error: unknown;
  /** The attempt that failed (1-based). */
  attempt: number;
  maxAttempts: number;
  /** Wait before the next attempt. */
  backoffMs: number;
  runKey: string;
  partitionId: number;
  offset: number;
  change: Change<TRow>;
}

export interface ErrorInfo<TRow = Record<string, unknown>> {
  error: unknown;
  /**
   * `handler`: a message failed all attempts (no onFailed) and is retried in place;
   * `invalid`: undecodable payload or missing metadata (no onFailed); `failed`: onFailed threw;
   * `connection` / `commit`: a poll or ack failed and is retried (see retryInMs);
   * `gap`: offsets claimed or expected but never delivered within gapTimeoutMs (code
   * OFFSET_GAP, range in `gap`) were given up and the partition goes on after them.
   */
  phase: ErrorPhase;
  partitionId: number;
  offset?: number;
  runKey?: string;
  change?: Change<TRow>;
  retryInMs?: number;
  /** For phase 'gap': the inclusive range that was given up. */
  gap?: OffsetGap;
}

export interface RunConsumerOptions<TRow = Record<string, unknown>> extends EngineOptions {
  onChange: (ctx: ConsumerContext, change: Change<TRow>) => void | Promise<void>;
  /**
   * Default true: a message without a `user` (a SHARED-table source, or a producer that no
   * longer exists, docs/PROTOCOL.md §3.2) is invalid metadata. Use the `runConsumer` overload
   * with `requireUser: false` to receive such messages with `change.user` undefined.
   */
  requireUser?: true;
  /** Turns a message into `change.data`; default: the payload with `{ row }` unwrapped. Throwing makes it an invalid message. */
  changeParser?: (message: ConsumerMessage<unknown>) => TRow;
  /** Dead-letter hook, after the last attempt (or at once for an invalid message). */
  onFailed?: (ctx: ConsumerContext, change: Change<TRow>, error: unknown) => void | Promise<void>;
  onRetry?: (info: RetryInfo<TRow>) => void;
  onError?: (info: ErrorInfo<TRow>) => void;
  llm?: LlmAdapter;
  systemPrompt?: string;
}

/**
 * The message without payload, value and decode_error, keys in the message's order. Two
 * literals, like assemble.js: `user` added afterwards would go to a second allocation per
 * message (the literal has room for exactly its own keys) and land after `op`.
 */
function metadataOf(message: ConsumerMessage<unknown>): MessageMetadata {
  return message.user === undefined
    ? {
        topic: message.topic,
        group_id: message.group_id,
        partition_id: message.partition_id,
        offset: message.offset,
        key: message.key,
        timestamp_ms: message.timestamp_ms,
        op: message.op,
      }
    : {
        topic: message.topic,
        group_id: message.group_id,
        partition_id: message.partition_id,
        offset: message.offset,
        key: message.key,
        timestamp_ms: message.timestamp_ms,
        user: message.user,
        op: message.op,
      };
}

const KNOWN_OPS: ReadonlySet<string> = new Set(Object.values(TopicOp));

/** `topic[partition]@offset`, for error texts (formatted only on those paths). */
function whereOf(message: ConsumerMessage<unknown>): string {
  return `${message.topic}[${message.partition_id}]@${message.offset}`;
}

/** Builds the change, or the reason the message cannot be handed over. */
export function prepareChange<TRow>(
  message: ConsumerMessage<unknown>,
  groupId: string,
  parser: ((message: ConsumerMessage<unknown>) => TRow) | undefined,
  requireUser: boolean,
): { item: Change<TRow, string | undefined>; error?: KalamConsumerError } {
  let error: KalamConsumerError | undefined = message.decode_error;
  let data: TRow = undefined as TRow;
  if (!error) {
    try {
      data = parser ? parser(message) : (unwrapLegacyRow(message.payload) as TRow);
    } catch (cause) {
      error = new KalamConsumerError(`changeParser failed for ${whereOf(message)}: ${cause instanceof Error ? cause.message : String(cause)}`, {
        code: 'DECODE_ERROR',
        kind: 'permanent',
        cause,
      });
    }
  }
  if (!error && !KNOWN_OPS.has(message.op)) {
    error = new KalamConsumerError(`message ${whereOf(message)} has an unknown op '${String(message.op)}' (expected Insert, Update or Delete)`, {
      code: 'INVALID_METADATA',
      kind: 'permanent',
    });
  }
  if (!error && requireUser && (typeof message.user !== 'string' || message.user === '')) {
    error = new KalamConsumerError(
      `message ${whereOf(message)} has no user (a SHARED-table source, or a producer that no longer exists); ` +
        `pass requireUser: false to receive such messages with change.user undefined`,
      { code: 'INVALID_METADATA', kind: 'permanent' },
    );
  }
  const item: Change<TRow, string | undefined> = {
    data,
    user: message.user === '' ? undefined : message.user,
    op: message.op,
    key: message.key,
    timestampMs: message.timestamp_ms,
    partitionId: message.partition_id,
    offset: message.offset,
    topic: message.topic,
    groupId,
    message: metadataOf(message),
  };
  return error ? { item, error } : { item };
}

export function makeRunConsumer(runtime: WasmRuntime) {
  /**
   * The worker runtime: consumes `partitions` side by side, calls `onChange` per message in
   * offset order, retries, dead-letters, commits once per batch, survives connection failures.
   * Resolves after `stopSignal` aborts and in-flight work drained; rejects with a typed error
   * on a permanent failure (403, 404, bad credentials, invalid options). The promise also has
   * `health()` and `metrics()`.
   */
  function runConsumer<TRow = Record<string, unknown>>(options: RunConsumerOptions<TRow>): WorkerRun;
  function runConsumer<TRow = Record<string, unknown>>(options: RunConsumerOptionsWithoutUser<TRow>): WorkerRun;
  function runConsumer<TRow = Record<string, unknown>>(options: RunConsumerOptions<TRow> | RunConsumerOptionsWithoutUser<TRow>): WorkerRun {
    return startWorker((monitor) => run(options, monitor));
  }

  async function run<TRow>(options: RunConsumerOptions<TRow> | RunConsumerOptionsWithoutUser<TRow>, monitor: WorkerMonitor): Promise<void> {
    if (typeof options !== 'object' || options === null) throw invalidOption('runConsumer needs an options object');
    if (options.onChange === undefined && (options as { onMessage?: unknown }).onMessage !== undefined) {
      throw invalidOption('runConsumer takes onChange(ctx, change), not onMessage (the 0.4.x name): rename onMessage to onChange; the change carries data, user, op, key and offset');
    }
    const onChange = optionalFunction<RunConsumerOptions<TRow>['onChange']>('onChange', options.onChange);
    if (!onChange) throw invalidOption('onChange(ctx, change) is required');
    const requireUser = options.requireUser;
    if (requireUser !== undefined && typeof requireUser !== 'boolean') throw invalidOption('requireUser must be true or false');
    const parser = optionalFunction<(message: ConsumerMessage<unknown>) => TRow>('changeParser', options.changeParser);
    const onFailed = optionalFunction<NonNullable<RunConsumerOptions<TRow>['onFailed']>>('onFailed', options.onFailed);
    const onRetry = optionalFunction<NonNullable<RunConsumerOptions<TRow>['onRetry']>>('onRetry', options.onRetry);
    const onError = optionalFunction<NonNullable<RunConsumerOptions<TRow>['onError']>>('onError', options.onError);
    const adapter = checkAdapter(options.llm);
    const systemPrompt = options.systemPrompt;
    if (systemPrompt !== undefined && typeof systemPrompt !== 'string') throw invalidOption('systemPrompt must be a string');
    const groupId = options.groupId;

    // The context object is the attempt's own (its `signal` is a getter): add to it, never copy it.
    const contextOf = (base: BaseContext, change: Change<TRow, string | undefined>): ConsumerContext =>
      adapter ? Object.assign(base, { llm: llmHelpers(adapter, systemPrompt, base.runKey, change.data) }) : base;
    type Item = Change<TRow, string | undefined>;
    const handler = onChange as unknown as (ctx: ConsumerContext, change: Item) => unknown;
    const deadLetter = onFailed as unknown as ((ctx: ConsumerContext, change: Item, error: unknown) => unknown) | undefined;

    return runEngine<Item>(runtime, options, {
      prepare: (message) => prepareChange(message, groupId, parser, requireUser !== false),
      invoke: (base, change) => handler(contextOf(base, change), change),
      deadLetterOption: 'onFailed',
      ...(deadLetter
        ? {
            failed: (base: BaseContext, change: Item, error: unknown) => deadLetter(contextOf(base, change), change, error),
          }
        : {}),
      ...(onRetry
        ? {
            onRetry: (info: EngineRetryInfo<Item>) => {
              const { item, ...rest } = info;
              onRetry({ ...rest, change: item as Change<TRow> });
            },
          }
        : {}),
      ...(onError
        ? {
            onError: (info: EngineErrorInfo<Item>) => {
              const { item, ...rest } = info;
              onError(item ? { ...rest, change: item as Change<TRow> } : rest);
            },
          }
        : {}),
    }, monitor);
  }
  return runConsumer;
}

/** `runConsumer` options for sources whose messages may carry no user (SHARED tables). */
export interface RunConsumerOptionsWithoutUser<TRow = Record<string, unknown>> extends Omit<RunConsumerOptions<TRow>, 'onChange' | 'onFailed' | 'onRetry' | 'onError' | 'requireUser'> {
  /** Messages without a `user` are delivered with `change.user` undefined. */
  requireUser: false;
  onChange: (ctx: ConsumerContext, change: Change<TRow, string | undefined>) => void | Promise<void>;
  onFailed?: (ctx: ConsumerContext, change: Change<TRow, string | undefined>, error: unknown) => void | Promise<void>;
  onRetry?: (info: RetryInfo<TRow>) => void;
  onError?: (info: ErrorInfo<TRow>) => void;
}
