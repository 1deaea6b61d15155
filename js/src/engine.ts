import { isInternalClient } from './client.js';
import { STOPPED, newBackoff, withConnectionRetry } from './connection.js';
import { invalidOption, toConsumerError, type KalamConsumerError } from './errors.js';
import { abortable } from './timing.js';
import type { WasmRuntime, WireStart } from './wasm-contract.js';
import { AttemptRunner } from './worker/attempts.js';
import { ConnectionWatch } from './worker/connection-watch.js';
import { HandlerPolicy, safely } from './worker/handler-policy.js';
import { workerSettings, type EngineOptions, type WorkerSettings } from './worker/options.js';
import { PartitionLoop } from './worker/partition-loop.js';
import { planPartitions, type PartitionPlan } from './worker/partitions.js';
import { WorkerMonitor, type WorkerRun } from './worker/stats.js';
import { loopReporter } from './worker/reporter.js';
import { StopControl } from './worker/stop-control.js';
import { PartitionLeases } from './fleet/index.js';
import { superviseFleet } from './worker/fleet-supervisor.js';
import type { EngineErrorInfo, EngineHooks } from './worker/types.js';

export type { EngineOptions } from './worker/options.js';
export type { BaseContext, EngineErrorInfo, EngineHooks, EngineRetryInfo, ErrorPhase, RetryOptions } from './worker/types.js';
export type { DurationSummary, PartitionHealth, RoundTrips, WorkerHealth, WorkerMetrics, WorkerRun, WorkerState } from './worker/stats.js';
export type { TelemetryMeter, TelemetryOptions, TelemetrySpan, TelemetryTracer } from './worker/telemetry.js';

/**
 * Starts a run and returns its promise with `health()` and `metrics()` on it: `await` it as
 * before, or keep it to ask how the worker is doing.
 */
export function startWorker(body: (monitor: WorkerMonitor) => Promise<void>): WorkerRun {
  const monitor = new WorkerMonitor();
  const run = body(monitor).then(
    () => monitor.finished(false),
    (error: unknown) => {
      monitor.finished(true, error);
      throw error;
    },
  );
  return Object.assign(run, { health: () => monitor.health(), metrics: () => monitor.metrics() });
}

// The worker runtime behind runConsumer and the deprecated runAgent: reads the options, learns
// the partitions, starts one PartitionLoop per partition with the HandlerPolicy, reports what
// happens through the logger and onError, and stops them all on stopSignal or the first error
// that no retry can fix.

/**
 * Runs until `stopSignal` aborts (then drains and resolves) or an error no retry fixes occurs
 * (then drains, commits what finished, and rejects with it).
 */
