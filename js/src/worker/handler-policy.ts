import type { SqlHelpers } from '../sql.js';
import { KalamConsumerError, isKalamConsumerError, toConsumerError } from '../errors.js';
import { describeFailure } from '../failure-reason.js';
import type { Logger } from '../logger.js';
import type { ConsumerMessage } from '../messages.js';
import { sleep } from '../timing.js';
import type { MessageRetryPolicy, WasmBindings, WasmMessageRetry } from '../wasm-contract.js';
import { SLOT, slotOf, type AttemptOutcome, type AttemptRunner, type AttemptSlot, type SlotHolder } from './attempts.js';
import { KeyLanes } from './key-lanes.js';
import { clock } from './stats.js';
import type { MessageOutcome, MessageTrace, Telemetry } from './telemetry.js';
import type { MessagePolicy, PartitionHandle } from './partition-loop.js';
import type { BaseContext, EngineHooks, Prepared } from './types.js';

/** What the policy needs from the worker's settings. */
export interface HandlerPolicySettings {
  name: string;
  topic: string;
  retry: MessageRetryPolicy;
  maxAttempts: number;
  shouldRetry: (error: unknown, attempt: number) => boolean;
  ackOnFailed: boolean;
  concurrency: number;
  sql: Pick<SqlHelpers, 'query' | 'queryOne' | 'queryAll'>;
  bindings: WasmBindings;
  attempts: AttemptRunner;
  logger: Logger;
  telemetry?: Telemetry | undefined;
}

/**
 * One message on its way through the policy, shared by its attempts: whether the handler acked
 * it early, its runKey (made once), and its `ack` function (made once, not per attempt). The
 * `topic[p]@offset` of log lines is formatted only on the paths that log.
 */
class MessageRun {
  earlyAcked = false;
  private key: string | undefined;

  constructor(
    readonly policy: HandlerPolicy<unknown>,
    readonly partition: PartitionHandle,
    readonly message: ConsumerMessage<unknown>,
  ) {}

  get runKey(): string {
    this.key ??= this.policy.runKeyOf(this.message, this.partition.partition);
    return this.key;
  }

  get where(): string {
    return `${this.message.topic}[${this.partition.partition}]@${this.message.offset}`;
  }

  private ackFn: (() => Promise<void>) | undefined;

  ackFunction(): () => Promise<void> {
    this.ackFn ??= () => this.ack();
    return this.ackFn;
  }

  /** An early commit request: this message is done as far as the handler is concerned. */
  async ack(): Promise<void> {
    this.earlyAcked = true;
    this.partition.tracker.finish(this.message.offset);
    await this.partition.commit();
  }
}

/**
 * The context of one attempt. Its fields are own properties, in the documented order, so it
 * prints and spreads as before; only `signal` is a getter: an AbortController per message is
 * measurable, and most handlers never ask for it. The attempt's slot sits under a symbol
 * (SlotHolder), made only when needed.
 */
class AttemptContext implements BaseContext, SlotHolder {
  readonly name: string;
  readonly runKey: string;
  readonly attempt: number;
  readonly maxAttempts: number;
  readonly sql: BaseContext['sql'];
  readonly queryOne: BaseContext['queryOne'];
  readonly queryAll: BaseContext['queryAll'];
  readonly ack: () => Promise<void>;
  [SLOT]: AttemptSlot | undefined;

  constructor(run: MessageRun, attempt: number, shared: SharedHelpers) {
    this.name = run.policy.name;
    this.runKey = run.runKey;
    this.attempt = attempt;
    this.maxAttempts = run.policy.maxAttempts;
    this.sql = shared.sql;
    this.queryOne = shared.queryOne;
    this.queryAll = shared.queryAll;
    this.ack = run.ackFunction();
    this[SLOT] = undefined;
  }

  get signal(): AbortSignal {
    return slotOf(this).signal();
  }
}

/** What `process` did before handing a message to `processFurther`. */
interface BegunMessage<TItem> {
  prepared: Prepared<TItem>;
  run?: MessageRun;
  /** The first attempt, started (a promise) or failed; with `started`, its clock() start. */
  outcome?: AttemptOutcome | Promise<AttemptOutcome>;
  started?: number;
}

