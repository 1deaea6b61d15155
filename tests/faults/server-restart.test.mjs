// Fault: the dev server is SIGKILLed and restarted (same data directory) while a worker runs.
//
// The worker talks to the server through the TCP fault proxy; after each restart the server
// listens on a new port and the proxy is retargeted, as a load balancer would be. While the
// server is down the proxy refuses connections.
//
// Soak variant: KALAM_SOAK=1 runs 50,000 events through 6 restarts instead of 5,000 through 2
// (about 2 minutes on the 2-core machine). It is off by default so the suite stays fast.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createConsumerClient, Auth, runConsumer } from '@kalamdb/consumer';
import { startFaultProxy } from './support/fault-proxy.mjs';
import {
  startServer, setupFaultTopic, produce, projectIdempotently, Ledger, assertSinkExactly, committedOffset,
  supervise, waitUntil, sleep, describe, errorSummary, ranges, OUTAGE_RETRY, FAST_CONNECTION_RETRY, FAST_IDLE, WORKER_PASSWORD,
} from './support/fault-kit.mjs';

const SOAK = process.env.KALAM_SOAK === '1';
const TOTAL = SOAK ? 50_000 : 5_000;
const RESTARTS = SOAK ? 6 : 2;
const RUN_TIMEOUT_MS = SOAK ? 900_000 : 150_000;

const server = await startServer();
after(() => server.stop({ removeData: true }));

test(`SIGKILL + restart of the server ${RESTARTS}x during ${TOTAL} events: nothing lost, every event processed, duplicates only above the committed offset, runConsumer never rejects`, { timeout: RUN_TIMEOUT_MS + 30_000 }, async (t) => {
  const s = await setupFaultTopic(server);
  const firstHalf = Math.floor(TOTAL / 2);
  await produce(server, s.events, 0, firstHalf);

  const proxy = await startFaultProxy({ upstreamPort: server.port });
  t.after(() => proxy.close());

  const client = createConsumerClient({
    url: proxy.url,
    authProvider: async () => Auth.basic(s.worker.user, WORKER_PASSWORD),
    requestTimeoutMs: 5000,
  });

  const ledger = new Ledger();
  const deliveries = []; // { offset, enteredAt }: one per finished handler call
  const errors = [];
  const killedAt = []; // killedAt[k - 1]: when the k-th SIGKILL was sent
  // The epoch of a handler call: how many kills happened before it entered.
  const epochOf = (at) => killedAt.filter((k) => k < at).length;
  const committedAtRestart = [-1]; // epoch -> committed offset read from the restarted server before the worker could reach it
  const samples = []; // { at, value }: committed offset read directly from the server

  const worker = supervise((signal) => runConsumer({
    client,
    name: 'restart-projector',
    topic: s.topic,
    groupId: s.group,
    start: 'earliest',
    partitions: [0],
    batchSize: 100,
    retry: OUTAGE_RETRY,
    connectionRetry: FAST_CONNECTION_RETRY,
    idleBackoff: FAST_IDLE,
    stopSignal: signal,
    onError: (info) => { if (errors.length < 10_000) errors.push(info); },
    onChange: async (ctx, change) => {
      const enteredAt = Date.now();
      await projectIdempotently(ctx, s.sink, change);
      ledger.record(change, epochOf(enteredAt));
      deliveries.push({ offset: change.offset, enteredAt });
    },
  }));

  // Committed-offset samples taken straight from the server: a lower bound of what was
  // committed at each moment, used to check that no committed offset is delivered again.
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      try {
        const value = await committedOffset(server, s.topic, s.group);
        if (value !== undefined) samples.push({ at: Date.now(), value });
      } catch { /* server down right now */ }
      await sleep(100);
    }
  })();

  const deadline = Date.now() + RUN_TIMEOUT_MS;
  const remaining = () => Math.max(1000, deadline - Date.now());
  let produced = firstHalf;

  for (let k = 1; k <= RESTARTS; k++) {
    const target = Math.floor((TOTAL * k) / (RESTARTS + 1));
    const reached = await waitUntil(() => worker.outcome.settled || ledger.distinct >= target, { timeoutMs: remaining() });
    assert.ok(reached, `restart ${k}: the worker only finished ${ledger.distinct} of ${target} events before the deadline; errors ${JSON.stringify(errorSummary(errors))}`);
    assert.equal(worker.outcome.settled, false, `runConsumer settled before restart ${k}: ${describe(worker.outcome.error)}`);

    // Crash: SIGKILL with requests in flight, then refuse connections while the server is down.
    killedAt.push(Date.now());
    await server.kill();
    await proxy.cutOff('refuse');
    await sleep(300);
    await server.restart({ samePort: false });
    committedAtRestart[k] = (await committedOffset(server, s.topic, s.group)) ?? -1;

    // More events arrive after the first restart (offsets continue from the stored ones).
    if (k === 1) {
      await produce(server, s.events, produced, TOTAL);
      produced = TOTAL;
    }
    proxy.retarget(server.port);
    await proxy.restore();
  }

  const done = await waitUntil(async () => {
    if (worker.outcome.settled) return true;
    return ledger.distinct >= TOTAL && (await committedOffset(server, s.topic, s.group)) === TOTAL - 1;
  }, { timeoutMs: remaining(), intervalMs: 100 });
  sampling = false;
  await sampler;
  const outcome = await worker.stop();

  // runConsumer never rejected and resolved after stop.
  assert.equal(outcome.rejected, false, `runConsumer rejected: ${describe(outcome.error)}`);
  assert.equal(outcome.settled, true, 'runConsumer resolves after stopSignal aborts');
  assert.ok(done, `not finished in time: ${ledger.distinct}/${TOTAL} events, committed ${await committedOffset(server, s.topic, s.group)}, errors ${JSON.stringify(errorSummary(errors))}`);

  // No event lost, every event processed at least once.
  assert.deepEqual(ranges(ledger.missing(TOTAL)), [], 'offsets never handled (lost)');
  await assertSinkExactly(server, s.sink, Array.from({ length: TOTAL }, (_, i) => i));
  assert.equal(await committedOffset(server, s.topic, s.group), TOTAL - 1, 'committed offset is the last one');

  // Duplicates only for offsets that were not committed when they were delivered again.
  const lowerBound = (at) => {
    let v = -1;
    for (const smp of samples) if (smp.at <= at && smp.value > v) v = smp.value;
    return v;
  };
  const seen = new Map();
  const bad = [];
  for (const d of deliveries) {
    if (seen.has(d.offset)) {
      const epoch = epochOf(d.enteredAt);
      const committedThen = Math.max(committedAtRestart[epoch] ?? -1, lowerBound(d.enteredAt));
      if (d.offset <= committedThen) bad.push({ offset: d.offset, epoch, committedThen });
    }
    seen.set(d.offset, d);
  }
  assert.deepEqual(bad.slice(0, 10), [], 'an offset already committed was delivered again');
  const dupes = ledger.duplicates();
  t.diagnostic(`committed at restarts ${JSON.stringify(committedAtRestart)}; ${dupes.length} offsets delivered twice; errors ${JSON.stringify(errorSummary(errors))}`);
});
