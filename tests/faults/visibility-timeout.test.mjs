// Fault: claims expiring (--visibility-timeout-secs 1). The server re-delivers an expired claim
// from its start, including messages that were already handled (docs/PROTOCOL.md §3.4, §10.3). The
// redelivered range must be handled without double effects and without losing anything.
//
// The handler's effect is deliberately not idempotent by itself (a counter increment); it is
// guarded by ctx.runKey in an `applied` table, so double effects show up as a wrong counter only
// if the runtime hands out a different runKey for the same message, and losses show up as
// missing run keys.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createConsumerClient, Auth, runConsumer } from '@kalamdb/consumer';
import { startFaultProxy } from './support/fault-proxy.mjs';
import {
  startServer, setupFaultTopic, produce, projectIdempotently, isDuplicate, assertSinkExactly, committedOffset,
  supervise, sleep, describe, errorSummary, ranges, FAST_RETRY, FAST_CONNECTION_RETRY, FAST_IDLE, WORKER_PASSWORD,
} from './support/fault-kit.mjs';

const server = await startServer(['--visibility-timeout-secs', '1']);
after(() => server.stop({ removeData: true }));

const NAME = 'vt-worker';

async function setup(total) {
  const s = await setupFaultTopic(server);
  s.applied = `${s.ns}.applied`;
  s.counter = `${s.ns}.counter`;
  await server.sql(`CREATE SHARED TABLE ${s.applied} (run_key TEXT PRIMARY KEY, src_offset BIGINT)`);
  await server.sql(`CREATE SHARED TABLE ${s.counter} (name TEXT PRIMARY KEY, n BIGINT)`);
  await server.sql(`INSERT INTO ${s.counter} (name, n) VALUES ('events', 0)`);
  await produce(server, s.events, 0, total);
  return s;
}

/** The effect, applied at most once per runKey. Returns 'applied' or 'skipped'. */
async function applyOnce(ctx, s, change) {
  try {
    await ctx.sql(`INSERT INTO ${s.applied} (run_key, src_offset) VALUES ($1, $2)`, [ctx.runKey, change.offset]);
  } catch (err) {
    if (isDuplicate(err)) return 'skipped';
    throw err;
  }
  await ctx.sql(`UPDATE ${s.counter} SET n = n + 1 WHERE name = 'events'`);
  await projectIdempotently(ctx, s.sink, change);
  return 'applied';
}

function worker(s, { url = server.url, onEnter } = {}) {
  const client = createConsumerClient({ url, authProvider: async () => Auth.basic(s.worker.user, WORKER_PASSWORD), requestTimeoutMs: 5000 });
  const deliveries = []; // { offset, result }
  const errors = [];
  const handle = supervise((signal) => runConsumer({
    client,
    name: NAME,
    topic: s.topic,
    groupId: s.group,
    start: 'earliest',
    partitions: [0],
    batchSize: 20,
    retry: FAST_RETRY,
    connectionRetry: FAST_CONNECTION_RETRY,
    idleBackoff: FAST_IDLE,
    stopSignal: signal,
    onError: (info) => { if (errors.length < 10_000) errors.push(info); },
    onChange: async (ctx, change) => {
      if (onEnter) await onEnter(change, signal);
      deliveries.push({ offset: change.offset, result: await applyOnce(ctx, s, change) });
    },
  }));
  return { handle, deliveries, errors };
}

/** Waits until everything is applied and committed, or until nothing changes for quietMs. */
async function settle(s, total, { timeoutMs = 30_000, quietMs = 4000 } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  let lastChange = Date.now();
  for (;;) {
    const applied = (await server.rows(`SELECT COUNT(*) AS n FROM ${s.applied}`))[0];
    const committed = await committedOffset(server, s.topic, s.group);
    const key = `${Number(applied?.n)}:${committed}`;
    if (Number(applied?.n) === total && committed === total - 1) return 'done';
    if (key !== last) { last = key; lastChange = Date.now(); }
    if (Date.now() - lastChange > quietMs) return `stalled at applied/committed ${key}`;
    if (Date.now() > deadline) return `timeout at applied/committed ${key}`;
    await sleep(100);
  }
}

