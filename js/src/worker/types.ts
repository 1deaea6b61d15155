import type { KalamConsumerError } from '../errors.js';
import type { ConsumerMessage } from '../messages.js';
import type { OffsetGap } from '../sequencer.js';
import type { QueryResponse, SqlParams } from '../sql.js';

/** Per-message retries. Defaults and the rules for each value live in the core crate (`retry.rs`). */
export interface RetryOptions {
  /** Attempts per message, including the first (default 3; `Infinity` for no limit). */
  maxAttempts?: number;
  /** Delay before the second attempt in ms (default 300). */
  initialBackoffMs?: number;
  /** Cap of every delay in ms (default 5000), jitter included. */
  maxBackoffMs?: number;
  /** Growth per attempt (default 2). */
  multiplier?: number;
  /** Random spread of each delay, 0..1 (default 0). */
  jitterRatio?: number;
  /** Whether a handler error is worth another attempt (default: always). */
  shouldRetry?: (error: unknown, attempt: number) => boolean;
}

/** The context every handler call gets (runAgent adds its legacy fields on top). */
export interface BaseContext {
  name: string;
  /** Stable per message across attempts: `<name>:<topic>:<partition>:<offset>`. */
  runKey: string;
  attempt: number;
  maxAttempts: number;
  /**
   * Aborted when this attempt passes `handlerTimeoutMs` and when the worker stops: hand it to
   * `fetch`, an LLM client or anything else that can be cancelled.
   */
  readonly signal: AbortSignal;
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

/**
 * `handler`: a message failed (its last attempt, or all of them); `invalid`: undecodable payload
 * or missing metadata; `failed`: onFailed threw; `connection` / `commit`: a poll or ack failed
 * and is retried (see retryInMs); `gap`: offsets never delivered within gapTimeoutMs were given
 * up (code OFFSET_GAP); `lease`: a fleet lease could not be taken, renewed or was lost.
 */
export type ErrorPhase = 'handler' | 'invalid' | 'failed' | 'connection' | 'commit' | 'gap' | 'lease';

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

/** What a prepared message is for the handler, or why it cannot be handed over. */
export interface Prepared<TItem> {
  item: TItem;
  /** Invalid: never attempted; goes to the dead-letter hook, or stops the worker. */
  error?: KalamConsumerError;
  /** Skip it (committed, never handled): only runAgent's rowParser may ask for this. */
  skip?: boolean;
}

/** What runConsumer / runAgent plug into the worker. */
export interface EngineHooks<TItem> {
  prepare(message: ConsumerMessage<unknown>): Prepared<TItem>;
  /** Calls the user's handler; may return a promise. */
  invoke(context: BaseContext, item: TItem): unknown;
  /** Dead-letter hook; absent means a message that cannot be handled stops the worker. */
  failed?: (context: BaseContext, item: TItem, error: unknown) => unknown;
  /** The runKey of a message (default `<name>:<topic>:<partition>:<offset>`). */
  runKey?: (message: ConsumerMessage<unknown>) => string;
  onRetry?: (info: EngineRetryInfo<TItem>) => void;
  onError?: (info: EngineErrorInfo<TItem>) => void;
  /** The name of the dead-letter option in errors and logs ("onFailed"). */
  deadLetterOption: string;
}
