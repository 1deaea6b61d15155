// @ts-check
// Scenario 9: webhook delivery with idempotency keys.
//
// Order events (INSERT and UPDATE of a USER table, 3 partitions) are forwarded to a local HTTP
// receiver that fails at random (seeded PRNG): 503 before doing anything, 500 after recording
// (the response is "lost"), or a dropped connection. The worker retries; the receiver records an
// event once per idempotency key and answers duplicates with the original receipt. Every event
// must reach the receiver at least once and be recorded exactly once; the worker stores one
// receipt per event.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { createConsumerClient, Auth, runConsumer } from '@kalamdb/consumer';
import {
  Ledger,
  USER_PASSWORD,
  assertCommittedAtEnd,
  committedCount,
  createUsers,
  isDuplicate,
  pool,
  prng,
  rootSession,
  runWorkerUntil,
  startServer,
} from './support.mjs';

const server = await startServer();
after(() => server.stop());

const TOPIC = 'shop.order_events';
const GROUP = 'webhook-forwarder';
const WORKER = 'webhook_svc';
const USERS = ['ava', 'ben_s', 'cy', 'dee', 'eli'];
const PER_USER = 8;

/** A webhook receiver on 127.0.0.1 that fails at random, deterministically seeded. */
async function startReceiver(seed) {
  const rand = prng(seed);
  /** @type {Map<string, { receipt: string, body: any }>} */
  const records = new Map();
  /** @type {Map<string, number>} */
  const deliveries = new Map();
  const stats = { requests: 0, rejected: 0, lostResponses: 0, dropped: 0, duplicates: 0 };
  const http = createServer((req, res) => {
    let raw = '';
    req.on('data', (d) => (raw += d));
    req.on('end', () => {
      stats.requests++;
      const key = String(req.headers['idempotency-key'] ?? '');
      const roll = rand();
      if (!key || req.method !== 'POST' || req.url !== '/hooks/orders') {
        res.writeHead(400).end('bad request');
        return;
      }
      deliveries.set(key, (deliveries.get(key) ?? 0) + 1);
      if (roll < 0.2) {
        stats.rejected++;
        res.writeHead(503, { 'content-type': 'text/plain' }).end('busy, try again');
        return;
      }
      if (roll < 0.27) {
        stats.dropped++;
        req.socket.destroy(); // connection reset before anything is recorded
        return;
      }
      let record = records.get(key);
      if (record) stats.duplicates++;
      else {
        record = { receipt: `rcpt-${records.size + 1}`, body: JSON.parse(raw) };
        records.set(key, record);
      }
      if (roll < 0.4) {
        stats.lostResponses++;
        res.writeHead(500, { 'content-type': 'text/plain' }).end('recorded, but the response failed');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ receipt: record.receipt }));
    });
  });
  await new Promise((r) => http.listen(0, '127.0.0.1', () => r(undefined)));
  const address = /** @type {import('node:net').AddressInfo} */ (http.address());
  return {
    url: `http://127.0.0.1:${address.port}/hooks/orders`,
    records,
    deliveries,
    stats,
    close: () =>
      new Promise((r) => {
        http.close(() => r(undefined));
        http.closeAllConnections();
      }),
  };
}