async function assertExactlyOnce(s, total) {
  const appliedRows = await server.allRows(`SELECT run_key, src_offset FROM ${s.applied} ORDER BY run_key`);
  const offsets = appliedRows.map((r) => Number(r.src_offset));
  const want = Array.from({ length: total }, (_, i) => i);
  assert.deepEqual(ranges(want.filter((o) => !offsets.includes(o))), [], 'offsets whose effect never happened (lost)');
  assert.equal(appliedRows.length, total, 'one applied run key per message');
  for (const r of appliedRows) assert.equal(r.run_key, `${NAME}:${s.topic}:0:${Number(r.src_offset)}`, 'runKey is <name>:<topic>:<partition>:<offset>');
  const counter = (await server.rows(`SELECT n FROM ${s.counter} WHERE name = 'events'`))[0];
  assert.equal(Number(counter.n), total, 'the counter was incremented exactly once per message (no double effects)');
  await assertSinkExactly(server, s.sink, want);
  assert.equal(await committedOffset(server, s.topic, s.group), total - 1, 'committed offset is the last message');
}

test('a handler slower than the visibility timeout: the expired claim is not applied twice, nothing lost, committed offset is the last', { timeout: 60_000 }, async () => {
  const total = 60;
  const s = await setup(total);
  const w = worker(s, { onEnter: async (change) => { if (change.offset === 5) await sleep(2500); } });
  const result = await settle(s, total);
  const outcome = await w.handle.stop();
  assert.equal(outcome.rejected, false, `runConsumer rejected: ${describe(outcome.error)}`);
  assert.equal(result, 'done', `worker did not finish: ${result}; errors ${JSON.stringify(errorSummary(w.errors))}`);
  await assertExactlyOnce(s, total);
});

test('a consume answer lost in transit: the claimed range comes back after the visibility timeout and is processed exactly once, nothing committed past it unprocessed', { timeout: 60_000 }, async (t) => {
  const total = 80;
  const s = await setup(total);
  const proxy = await startFaultProxy({ upstreamPort: server.port });
  t.after(() => proxy.close());
  // The second consume reaches the server (which claims offsets 20..39); its answer is lost.
  let consumes = 0;
  const rule = proxy.addRule({ match: '/v1/api/topics/consume', action: 'reset', phase: 'response', times: 0 });
  const w = worker(s, {
    url: proxy.url,
    onEnter: async (change) => { if (change.offset === 19 && consumes++ === 0) rule.remaining = 1; },
  });
  const result = await settle(s, total);
  const outcome = await w.handle.stop();
  t.diagnostic(`result ${result}; deliveries ${w.deliveries.length}; errors ${JSON.stringify(errorSummary(w.errors))}`);
  assert.equal(rule.hits, 1, 'the consume answer was dropped once');
  assert.equal(outcome.rejected, false, `runConsumer rejected: ${describe(outcome.error)}`);
  await assertExactlyOnce(s, total);
  assert.equal(result, 'done');
});

test('worker handover mid-batch (first worker stopped, a new one in the same group): the redelivered range is processed without double effects and nothing is lost', { timeout: 60_000 }, async (t) => {
  const total = 50;
  const s = await setup(total);
  // Worker A stops while handling offset 7 of its first batch (0..19): it commits 7, but the
  // server keeps the claim on 0..19 until the visibility timeout.
  let reached;
  const atSeven = new Promise((r) => { reached = r; });
  const a = worker(s, { onEnter: async (change) => { if (change.offset === 7) { reached(); await sleep(200); } } });
  await atSeven;
  a.handle.abort();
  const outA = await a.handle.stop();
  assert.equal(outA.rejected, false, `worker A rejected: ${describe(outA.error)}`);
  assert.equal(await committedOffset(server, s.topic, s.group), 7, 'worker A committed what it finished');

  // Worker B takes over at once, same name and group.
  const b = worker(s);
  const result = await settle(s, total);
  const outB = await b.handle.stop();
  t.diagnostic(`result ${result}; B deliveries ${b.deliveries.length} (${b.deliveries.filter((d) => d.result === 'skipped').length} skipped by runKey); errors ${JSON.stringify(errorSummary(b.errors))}`);
  assert.equal(outB.rejected, false, `worker B rejected: ${describe(outB.error)}`);
  await assertExactlyOnce(s, total);
  assert.equal(result, 'done');
});
