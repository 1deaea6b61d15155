// One worker process of the fleet fault test (tests/faults/fleet.test.mjs): runConsumer with
// `fleet` on, as a deployment replica would run it, recording what its handler does.
//
//   node fleet-worker.mjs '<json config>'
//   config: { url, user, password, topic, groupId, partitionCount, leaseMs, instance, log, handlerMs }
//
// Every line of `log` (one file per process, opened in append mode, written synchronously so a
// SIGKILL loses at most the line being written) is one JSON object:
//   { k: 'start', pid, instance, t }                         the process is up
//   { k: 's', p, o, id, t }                                  a handler call started
//   { k: 'e', p, o, id, t0, t1 }                             that call returned (t0 = its start)
//   { k: 'err', phase, code, p, msg }                        onError
//   { k: 'log', level, msg, t }                              the runtime's logger
//   { k: 'exit', ok, error?, t }                             runConsumer settled
// Times are epoch milliseconds with sub-millisecond resolution (performance.timeOrigin + now),
// comparable across the processes of one machine.
// SIGTERM aborts stopSignal: the worker drains, commits, releases its leases and exits 0.
import { openSync, writeSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Auth, createConsumerClient, runConsumer } from '@kalamdb/consumer';

const cfg = JSON.parse(process.argv[2]);
const fd = openSync(cfg.log, 'a');
const now = () => performance.timeOrigin + performance.now();
const record = (entry) => writeSync(fd, `${JSON.stringify(entry)}\n`);

const stop = new AbortController();
process.on('SIGTERM', () => stop.abort());
record({ k: 'start', pid: process.pid, instance: cfg.instance, t: now() });

const logger = Object.fromEntries(
  ['debug', 'info', 'warn', 'error'].map((level) => [level, (msg) => record({ k: 'log', level, msg, t: now() })]),
);

let exitCode = 0;
try {
  await runConsumer({
    client: createConsumerClient({
      url: cfg.url,
      authProvider: async () => Auth.basic(cfg.user, cfg.password),
      requestTimeoutMs: 5_000,
    }),
    name: 'fleet-fault',
    topic: cfg.topic,
    groupId: cfg.groupId,
    partitionCount: cfg.partitionCount,
    start: 'earliest',
    batchSize: 20,
    timeoutSeconds: 2,
    fleet: { leaseMs: cfg.leaseMs, workerId: cfg.instance },
    retry: { maxAttempts: 4, initialBackoffMs: 10, maxBackoffMs: 200, multiplier: 2, jitterRatio: 0 },
    connectionRetry: { initialBackoffMs: 20, maxBackoffMs: 500, multiplier: 2 },
    idleBackoff: { initialMs: 10, maxMs: 100 },
    stopSignal: stop.signal,
    logger,
    onError: (info) =>
      record({ k: 'err', phase: info.phase, code: info.error?.code, p: info.partitionId, msg: String(info.error?.message ?? info.error).slice(0, 300) }),
    onChange: async (_ctx, change) => {
      const t0 = now();
      const entry = { p: change.partitionId, o: change.offset, id: Number(change.data.id) };
      record({ k: 's', ...entry, t: t0 });
      await sleep(cfg.handlerMs);
      record({ k: 'e', ...entry, t0, t1: now() });
    },
  });
  record({ k: 'exit', ok: true, t: now() });
} catch (error) {
  record({ k: 'exit', ok: false, error: String(error?.stack ?? error).slice(0, 2000), t: now() });
  exitCode = 1;
}
process.exit(exitCode);