interface SharedHelpers {
  sql: BaseContext['sql'];
  queryOne: BaseContext['queryOne'];
  queryAll: BaseContext['queryAll'];
}

/**
 * runConsumer's and runAgent's per-message policy: attempts with retries and a timeout, the
 * dead-letter hook, and what happens when a message can be neither handled nor dead-lettered
 * (the worker stops, loudly, with everything before it committed). Handles a batch one message
 * at a time, or `concurrency` at a time with per-key order (KeyLanes).
 */
export class HandlerPolicy<TItem> implements MessagePolicy {
  private readonly shared: SharedHelpers;
  private readonly runKeyPrefixes: string[] = [];

  constructor(
    private readonly s: HandlerPolicySettings,
    private readonly hooks: EngineHooks<TItem>,
  ) {
    // Made once per worker and shared by every context: a closure set per message is waste.
    this.shared = {
      sql: (sql, params) => s.sql.query(sql, params),
      queryOne: (sql, params) => s.sql.queryOne(sql, params),
      queryAll: (sql, params) => s.sql.queryAll(sql, params),
    };
  }

  get name(): string {
    return this.s.name;
  }

  get maxAttempts(): number {
    return this.s.maxAttempts;
  }

  runKeyOf(message: ConsumerMessage<unknown>, partition: number): string {
    if (this.hooks.runKey) return this.hooks.runKey(message);
    // `<name>:<topic>:<partition>:` is the same for every message of a partition: made once.
    let prefix = this.runKeyPrefixes[partition];
    if (prefix === undefined) prefix = this.runKeyPrefixes[partition] = `${this.s.name}:${this.s.topic}:${partition}:`;
    return prefix + message.offset;
  }

  async handle(ready: ConsumerMessage<unknown>[], partition: PartitionHandle): Promise<void> {
    if (this.s.concurrency <= 1) {
      // An index loop: an iterator in this async function allocated its results per message.
      for (let i = 0; i < ready.length; i++) {
        const message = ready[i]!;
        if (!this.mayStart(partition, 1)) return;
        const unfinished = this.process(message, partition);
        if (unfinished !== undefined) await unfinished;
      }
      return;
    }
    await this.handleConcurrently(ready, partition);
  }

  /**
   * Up to `concurrency` at once; the first fatal error stops scheduling. The one rethrown is the
   * lowest offset's (handlers still running may fail after it): the commit ends right before that
   * message, which is what its error says and where a restart resumes.
   */
  private async handleConcurrently(ready: ConsumerMessage<unknown>[], partition: PartitionHandle): Promise<void> {
    const lanes = new KeyLanes(this.s.concurrency);
    let fatal: unknown;
    let fatalOffset = Infinity;
    let failedOnce = false;
    const runs = ready.map((message) =>
      lanes.schedule(message.key, async () => {
        if (failedOnce || !this.mayStart(partition, 1)) return;
        try {
          await this.process(message, partition);
        } catch (error) {
          if (message.offset < fatalOffset) {
            fatal = error;
            fatalOffset = message.offset;
          }
          failedOnce = true;
        }
      }),
    );
    await Promise.all(runs);
    if (failedOnce) throw fatal;
  }

