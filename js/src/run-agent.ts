import { runEngine, startWorker, type BaseContext, type EngineOptions, type WorkerRun } from './engine.js';
import { KalamConsumerError, invalidOption } from './errors.js';
import { unwrapLegacyRow } from './legacy-row.js';
import { checkAdapter, llmHelpers, type LlmAdapter, type LlmHelpers } from './llm.js';
import type { ConsumerMessage } from './messages.js';
import { nonNegativeInt, optionalFunction } from './validate.js';
import type { WasmRuntime } from './wasm-contract.js';
import type { WorkerMonitor } from './worker/stats.js';

/** @deprecated The context of `runAgent`'s `onRow`; use runConsumer's `ConsumerContext`. */
export interface AgentContext<TRow = Record<string, unknown>> extends BaseContext {
  topic: string;
  groupId: string;
  message: ConsumerMessage<unknown>;
  row: TRow;
  /** The producing user; may be undefined here (runConsumer treats that as invalid). */
  user: string | undefined;
  systemPrompt: string | undefined;
  /** null without an adapter, as in the old SDK. */
  llm: LlmHelpers | null;
}

/** @deprecated Options of `runAgent`; use `runConsumer` with `onChange(ctx, change)`. */
export interface RunAgentOptions<TRow = Record<string, unknown>> extends EngineOptions {
  /** 0.4.x: the one partition to poll; the same as `partitions: [partitionId]`. */
  partitionId?: number;
  /** 0.4.x: builds each message's runKey (default `<name>:<topic>:<partition>:<offset>`). */
  runKeyFactory?: (input: { name: string; message: ConsumerMessage<unknown> }) => string;
  onRow: (ctx: AgentContext<TRow>, row: TRow) => void | Promise<void>;
  /** Returns the row, or null/undefined to skip the message. Default: payload with `{ row }` unwrapped. */
  rowParser?: (message: ConsumerMessage<unknown>) => TRow | null | undefined;
  /** Old shape: the context carries `error`. */
  onFailed?: (ctx: AgentContext<TRow> & { error: unknown }, row: TRow, error: unknown) => void | Promise<void>;
  onRetry?: (info: { error: unknown; attempt: number; maxAttempts: number; backoffMs: number; runKey: string; message: ConsumerMessage<unknown> }) => void;
  onError?: (info: { error: unknown; runKey?: string; message?: ConsumerMessage<unknown>; phase: string; partitionId: number }) => void;
  llm?: LlmAdapter;
  systemPrompt?: string;
}

interface AgentItem<TRow> {
  message: ConsumerMessage<unknown>;
  row: TRow;
}

let warned = false;

export function makeRunAgent(runtime: WasmRuntime) {
  /**
   * @deprecated Use `runConsumer({ onChange(ctx, change) })`. Kept so old `onRow(ctx, row)`
   * workers keep running; same loop, retries, dead letters and commits as runConsumer. The
   * promise also has `health()` and `metrics()`.
   */
  return function runAgent<TRow = Record<string, unknown>>(options: RunAgentOptions<TRow>): WorkerRun {
    return startWorker((monitor) => run(options, monitor));
  };

  async function run<TRow>(options: RunAgentOptions<TRow>, monitor: WorkerMonitor): Promise<void> {
    if (!warned) {
      warned = true;
      console.warn('[@kalamdb/consumer] runAgent() is deprecated: use runConsumer() with onChange(ctx, change) instead.');
    }
    if (typeof options !== 'object' || options === null) throw invalidOption('runAgent needs an options object');
    const onRow = optionalFunction<RunAgentOptions<TRow>['onRow']>('onRow', options.onRow);
    if (!onRow) throw invalidOption('onRow(ctx, row) is required');
    const parser = optionalFunction<NonNullable<RunAgentOptions<TRow>['rowParser']>>('rowParser', options.rowParser);
    const onFailed = optionalFunction<NonNullable<RunAgentOptions<TRow>['onFailed']>>('onFailed', options.onFailed);
    const onRetry = optionalFunction<NonNullable<RunAgentOptions<TRow>['onRetry']>>('onRetry', options.onRetry);
    const onError = optionalFunction<NonNullable<RunAgentOptions<TRow>['onError']>>('onError', options.onError);
    const adapter = checkAdapter(options.llm);
    const systemPrompt = options.systemPrompt;

    const runKeyFactory = optionalFunction<NonNullable<RunAgentOptions<TRow>['runKeyFactory']>>('runKeyFactory', options.runKeyFactory);
    let engineOptions: EngineOptions = options;
    if (options.partitionId !== undefined) {
      if (options.partitions !== undefined || options.partitionCount !== undefined) {
        throw invalidOption('pass partitionId (0.4.x) or partitions / partitionCount, not both');
      }
      engineOptions = { ...options, partitions: [nonNegativeInt('partitionId', options.partitionId, 0)] };
    }
    const name = options.name;

    // The context object is the attempt's own (its `signal` is a getter): add to it, never copy it.
    const contextOf = (base: BaseContext, item: AgentItem<TRow>): AgentContext<TRow> =>
      Object.assign(base, {
      topic: options.topic,
      groupId: options.groupId,
      message: item.message,
      row: item.row,
      user: item.message.user,
      systemPrompt,
      llm: adapter ? llmHelpers(adapter, systemPrompt, base.runKey, item.row) : null,
      });

    return runEngine<AgentItem<TRow>>(runtime, engineOptions, {
      deadLetterOption: 'onFailed',
      ...(runKeyFactory
        ? {
            runKey: (message: ConsumerMessage<unknown>) => {
              const key = runKeyFactory({ name, message });
              if (typeof key !== 'string' || key === '') throw invalidOption(`runKeyFactory must return a non-empty string, got ${String(key)}`);
              return key;
            },
          }
        : {}),
      prepare: (message) => {
        if (message.decode_error) return { item: { message, row: undefined as TRow }, error: message.decode_error };
        let row: TRow | null | undefined;
        try {
          row = parser ? parser(message) : (unwrapLegacyRow(message.payload) as TRow);
        } catch (cause) {
          const error = new KalamConsumerError(`rowParser failed at offset ${message.offset}: ${cause instanceof Error ? cause.message : String(cause)}`, {
            code: 'DECODE_ERROR',
            kind: 'permanent',
            cause,
          });
          return { item: { message, row: undefined as TRow }, error };
        }
        // The old runtime skipped a message its parser rejected; keep that, but commit it
        // rather than leaving a hole for a later ack to jump over silently.
        if (row === null || row === undefined) return { item: { message, row: row as TRow }, skip: true };
        return { item: { message, row } };
      },
      invoke: (base, item) => onRow(contextOf(base, item), item.row),
      ...(onFailed
        ? {
            failed: (base: BaseContext, item: AgentItem<TRow>, error: unknown) =>
              onFailed(Object.assign(contextOf(base, item), { error }), item.row, error),
          }
        : {}),
      ...(onRetry
        ? {
            onRetry: (info) =>
              onRetry({
                error: info.error,
                attempt: info.attempt,
                maxAttempts: info.maxAttempts,
                backoffMs: info.backoffMs,
                runKey: info.runKey,
                message: info.item.message,
              }),
          }
        : {}),
      ...(onError
        ? {
            onError: (info) => {
              const out: Parameters<typeof onError>[0] = { error: info.error, phase: info.phase, partitionId: info.partitionId };
              if (info.runKey !== undefined) out.runKey = info.runKey;
              if (info.item) out.message = info.item.message;
              onError(out);
            },
          }
        : {}),
    }, monitor);
  }
}