export async function runEngine<TItem>(runtime: WasmRuntime, options: EngineOptions, hooks: EngineHooks<TItem>, monitor = new WorkerMonitor()): Promise<void> {
  if (typeof options !== 'object' || options === null) throw invalidOption('options object required');
  await runtime.ready();
  const bindings = runtime.bindings;
  const s = workerSettings(options, bindings);
  const start = await startOf(runtime, s, options.start);

  const stop = new StopControl(s.drainTimeoutMs);
  if (s.stopSignal?.aborted) return;
  monitor.configure({ topic: s.topic, groupId: s.groupId, stallTimeoutMs: s.stallTimeoutMs, logger: s.logger, telemetry: s.telemetry });
  stop.halt.addEventListener('abort', () => monitor.stopRequested(), { once: true });
  const onStopSignal = (): void => stop.stop();
  s.stopSignal?.addEventListener('abort', onStopSignal, { once: true });
  const attempts = new AttemptRunner(stop, s.handlerTimeoutMs);
  const watch = new ConnectionWatch(s.logger);
  monitor.connection = watch;
  const report = (info: EngineErrorInfo<TItem>): void => {
    const onError = hooks.onError;
    if (onError) safely(() => onError(info));
  };
  const reporter = loopReporter({ topic: s.topic, logger: s.logger, watch, report });
  let fatal: KalamConsumerError | undefined;

  // The body, so that every way out (stopped early, done, failed) passes the log lines below.
  const work = async (): Promise<void> => {
    // The SQL helpers take no signal: a stop must not wait for a stalled system.topics read.
    const plan = await withConnectionRetry(newBackoff(bindings, s.connectionRetry), stop.halt, () => abortable(planPartitions(s.client, s.topic, s), stop.halt), {
      failed: (error, delayMs) => reporter.connectionFailed(error, delayMs, 'connection', -1),
      recovered: () => reporter.connectionRecovered(),
    });
    if (plan === STOPPED) return;
    s.logger.info(`started: topic ${s.topic}, group ${s.groupId}, ${describePlan(plan)}`);
    const policy = new HandlerPolicy<TItem>(
      {
        name: s.name,
        topic: s.topic,
        retry: s.retry,
        maxAttempts: s.maxAttempts,
        shouldRetry: s.shouldRetry,
        ackOnFailed: s.ackOnFailed,
        concurrency: s.concurrency,
        sql: s.client,
        bindings,
        attempts,
        logger: s.logger,
        telemetry: s.telemetry,
      },
      hooks,
    );
    const runPartition = (partition: number, control: StopControl, canCommit?: () => boolean): Promise<void> =>
      new PartitionLoop({
        client: s.client,
        topic: s.topic,
        groupId: s.groupId,
        partition,
        start,
        // Handlers run side by side within one batch: a batch smaller than `concurrency` would
        // cap it, so a poll fetches at least that many.
        batchSize: Math.max(s.batchSize, s.concurrency),
        timeoutSeconds: s.timeoutSeconds,
        gapTimeoutMs: s.gapTimeoutMs,
        idle: s.idle,
        backoff: newBackoff(bindings, s.connectionRetry),
        stop: control,
        reporter,
        stats: monitor.partition(partition),
        // A fleet partition is handed over on stop: finish what was fetched, so the next owner
        // does not wait for the claim to expire.
        ...(canCommit ? { canCommit, finishFetchedOnStop: true } : {}),
      }).run(policy);
    if (s.fleet) {
      const leases = new PartitionLeases({ sql: s.client, topic: s.topic, groupId: s.groupId, partitions: plan.partitions, ...s.fleet, log: s.logger });
      const ready = await withConnectionRetry(newBackoff(bindings, s.connectionRetry), stop.halt, () => abortable(leases.ensureTable(), stop.halt), {
        failed: (error, delayMs) => reporter.connectionFailed(error, delayMs, 'connection', -1),
        recovered: () => reporter.connectionRecovered(),
      });
      if (ready === STOPPED) return;
      s.logger.info(`fleet: worker ${s.fleet.workerId}, leases in ${s.fleet.table} (lease ${s.fleet.leaseMs} ms)`);
      monitor.fleet = { workerId: s.fleet.workerId, owned: () => leases.owned() };
      monitor.running();
      await superviseFleet({
        leases,
        stop,
        runPartition,
        logger: s.logger,
        reportLease: (error, partition) => report({ error, phase: 'lease', partitionId: partition }),
      });
    } else {
      monitor.running();
      const runs = plan.partitions.map((partition) => {
        const control = stop.child();
        return runPartition(partition, control)
          .catch((error: unknown) => {
            // The first error that no retry fixes stops every partition; it is what we reject with.
            fatal ??= toConsumerError(error, 'permanent');
            stop.stop();
          })
          .finally(() => control.dispose());
      });
      await Promise.all(runs);
    }
  };
  try {
    await work();
  } catch (error) {
    fatal ??= toConsumerError(error, 'permanent');
  } finally {
    s.stopSignal?.removeEventListener('abort', onStopSignal);
    monitor.dispose();
    attempts.dispose();
    stop.dispose();
  }
  if (fatal) {
    s.logger.error(`stopped with an error: ${fatal.message}`);
    throw fatal;
  }
  s.logger.info('stopped');
}

/** The start position, checked by the core's rules before the first request. */
async function startOf(runtime: WasmRuntime, s: WorkerSettings, start: unknown): Promise<WireStart> {
  if (isInternalClient(s.client)) return s.client.normalizeStart(start);
  try {
    return runtime.bindings.normalizeStart(start === undefined ? 'latest' : start);
  } catch (error) {
    throw toConsumerError(error, 'permanent');
  }
}

function describePlan(plan: PartitionPlan): string {
  const list = plan.partitions.join(', ');
  const label = plan.partitions.length === 1 ? 'partition' : 'partitions';
  switch (plan.source) {
    case 'system.topics':
      return `${label} ${list} (all of the topic's ${plan.topicPartitions})`;
    case 'partitionCount':
      return `${label} ${list} (partitionCount)`;
    default:
      return plan.topicPartitions === undefined
        ? `${label} ${list} (as given; the topic's partition count could not be read to check them)`
        : `${label} ${list} (as given; the topic has ${plan.topicPartitions})`;
  }
}