  /**
   * Handles one message until it is finished, the worker stops, or it must stop the worker
   * (the promise rejects). The usual message is valid and its first attempt succeeds: when the
   * handler returns synchronously that is all done here, with no promise (undefined is
   * returned). An async function per message allocated about 1 kB (its frame holds every local
   * of the retry path), the largest cost of the package per message. Everything else
   * continues in `processFurther`.
   */
  private process(message: ConsumerMessage<unknown>, partition: PartitionHandle): Promise<void> | undefined {
    const offset = message.offset;
    const telemetry = this.s.telemetry;
    // The process span (only with a tracer) is ended by processFurther.
    const trace = telemetry?.message(partition.partition, offset);
    if (trace) return this.processFurther(message, partition, trace, undefined);
    let prepared: Prepared<TItem>;
    try {
      prepared = this.hooks.prepare(message);
    } catch (error) {
      return Promise.reject(toConsumerError(error, 'permanent'));
    }
    if (prepared.skip || prepared.error) return this.processFurther(message, partition, undefined, { prepared });
    const { stats } = partition;
    const run = new MessageRun(this as HandlerPolicy<unknown>, partition, message);
    stats.current = offset;
    stats.attempt = 1;
    const started = clock();
    const context = new AttemptContext(run, 1, this.shared);
    const outcome = this.s.attempts.run(context, this.hooks.invoke, context, prepared.item, undefined);
    if (outcome instanceof Promise || outcome.kind !== 'ok') return this.processFurther(message, partition, undefined, { prepared, run, outcome, started });
    this.recordAttemptTime(partition, started);
    partition.tracker.finish(offset);
    stats.handled++;
    stats.attempt = 0;
    return undefined;
  }

