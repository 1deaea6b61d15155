// Type test (tests/unit/types.test.mjs, never run): an @opentelemetry/api Tracer and Meter fit
// runConsumer's `telemetry` option although the package does not depend on @opentelemetry/api,
// and the handle runConsumer returns is a promise with health() and metrics().
import { metrics, trace } from '@opentelemetry/api';
import { runConsumer, createConsumerClient, Auth, type WorkerHealth, type WorkerMetrics, type WorkerRun, type WorkerState } from '@kalamdb/consumer';

type Equals<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
function expectType<T extends true>(): T | void {}

const client = createConsumerClient({ url: 'http://127.0.0.1:8080', authProvider: async () => Auth.basic('w', 'p') });

export async function telemetry(): Promise<void> {
  const run = runConsumer({
    client, name: 'w', topic: 'app.events', groupId: 'g', stallTimeoutMs: 30_000,
    telemetry: { tracer: trace.getTracer('w'), meter: metrics.getMeter('w') },
    onChange: async () => {},
  });
  expectType<Equals<typeof run, WorkerRun>>();
  const health: WorkerHealth = run.health();
  expectType<Equals<typeof health.state, WorkerState>>();
  expectType<Equals<typeof health.partitions[number]['lastCommittedOffset'], number | null>>();
  const counts: WorkerMetrics = run.metrics();
  expectType<Equals<typeof counts.handlerMs.p99, number>>();
  const done: void = await run;
  return done;
}
