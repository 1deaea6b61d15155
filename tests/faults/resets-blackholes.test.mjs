// Fault: connection resets and 2 s blackholes while the worker consumes and while it acks.
//
// Faults are aimed at single HTTP requests through the TCP fault proxy: before a request
// reaches the server (the server never sees it) and after (the server acted on it, the answer is
// lost). A consume whose answer is lost leaves a claim on the server that only the visibility
// timeout releases (docs/PROTOCOL.md §3.4), so this server runs with --visibility-timeout-secs 2: the
// lost range must come back and be processed, never be committed past and dropped.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createConsumerClient, Auth, runConsumer } from '@kalamdb/consumer';
import { startFaultProxy } from './support/fault-proxy.mjs';
import {
  startServer, setupFaultTopic, produce, projectIdempotently, Ledger, assertSinkExactly, committedOffset,
  supervise, waitUntil, sleep, describe, errorSummary, ranges, OUTAGE_RETRY, FAST_CONNECTION_RETRY, FAST_IDLE, WORKER_PASSWORD,
} from './support/fault-kit.mjs';

const TOTAL = 600;
const CONSUME = '/v1/api/topics/consume';
const ACK = '/v1/api/topics/ack';

const server = await startServer(['--visibility-timeout-secs', '2']);
after(() => server.stop({ removeData: true }));

/** Runs until all TOTAL events are handled and committed, or progress stalls; returns stats. */
async function runUntilSettled({ worker, ledger, s, timeoutMs, quietMs = 6000 }) {
  const deadline = Date.now() + timeoutMs;
  let lastDistinct = -1;
  let lastChange = Date.now();
  for (;;) {
    if (worker.outcome.settled) return 'settled';
    const committed = await committedOffset(server, s.topic, s.group).catch(() => undefined);
    if (ledger.distinct >= TOTAL && committed === TOTAL - 1) return 'done';
    if (ledger.distinct !== lastDistinct) { lastDistinct = ledger.distinct; lastChange = Date.now(); }
    // Everything committed but events missing and nothing moves any more: they are lost.
    if (committed === TOTAL - 1 && Date.now() - lastChange > quietMs) return 'stalled';
    if (Date.now() > deadline) return 'timeout';
    await sleep(100);
  }
}

test('connection resets, added latency and 2 s blackholes during consume and during ack: every event processed, sink exact, committed offset is the last, runConsumer never rejects', { timeout: 150_000 }, async (t) => {
  const s = await setupFaultTopic(server);
  await produce(server, s.events, 0, TOTAL);
  const proxy = await startFaultProxy({ upstreamPort: server.port });
  t.after(() => proxy.close());

  const client = createConsumerClient({
    url: proxy.url,
    authProvider: async () => Auth.basic(s.worker.user, WORKER_PASSWORD),
    // Shorter than a blackhole: some blackholed requests time out on the client side first.
    requestTimeoutMs: 1500,
  });
  const ledger = new Ledger();
  const errors = [];
  const worker = supervise((signal) => runConsumer({
    client,
    name: 'reset-projector',
    topic: s.topic,
    groupId: s.group,
    start: 'earliest',
    partitions: [0],
    batchSize: 20,
    retry: OUTAGE_RETRY,
    connectionRetry: FAST_CONNECTION_RETRY,
    idleBackoff: FAST_IDLE,
    stopSignal: signal,
    onError: (info) => { if (errors.length < 10_000) errors.push(info); },
    onChange: async (ctx, change) => {
      await projectIdempotently(ctx, s.sink, change);
      ledger.record(change);
    },
  }));

  // Fault schedule, armed as the worker makes progress.
  const rules = [];
  const schedule = [
    [40, 'consume reset before the server sees it (x3)', () => rules.push(proxy.addRule({ match: CONSUME, action: 'reset', phase: 'request', times: 3 }))],
    [90, 'consume answered by the server, answer lost to a reset (x2)', () => rules.push(proxy.addRule({ match: CONSUME, action: 'reset', phase: 'response', times: 2 }))],
    [150, 'ack reset before the server sees it (x2)', () => rules.push(proxy.addRule({ match: ACK, action: 'reset', phase: 'request', times: 2 }))],
    [210, 'ack applied by the server, answer lost to a reset (x2)', () => rules.push(proxy.addRule({ match: ACK, action: 'reset', phase: 'response', times: 2 }))],
    [270, 'consume blackholed for 2 s before the server', () => rules.push(proxy.addRule({ match: CONSUME, action: 'blackhole', phase: 'request', durationMs: 2000 }))],
    [330, 'ack applied, answer blackholed for 2 s', () => rules.push(proxy.addRule({ match: ACK, action: 'blackhole', phase: 'response', durationMs: 2000 }))],
    [390, 'consume answered, answer blackholed for 2 s', () => rules.push(proxy.addRule({ match: CONSUME, action: 'blackhole', phase: 'response', durationMs: 2000 }))],
    [450, 'everything blackholed for 2 s', () => proxy.blackhole(2000)],
    [480, '40 ms of added latency each way', () => proxy.setLatency(40)],
    [510, 'latency off; all open connections reset, and the next 5', () => { proxy.setLatency(0); proxy.resetAll(); proxy.resetNext(5); }],
  ];
  for (const [at, what, arm] of schedule) {
    const ok = await waitUntil(() => worker.outcome.settled || ledger.distinct >= at, { timeoutMs: 30_000 });
    assert.ok(ok && !worker.outcome.settled, `before "${what}": worker at ${ledger.distinct} events, settled=${worker.outcome.settled} ${describe(worker.outcome.error)}; errors ${JSON.stringify(errorSummary(errors))}`);
    t.diagnostic(`arming at ${ledger.distinct} events: ${what}`);
    arm();
  }

  const result = await runUntilSettled({ worker, ledger, s, timeoutMs: 60_000 });
  const outcome = await worker.stop();
  const committed = await committedOffset(server, s.topic, s.group);
  t.diagnostic(`result ${result}; committed ${committed}; ${ledger.distinct}/${TOTAL} handled; duplicates ${ledger.duplicates().length}; errors ${JSON.stringify(errorSummary(errors))}`);

  assert.equal(outcome.rejected, false, `runConsumer rejected: ${describe(outcome.error)}`);
  for (const rule of rules) assert.equal(rule.remaining, 0, `fault ${rule.phase} ${rule.action} on ${rule.match} was not triggered`);
  assert.deepEqual(ranges(ledger.missing(TOTAL)), [], 'offsets never handled (lost)');
  await assertSinkExactly(server, s.sink, Array.from({ length: TOTAL }, (_, i) => i));
  assert.equal(committed, TOTAL - 1, 'committed offset is the last event');
  assert.equal(result, 'done');
});