  /**
   * The general path of `process`: with a trace, for an invalid or skipped message, or after a
   * first attempt that returned a promise or failed (`begun` holds what `process` did so far).
   */
  private async processFurther(
    message: ConsumerMessage<unknown>,
    partition: PartitionHandle,
    trace: MessageTrace | undefined,
    begun: BegunMessage<TItem> | undefined,
  ): Promise<void> {
    const { tracker, stats } = partition;
    const offset = message.offset;
    let ended: MessageOutcome = 'stopped';
    let endError: unknown;
    // `attempt`: 1 for the dead-letter hook of an invalid message; `tried`: handler attempts
    // made, for the span.
    let attempt = 1;
    let tried = 0;
    let retry: WasmMessageRetry | undefined;
    try {
      let prepared: Prepared<TItem>;
      if (begun) {
        prepared = begun.prepared;
      } else {
        try {
          prepared = this.hooks.prepare(message);
        } catch (error) {
          throw toConsumerError(error, 'permanent');
        }
      }
      if (prepared.skip) {
        tracker.finish(offset);
        stats.skipped++;
        ended = 'skipped';
        return;
      }
      const item = prepared.item;
      const run = begun?.run ?? new MessageRun(this as HandlerPolicy<unknown>, partition, message);
      // The first attempt `process` already started, used once.
      let first = begun?.outcome === undefined ? undefined : begun;
      let lastError: unknown = prepared.error;
      let retryable = true;
      if (prepared.error) {
        stats.invalid++;
        stats.error(describeFailure(prepared.error));
        this.s.logger.error(`invalid message ${run.where}: ${prepared.error.message}`);
        this.report({ error: prepared.error, phase: 'invalid', partitionId: partition.partition, offset, runKey: run.runKey, item });
      }
      for (let round = 1; ; round++) {
        if (!prepared.error) {
          // One round of attempts.
          attempt = 1;
          for (;;) {
            let outcome: AttemptOutcome | Promise<AttemptOutcome>;
            let started: number;
            if (first) {
              tried = 1;
              ({ outcome, started } = first as Required<BegunMessage<TItem>>);
              first = undefined;
            } else {
              if (!this.mayStart(partition, attempt)) return;
              stats.current = offset;
              stats.attempt = tried = attempt;
              started = clock();
              const context = new AttemptContext(run, attempt, this.shared);
              outcome = this.s.attempts.run(context, this.hooks.invoke, context, item, undefined);
            }
            if (outcome instanceof Promise) outcome = await outcome;
            this.recordAttemptTime(partition, started);
            if (outcome.kind === 'ok') {
              tracker.finish(offset);
              stats.handled++;
              ended = 'handled';
              return;
            }
            if (outcome.kind === 'drained') return;
            lastError = outcome.kind === 'timed_out' ? this.timeoutError(run.where, attempt) : outcome.error;
            stats.failed++;
            stats.error(describeFailure(lastError));
            trace?.attemptFailed(lastError);
            if (outcome.kind === 'timed_out') this.s.logger.warn((lastError as Error).message);
            if (run.earlyAcked) {
              // Already committed at the handler's request: report, never run it again.
              this.s.logger.error(`handler failed for ${run.where} after it acked the message, which is not retried: ${describeFailure(lastError)}`);
              this.report({ error: lastError, phase: 'handler', partitionId: partition.partition, offset, runKey: run.runKey, item });
              tracker.finish(offset);
              ended = 'failed';
              endError = lastError;
              return;
            }
            try {
              retryable = this.s.shouldRetry(lastError, attempt) !== false;
            } catch {
              retryable = false;
            }
            retry ??= new this.s.bindings.MessageRetry(this.s.retry);
            const decision = retry.onFailure(retryable, Math.random());
            if (decision.action === 'give_up') break;
            stats.retries++;
            this.s.logger.warn(`attempt ${attempt} of ${this.s.maxAttempts} failed for ${run.where}: ${describeFailure(lastError)}; retrying in ${Math.round(decision.delayMs)} ms`);
            const onRetry = this.hooks.onRetry;
            if (onRetry) {
              safely(() =>
                onRetry({ error: lastError, attempt, maxAttempts: this.s.maxAttempts, backoffMs: decision.delayMs, runKey: run.runKey, partitionId: partition.partition, offset, item }),
              );
            }
            await sleep(decision.delayMs, partition.stop.halt);
            attempt += 1;
          }
          if (retryable && isOutage(lastError)) {
            // The attempts failed because KalamDB could not be reached (ctx.sql during an
            // outage), not because of the message: neither dead-letter it nor stop the worker;
            // try it again, paced, until the server is back.
            retry ??= new this.s.bindings.MessageRetry(this.s.retry);
            const pause = retry.nextRound(round + 1);
            this.s.logger.warn(
              `message ${run.where} failed ${attempt} attempts because the server could not be reached (${describeFailure(lastError)}); it is not dead-lettered, and is tried again in ${Math.round(pause)} ms`,
            );
            this.report({ error: lastError, phase: 'handler', partitionId: partition.partition, offset, runKey: run.runKey, item });
            await sleep(pause, partition.stop.halt);
            if (partition.stop.halted) return;
            continue;
          }
          this.s.logger.error(`message ${run.where} failed ${attempt} of ${this.s.maxAttempts} attempts: ${describeFailure(lastError)}`);
        }

        const failed = this.hooks.failed;
        if (!failed) {
          ended = 'failed';
          endError = lastError;
          throw this.cannotContinue(prepared, lastError, run.where, offset, attempt, partition.partition, run.runKey, item);
        }
        if (partition.stop.halted) return;
        const context = new AttemptContext(run, attempt, this.shared);
        let outcome = this.s.attempts.run(context, failed, context, item, lastError);
        if (outcome instanceof Promise) outcome = await outcome;
        if (outcome.kind === 'drained') return;
        if (outcome.kind === 'ok') {
          // The dead-letter hook returned: the message may be committed (ackOnFailed) or at
          // least committed past by later messages.
          tracker.finish(offset, { ack: this.s.ackOnFailed });
          stats.deadLettered++;
          ended = 'dead_lettered';
          endError = lastError;
          this.s.logger.warn(`message ${run.where} dead-lettered by ${this.hooks.deadLetterOption}${this.s.ackOnFailed ? '' : ' (ackOnFailed: false: later messages commit past it)'}`);
          return;
        }
        const hookError = outcome.kind === 'timed_out' ? this.timeoutError(run.where, attempt, this.hooks.deadLetterOption) : outcome.error;
        stats.error(`${this.hooks.deadLetterOption} failed: ${describeFailure(hookError)}`);
        retry ??= new this.s.bindings.MessageRetry(this.s.retry);
        const pause = retry.nextRound(round + 1);
        // Not committed past, not skipped: the whole message is tried again after a pause.
        this.s.logger.error(`${this.hooks.deadLetterOption} failed for ${run.where}: ${describeFailure(hookError)}; the message is not committed and is tried again in ${Math.round(pause)} ms`);
        this.report({ error: hookError, phase: 'failed', partitionId: partition.partition, offset, runKey: run.runKey, item });
        await sleep(pause, partition.stop.halt);
        if (partition.stop.halted) return;
      }
    } catch (error) {
      if (ended !== 'failed') {
        ended = 'failed';
        endError = error;
      }
      throw error;
    } finally {
      retry?.free();
      stats.attempt = 0;
      trace?.end(ended, tried, endError);
    }
  }

