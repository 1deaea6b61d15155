// runConsumer({ concurrency: N }) end to end against kalam-devserver: message keys come from the
// source table's primary key (an UPDATE of a row repeats its key) and are null for a stream
// table without one (docs/PROTOCOL.md §4.4); the committed offset is read from
// system.topic_offsets as root. The stub-server counterpart, with exact control over when each
// handler finishes, is tests/unit/concurrency-stub.test.mjs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runConsumer } from '@kalamdb/consumer';
import { useDevServer, createServiceUser, uniqueName, committedOffset, waitFor, within, sleep } from './support/devserver.mjs';
import { clientFor, fastRunOptions } from './support/consumer.mjs';

// A short claim visibility timeout, so a worker restarted after a stop gets the claim of the
// stopped one back within seconds (§3.4).
const VISIBILITY_S = 2;
const server = await useDevServer({ args: ['--visibility-timeout-secs', String(VISIBILITY_S)] });
const worker = await createServiceUser(server);

/** A topic fed by a keyed USER table (insert and update) and a STREAM table without a key. */
async function keyedTopic() {
  const ns = uniqueName('conc');
  await server.sql(`CREATE NAMESPACE IF NOT EXISTS ${ns}`);
  await server.sql(`CREATE USER TABLE ${ns}.items (id BIGINT PRIMARY KEY, n BIGINT)`);
  await server.sql(`CREATE STREAM TABLE ${ns}.signals (n BIGINT) WITH (TTL_SECONDS = 3600)`);
  await server.sql(`CREATE TOPIC ${ns}.events PARTITIONS 1`);
  for (const [table, op] of [['items', 'INSERT'], ['items', 'UPDATE'], ['signals', 'INSERT']]) {
    await server.sql(`ALTER TOPIC ${ns}.events ADD SOURCE ${ns}.${table} ON ${op} WITH (payload = 'full')`);
  }
  return { items: `${ns}.items`, signals: `${ns}.signals`, topic: `${ns}.events` };
}

function start(options) {
  const controller = new AbortController();
  const running = runConsumer({
    ...fastRunOptions(), client: clientFor(server, worker), name: 'conc', logger: false, stopSignal: controller.signal, ...options,
  });
  let settled = false;
  running.then(() => { settled = true; }, () => { settled = true; });
  return {
    running,
    get settled() {
      return settled;
    },
    abort: () => controller.abort(),
    stop: () => {
      controller.abort();
      return within(15_000, running, 'runConsumer after stopSignal');
    },
  };
}

function gate() {
  let open;
  const promise = new Promise((resolve) => { open = resolve; });
  return { promise, open };
}

const range = (from, to) => Array.from({ length: to - from }, (_, i) => from + i);

test('same key: one at a time in offset order while other keys run beside it; at most N at once, N reached; null keys one at a time', async () => {
  const t = await keyedTopic();
  const ids = range(1, 9);
  // Round 0 inserts row n = 0; rounds 1..4 update it to n = round. A stream row every few writes.
  let streamN = 0;
  for (let round = 0; round < 5; round++) {
    for (const id of ids) {
      if (round === 0) await server.sql(`INSERT INTO ${t.items} (id, n) VALUES ($1, $2)`, [id, 0]);
      else await server.sql(`UPDATE ${t.items} SET n = $1 WHERE id = $2`, [round, id]);
      if (id % 3 === 0) await server.sql(`INSERT INTO ${t.signals} (n) VALUES ($1)`, [streamN++]);
    }
  }
  const total = ids.length * 5 + streamN;

  const running = new Map(); // offset -> key
  const starts = [];
  const overlaps = [];
  let max = 0;
  const group = uniqueName('g');
  const w = start({
    topic: t.topic, groupId: group, concurrency: 4, batchSize: 100,
    onChange: async (_ctx, change) => {
      for (const [offset, key] of running) {
        if (key === change.key) overlaps.push(`offset ${change.offset} (key ${change.key}) started while ${offset} ran`);
      }
      running.set(change.offset, change.key);
      max = Math.max(max, running.size);
      starts.push({ offset: change.offset, key: change.key, n: Number(change.data.n) });
      await sleep(Math.floor(Math.random() * 15));
      running.delete(change.offset);
    },
  });
  try {
    await waitFor(async () => (await committedOffset(server, t.topic, group)) === total - 1, { message: `all ${total} messages committed`, timeoutMs: 20_000 });
  } finally {
    await w.stop();
  }

  assert.deepEqual(overlaps, []);
  assert.equal(starts.length, total, 'each message handled once');
  assert.deepEqual(starts.map((s) => s.offset).sort((a, b) => a - b), range(0, total));
  for (const id of ids) {
    const ofKey = starts.filter((s) => s.key === String(id));
    assert.deepEqual(ofKey.map((s) => s.n), [0, 1, 2, 3, 4], `row ${id}: insert, then its updates in write order`);
    assert.deepEqual(ofKey.map((s) => s.offset), ofKey.map((s) => s.offset).sort((a, b) => a - b), `row ${id}: offset order`);
  }
  const keyless = starts.filter((s) => s.key === null);
  assert.equal(keyless.length, streamN, 'stream rows arrive without a key');
  assert.deepEqual(keyless.map((s) => s.n), range(0, streamN), 'messages without a key in offset (write) order');
  assert.equal(max, 4, 'four handlers at once, never more');
});

