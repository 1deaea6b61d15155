// runAgent(): the deprecated alias that keeps old onRow(ctx, row) workers running.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runAgent } from '@kalamdb/consumer';
import { useDevServer, setupTopic, createServiceUser, uniqueName, committedOffset, waitFor, within } from './support/devserver.mjs';
import { clientFor, insertRows, fastRunOptions } from './support/consumer.mjs';

const server = await useDevServer();
const worker = await createServiceUser(server);
await server.sql(`CREATE USER alice WITH PASSWORD 'alice-pass-1' ROLE user`);
const client = clientFor(server, worker);

// Capture deprecation warnings however they are emitted (console.warn or process.emitWarning).
const warnings = [];
const originalWarn = console.warn;
console.warn = (...args) => { warnings.push(args.map(String).join(' ')); };
process.on('warning', (w) => { warnings.push(`${w.name}: ${w.message}`); });

async function agentUntil(options, until) {
  const controller = new AbortController();
  let settled = false;
  const running = runAgent({ ...fastRunOptions(), ...options, stopSignal: controller.signal });
  running.then(() => { settled = true; }, () => { settled = true; });
  try {
    await waitFor(async () => settled || (await until()), { message: 'runAgent condition' });
  } finally {
    controller.abort();
  }
  return within(15_000, running, 'runAgent after stopSignal');
}

// Tests in this file run one after another: the warning count depends on the order.
test('runAgent delivers onRow(ctx, row) with ctx.message, ctx.row, ctx.user and commits', async () => {
  const t = await setupTopic(server);
  await insertRows(server, t.table, [{ id: 1, body: 'hello' }, { id: 2, body: 'world' }], { asUser: 'alice' });
  const group = uniqueName('g');
  const calls = [];
  await agentUntil({
    client, name: 'legacy', topic: t.topic, groupId: group,
    onRow: async (ctx, row) => { calls.push({ ctx, row }); },
  }, async () => (await committedOffset(server, t.topic, group)) === 1);
  assert.equal(calls.length, 2);
  const [{ ctx, row }] = calls;
  assert.equal(row.body, 'hello');
  assert.deepEqual(ctx.row, row, 'ctx.row is the row');
  assert.equal(ctx.user, 'alice');
  assert.equal(ctx.message.offset, 0);
  assert.equal(ctx.message.payload?.body ?? ctx.message.value?.body, 'hello', 'ctx.message is the topic message');
  assert.deepEqual(calls.map((c) => c.row.body), ['hello', 'world']);
});

test('runAgent uses a custom rowParser', async () => {
  const t = await setupTopic(server);
  await insertRows(server, t.table, [{ id: 7, body: 'parsed' }]);
  const rows = [];
  await agentUntil({
    client, name: 'legacy-parser', topic: t.topic, groupId: uniqueName('g'),
    rowParser: (message) => ({ upper: String((message.payload ?? message.value).body).toUpperCase() }),
    onRow: async (_ctx, row) => { rows.push(row); },
  }, () => rows.length === 1);
  assert.deepEqual(rows, [{ upper: 'PARSED' }]);
});

test('runAgent without onFailed does not drop a failing row: it rejects with RETRIES_EXHAUSTED, nothing is committed past it and later rows are not delivered', async () => {
  const t = await setupTopic(server);
  await insertRows(server, t.table, [{ id: 1, body: 'poison' }, { id: 2, body: 'fine' }]);
  const group = uniqueName('g');
  const rows = [];
  const errors = [];
  const controller = new AbortController();
  const running = runAgent({
    ...fastRunOptions(), client, name: 'legacy-poison', topic: t.topic, groupId: group, stopSignal: controller.signal, logger: false,
    retry: { maxAttempts: 2, initialBackoffMs: 5, maxBackoffMs: 20, multiplier: 2, jitterRatio: 0 },
    onRow: async (_ctx, row) => { rows.push(row.body); if (row.body === 'poison') throw new Error('boom'); },
    onError: (info) => { errors.push(info); },
  });
  const timer = setTimeout(() => controller.abort(), 15_000);
  try {
    await assert.rejects(within(20_000, running, 'runAgent with a failing row'), (err) => {
      assert.equal(err.code, 'RETRIES_EXHAUSTED');
      assert.ok(err.message.includes(`${t.topic}[0]@0`), `names topic[partition]@offset: ${err.message}`);
      assert.match(err.message, /onFailed/, 'names the way out');
      return true;
    });
  } finally {
    clearTimeout(timer);
  }
  assert.deepEqual(rows, ['poison', 'poison'], 'tried maxAttempts times, then stopped; the next row was not delivered');
  assert.ok(errors.some((e) => e.phase === 'handler' && e.message?.offset === 0), 'the exhausted row was reported through onError');
  assert.equal(await committedOffset(server, t.topic, group), undefined, 'the failing row was not committed past');
});

test('runAgent logs exactly one deprecation warning per process, however often it is called', () => {
  console.warn = originalWarn;
  const deprecations = warnings.filter((w) => /deprecat/i.test(w) && /runAgent/.test(w));
  assert.equal(deprecations.length, 1, `one warning expected, got: ${JSON.stringify(warnings)}`);
  assert.match(deprecations[0], /runConsumer/, 'the warning points to runConsumer');
});