  /** The handler-time sample of an attempt that began at `started` (clock()): metrics and telemetry. */
  private recordAttemptTime(partition: PartitionHandle, started: number): void {
    const ms = clock() - started;
    partition.stats.worker.handlerMs.add(ms);
    this.s.telemetry?.handlerTime(partition.partition, ms);
  }

  /**
   * Whether an attempt may start. Not after stop, as a rule. A fleet worker handing a partition
   * over (or stopping) finishes the messages it already fetched, first attempts only, until the
   * drain deadline: the server releases a fetched range only when an ack covers all of it
   * (docs/PROTOCOL.md §3.4), so leaving part of it would make the next owner wait for the
   * visibility timeout.
   */
  private mayStart(partition: PartitionHandle, attempt: number): boolean {
    const stop = partition.stop;
    if (!stop.halted) return true;
    // Never after the lease may be gone: the next owner handles these messages then.
    return partition.finishFetchedOnStop && attempt === 1 && !stop.drain.aborted && partition.holdsPartition();
  }

  /** The error a worker stops with when a message can be neither handled nor dead-lettered. */
  private cannotContinue(
    prepared: Prepared<TItem>,
    lastError: unknown,
    where: string,
    offset: number,
    attempts: number,
    partitionId: number,
    runKey: string,
    item: TItem,
  ): KalamConsumerError {
    const committed = `everything before offset ${offset} is committed, so a restart resumes at this message`;
    const deadLetter = this.hooks.deadLetterOption;
    let error: KalamConsumerError;
    if (prepared.error) {
      error = new KalamConsumerError(`${prepared.error.message}; the worker stops here (${committed}). Pass ${deadLetter} to dead-letter such messages.`, {
        code: prepared.error.code,
        kind: 'permanent',
        cause: prepared.error,
      });
    } else {
      error = new KalamConsumerError(
        `message ${where} failed ${attempts} of ${this.s.maxAttempts} attempts (last error: ${describeFailure(lastError)}); the worker stops here (${committed}). Pass ${deadLetter} to dead-letter failing messages, or raise retry.maxAttempts.`,
        { code: 'RETRIES_EXHAUSTED', kind: 'permanent', cause: lastError },
      );
      this.report({ error: lastError, phase: 'handler', partitionId, offset, runKey, item });
    }
    return error;
  }

  private timeoutError(where: string, attempt: number, what = 'handler'): KalamConsumerError {
    return new KalamConsumerError(
      `${what} for ${where} did not finish within handlerTimeoutMs (${this.s.attempts.timeoutMs} ms) on attempt ${attempt}; its ctx.signal was aborted and the attempt counts as failed`,
      // Not 'transient': that kind means "the server could not be reached" (isOutage).
      { code: 'HANDLER_TIMEOUT', kind: 'permanent' },
    );
  }

  private report(info: Parameters<NonNullable<EngineHooks<TItem>['onError']>>[0]): void {
    const onError = this.hooks.onError;
    if (onError) safely(() => onError(info));
  }
}

/**
 * A failure of KalamDB itself, unreachable or answering 5xx: an error of this package (from
 * ctx.sql and friends) of kind 'transient'. Errors of the handler's own making are not.
 */
function isOutage(error: unknown): boolean {
  return isKalamConsumerError(error) && (error as KalamConsumerError).kind === 'transient';
}

/** Calls a user callback that must not break the loop (reporting hooks). */
export function safely(fn: () => unknown): void {
  try {
    const result = fn();
    if (result && typeof (result as Promise<unknown>).catch === 'function') (result as Promise<unknown>).catch(() => {});
  } catch {
    /* a throwing reporter must not stop the worker */
  }
}