test('webhook idempotency: a receiver failing at random (seeded 503s, lost responses, resets) gets every order event at least once and records it exactly once by idempotency key; the worker keeps one receipt per event', async (t) => {
  const root = await rootSession(server);
  await root.sql('CREATE NAMESPACE IF NOT EXISTS shop');
  await root.sql('CREATE USER TABLE shop.orders (id TEXT PRIMARY KEY, total_cents INT NOT NULL, currency TEXT NOT NULL, status TEXT NOT NULL)');
  await root.sql('CREATE SHARED TABLE shop.webhook_receipts (idempotency_key TEXT PRIMARY KEY, order_id TEXT NOT NULL, owner TEXT NOT NULL, status TEXT NOT NULL, receipt TEXT NOT NULL)');
  await root.sql(`CREATE TOPIC ${TOPIC} PARTITIONS 3`);
  await root.sql(`ALTER TOPIC ${TOPIC} ADD SOURCE shop.orders ON INSERT`);
  await root.sql(`ALTER TOPIC ${TOPIC} ADD SOURCE shop.orders ON UPDATE`);
  const users = await createUsers(root, server.url, USERS, 'user');
  await createUsers(root, server.url, [WORKER], 'service');
  const receiver = await startReceiver(20261127);
  t.after(() => receiver.close());

  const paid = (/** @type {number} */ i) => i % 2 === 0;
  const total = USERS.length * (PER_USER + PER_USER / 2);

  const client = createConsumerClient({ url: server.url, authProvider: async () => Auth.basic(WORKER, USER_PASSWORD) });
  const ledger = new Ledger();
  /** @type {any[]} */
  const errors = [];
  /** @type {any[]} */
  const retries = [];

  await runWorkerUntil({
    ledger,
    start: (signal) =>
      runConsumer({
        client,
        name: 'webhook-forwarder',
        topic: TOPIC,
        groupId: GROUP,
        start: 'earliest',
        batchSize: 10,
        partitions: [0, 1, 2],
        retry: { maxAttempts: 10, initialBackoffMs: 5, maxBackoffMs: 40, multiplier: 2, jitterRatio: 0.2 },
        idleBackoff: { initialMs: 10, maxMs: 100 },
        stopSignal: signal,
        onRetry: (info) => retries.push(info),
        onError: (info) => errors.push(info),
        onChange: async (ctx, change) => {
          ledger.enter(ctx, change);
          try {
            const o = change.data;
            const idempotencyKey = `${change.topic}/${change.partitionId}/${change.offset}`;
            const res = await fetch(receiver.url, {
              method: 'POST',
              headers: { 'content-type': 'application/json', 'idempotency-key': idempotencyKey },
              body: JSON.stringify({ event: change.op, order_id: o.id, owner: change.user, status: o.status, total_cents: o.total_cents, currency: o.currency }),
            });
            const text = await res.text();
            if (!res.ok) throw new Error(`webhook answered ${res.status}: ${text}`);
            const { receipt } = JSON.parse(text);
            if (await ctx.queryOne('SELECT receipt FROM shop.webhook_receipts WHERE idempotency_key = $1', [idempotencyKey])) return;
            try {
              await ctx.sql('INSERT INTO shop.webhook_receipts (idempotency_key, order_id, owner, status, receipt) VALUES ($1, $2, $3, $4, $5)', [
                idempotencyKey,
                o.id,
                change.user,
                o.status,
                receipt,
              ]);
            } catch (e) {
              if (!isDuplicate(e)) throw e;
            }
          } finally {
            ledger.leave();
          }
        },
      }),
    during: () =>
      pool(USERS, USERS.length, async (user) => {
        for (let i = 0; i < PER_USER; i++) {
          await users[user].sql('INSERT INTO shop.orders (id, total_cents, currency, status) VALUES ($1, $2, $3, $4)', [`o-${user}-${i}`, 100 * (i + 1), 'EUR', 'created']);
        }
        for (let i = 0; i < PER_USER; i++) {
          if (paid(i)) await users[user].sql('UPDATE shop.orders SET status = $1 WHERE id = $2', ['paid', `o-${user}-${i}`]);
        }
      }),
    until: async () => (await committedCount(root, TOPIC, GROUP)) >= total,
    describe: async () =>
      `committed ${await committedCount(root, TOPIC, GROUP)} of ${total}; receiver ${JSON.stringify(receiver.stats)}; errors ${errors.map((e) => e.error?.message).join('; ')}`,
    timeoutMs: 90000,
  });

  t.diagnostic(`receiver: ${JSON.stringify(receiver.stats)}; handler attempts ${ledger.calls.length}; onRetry ${retries.length}; onError ${errors.length}`);

  // What the receiver recorded: each event once, with the right content.
  const expectedEvents = USERS.flatMap((user) =>
    Array.from({ length: PER_USER }, (_, i) => i).flatMap((i) => [
      { event: 'Insert', order_id: `o-${user}-${i}`, owner: user, status: 'created', total_cents: 100 * (i + 1), currency: 'EUR' },
      ...(paid(i) ? [{ event: 'Update', order_id: `o-${user}-${i}`, owner: user, status: 'paid', total_cents: 100 * (i + 1), currency: 'EUR' }] : []),
    ]),
  );
  const eventKey = (/** @type {any} */ e) => `${e.event}|${e.order_id}|${e.owner}|${e.status}|${e.total_cents}|${e.currency}`;
  assert.equal(receiver.records.size, total, 'one record per event');
  assert.deepEqual([...receiver.records.values()].map((r) => eventKey(r.body)).sort(), expectedEvents.map(eventKey).sort(), 'the receiver recorded every event exactly once');
  for (const [key, n] of receiver.deliveries) assert.ok(n >= 1 && receiver.records.has(key), `${key} was delivered and recorded`);
  assert.ok(receiver.stats.rejected + receiver.stats.dropped + receiver.stats.lostResponses > 0, 'the receiver did fail');
  assert.ok(receiver.stats.duplicates > 0, 'some events were delivered again after a lost response and deduplicated');
  assert.ok(receiver.stats.requests <= ledger.calls.length && receiver.stats.requests > total, 'failed deliveries were attempted again');
  assert.ok(retries.length > 0, 'the runtime retried failed deliveries (onRetry)');
  // An event that exhausts its attempts without onFailed is reported and retried, never skipped.
  for (const e of errors) assert.match(String(e.error?.message ?? e.error), /webhook answered|fetch failed|socket|ECONNRESET|terminated/i);

  // The worker's receipts: one per event, each the receipt the receiver issued for that key.
  const receipts = await root.allRows('SELECT idempotency_key, receipt FROM shop.webhook_receipts ORDER BY idempotency_key');
  assert.equal(receipts.length, total);
  for (const r of receipts) assert.equal(r.receipt, receiver.records.get(r.idempotency_key)?.receipt, `receipt for ${r.idempotency_key}`);
  await assertCommittedAtEnd(root, TOPIC, GROUP, ledger, total);
});