test('the committed offset never passes a running message while later ones finish and ctx.ack(); it reaches the end once it finishes', async () => {
  const t = await keyedTopic();
  for (const id of range(0, 10)) await server.sql(`INSERT INTO ${t.items} (id, n) VALUES ($1, $2)`, [id, id]);
  const slow = gate();
  const finished = new Set();
  const group = uniqueName('g');
  const w = start({
    topic: t.topic, groupId: group, concurrency: 10, batchSize: 10,
    onChange: async (ctx, change) => {
      if (change.offset === 3) await slow.promise;
      finished.add(change.offset);
      await ctx.ack();
    },
  });
  try {
    await waitFor(() => finished.size === 9, { message: 'every message but offset 3 finished' });
    const seen = [];
    for (let i = 0; i < 6; i++) {
      seen.push(await committedOffset(server, t.topic, group));
      await sleep(50);
    }
    assert.ok(!finished.has(3));
    assert.ok(seen.every((c) => c === 2), `committed offsets while offset 3 ran: ${seen}`);
    slow.open();
    await waitFor(async () => (await committedOffset(server, t.topic, group)) === 9, { message: 'committed up to 9' });
  } finally {
    slow.open();
    await w.stop();
  }
});

test('stop mid-batch: running handlers drain, the finished prefix is committed, a restarted worker handles everything after it exactly once', async () => {
  const t = await keyedTopic();
  const total = 12;
  for (const id of range(0, total)) await server.sql(`INSERT INTO ${t.items} (id, n) VALUES ($1, $2)`, [id, id]);
  const gates = range(0, total).map(() => gate());
  const started = [];
  const finished = new Set();
  const group = uniqueName('g');
  const w = start({
    topic: t.topic, groupId: group, concurrency: 4, batchSize: total, drainTimeoutMs: 500,
    onChange: async (_ctx, change) => {
      started.push(change.offset);
      await gates[change.offset].promise;
      finished.add(change.offset);
    },
  });
  let second;
  try {
    await waitFor(() => started.length === 4, { message: 'four handlers running' });
    assert.deepEqual([...started].sort((a, b) => a - b), [0, 1, 2, 3]);
    w.abort();
    gates[1].open();
    gates[3].open();
    await sleep(150);
    assert.equal(w.settled, false, 'runConsumer waits for running handlers');
    gates[0].open();
    // Offset 2 outlives drainTimeoutMs: abandoned, uncommitted.
    await within(10_000, w.running, 'runConsumer after the drain');
    assert.deepEqual([...started].sort((a, b) => a - b), [0, 1, 2, 3], 'nothing started after stop');
    assert.deepEqual([...finished].sort((a, b) => a - b), [0, 1, 3]);
    assert.equal(await committedOffset(server, t.topic, group), 1, 'the finished prefix 0..1, not 3');

    // The stopped worker's claim comes back after the visibility timeout.
    const again = [];
    second = start({
      topic: t.topic, groupId: group, concurrency: 4, batchSize: total,
      onChange: async (_ctx, change) => { again.push(change.offset); },
    });
    await waitFor(async () => (await committedOffset(server, t.topic, group)) === total - 1, {
      message: 'everything committed by the restarted worker', timeoutMs: VISIBILITY_S * 1000 + 10_000,
    });
    // Offsets 0..1 come again too: the expired claim is redelivered from its start, acked prefix
    // included (docs/PROTOCOL.md §3.4), and a worker starting at `earliest` whose first batch
    // starts there cannot tell them from new ones. Only what follows the commit must be exact.
    const beyond = again.filter((o) => o > 1).sort((a, b) => a - b);
    assert.deepEqual(beyond, range(2, total), `offsets after the committed one, each exactly once (handled: ${again})`);
  } finally {
    for (const g of gates) g.open();
    await w.stop().catch(() => {});
    await second?.stop();
  }
});
