// @ts-check
// Scenario 7: dead-letter handling.
//
// Users place orders (USER table). Some rows are poison (unknown SKU, non-positive quantity):
// the handler throws on every attempt. After the last attempt onFailed writes the row, the error
// and the attempt count into a SHARED dead-letter table; the message is then acknowledged and
// the orders after it (in the same partitions) are fulfilled.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createConsumerClient, Auth, runConsumer } from '@kalamdb/consumer';
import {
  Ledger,
  USER_PASSWORD,
  assertCommittedAtEnd,
  cmp,
  committedCount,
  createUsers,
  isDuplicate,
  pool,
  rootSession,
  runWorkerUntil,
  startServer,
} from './support.mjs';

const server = await startServer();
after(() => server.stop());

const TOPIC = 'billing.order_events';
const GROUP = 'fulfilment';
const WORKER = 'fulfilment_svc';
const USERS = ['wes', 'xena', 'yuri'];
const PER_USER = 12;
const MAX_ATTEMPTS = 4;
const SKUS = ['sku-apple', 'sku-pear', 'sku-plum'];
const DLQ_OUTAGE_ORDER = 'ord-xena-07';
let dlqOutageDone = false;

/** @param {string} user @param {number} i */
function order(user, i) {
  const id = `ord-${user}-${String(i).padStart(2, '0')}`;
  if (i % 5 === 2) return { id, sku: 'sku-unknown', quantity: 1, poison: 'unknown sku' };
  if (i % 5 === 4) return { id, sku: SKUS[i % 3], quantity: 0, poison: 'quantity must be positive' };
  return { id, sku: SKUS[i % 3], quantity: i + 1, poison: '' };
}

test('dead-letter handling: poison orders fail all 4 attempts, land once in the dead-letter table via onFailed with the error and the attempt count (a failed dead-lettering is reported and retried, not skipped), are committed past, and every order after them is fulfilled', async () => {
  const root = await rootSession(server);
  await root.sql('CREATE NAMESPACE IF NOT EXISTS billing');
  await root.sql('CREATE USER TABLE billing.orders (id TEXT PRIMARY KEY, sku TEXT NOT NULL, quantity INT NOT NULL)');
  await root.sql('CREATE SHARED TABLE billing.fulfilled (order_id TEXT PRIMARY KEY, owner TEXT NOT NULL, sku TEXT NOT NULL, quantity INT NOT NULL)');
  await root.sql(
    'CREATE SHARED TABLE billing.dead_letters (order_id TEXT PRIMARY KEY, owner TEXT NOT NULL, error TEXT NOT NULL, attempts INT NOT NULL, failed_partition INT NOT NULL, failed_offset BIGINT NOT NULL, payload TEXT NOT NULL)',
  );
  await root.sql(`CREATE TOPIC ${TOPIC} PARTITIONS 2`);
  await root.sql(`ALTER TOPIC ${TOPIC} ADD SOURCE billing.orders ON INSERT`);
  const users = await createUsers(root, server.url, USERS, 'user');
  await createUsers(root, server.url, [WORKER], 'service');
  const total = USERS.length * PER_USER;

  const client = createConsumerClient({ url: server.url, authProvider: async () => Auth.basic(WORKER, USER_PASSWORD) });
  const ledger = new Ledger();
  /** @type {any[]} */
  const errors = [];
  /** @type {any[]} */
  const retries = [];
  /** @type {Map<string, number>} handler attempts per order id */
  const attempts = new Map();
  /** @type {{ id: string, attempt: number, maxAttempts: number, message: string }[]} */
  const failedCalls = [];

  await runWorkerUntil({
    ledger,
    start: (signal) =>
      runConsumer({
        client,
        name: 'fulfilment',
        topic: TOPIC,
        groupId: GROUP,
        start: 'earliest',
        batchSize: 6,
        partitions: [0, 1],
        retry: { maxAttempts: MAX_ATTEMPTS, initialBackoffMs: 5, maxBackoffMs: 20, multiplier: 2, jitterRatio: 0 },
        idleBackoff: { initialMs: 10, maxMs: 100 },
        stopSignal: signal,
        onRetry: (info) => retries.push(info),
        onError: (info) => errors.push(info),
        onChange: async (ctx, change) => {
          ledger.enter(ctx, change);
          try {
            const o = change.data;
            attempts.set(o.id, (attempts.get(o.id) ?? 0) + 1);
            if (!SKUS.includes(o.sku)) throw new Error(`unknown sku ${o.sku} in ${o.id}`);
            if (!(Number(o.quantity) > 0)) throw new Error(`quantity must be positive in ${o.id}`);
            if (await ctx.queryOne('SELECT order_id FROM billing.fulfilled WHERE order_id = $1', [o.id])) return;
            try {
              await ctx.sql('INSERT INTO billing.fulfilled (order_id, owner, sku, quantity) VALUES ($1, $2, $3, $4)', [o.id, change.user, o.sku, o.quantity]);
            } catch (e) {
              if (!isDuplicate(e)) throw e;
            }
          } finally {
            ledger.leave();
          }
        },
        onFailed: async (ctx, change, error) => {
          const o = change.data;
          const message = error instanceof Error ? error.message : String(error);
          failedCalls.push({ id: o.id, attempt: ctx.attempt, maxAttempts: ctx.maxAttempts, message });
          // The dead-letter store is down the first time for one order: onFailed throws, so that
          // message must not be acknowledged and must come back until it is dead-lettered.
          if (o.id === DLQ_OUTAGE_ORDER && !dlqOutageDone) {
            dlqOutageDone = true;
            throw new Error('dead-letter store unavailable');
          }
          try {
            await ctx.sql(
              'INSERT INTO billing.dead_letters (order_id, owner, error, attempts, failed_partition, failed_offset, payload) VALUES ($1, $2, $3, $4, $5, $6, $7)',
              [o.id, change.user, message, ctx.attempt, change.partitionId, change.offset, JSON.stringify({ id: o.id, sku: o.sku, quantity: o.quantity })],
            );
          } catch (e) {
            if (!isDuplicate(e)) throw e;
          }
        },
      }),
    during: () =>
      pool(USERS, USERS.length, async (user) => {
        for (let i = 0; i < PER_USER; i++) {
          const o = order(user, i);
          await users[user].sql('INSERT INTO billing.orders (id, sku, quantity) VALUES ($1, $2, $3)', [o.id, o.sku, o.quantity]);
        }
      }),
    until: async () => (await committedCount(root, TOPIC, GROUP)) >= total,
    describe: async () =>
      `committed ${await committedCount(root, TOPIC, GROUP)} of ${total}; dead letters so far ${failedCalls.length}; errors ${errors.map((e) => e.error?.message).join('; ')}`,
    timeoutMs: 60000,
  });

  const all = USERS.flatMap((user) => Array.from({ length: PER_USER }, (_, i) => ({ user, ...order(user, i) })));
  const poison = all.filter((o) => o.poison);
  const good = all.filter((o) => !o.poison);

  const fulfilled = await root.allRows('SELECT order_id, owner, sku, quantity FROM billing.fulfilled ORDER BY order_id');
  assert.deepEqual(
    fulfilled.map((r) => ({ ...r, quantity: Number(r.quantity) })),
    good.map((o) => ({ order_id: o.id, owner: o.user, sku: o.sku, quantity: o.quantity })).sort((a, b) => cmp(a.order_id, b.order_id)),
    'every good order, including those after poison rows, is fulfilled exactly once',
  );

  const dead = await root.allRows('SELECT order_id, owner, error, attempts, payload FROM billing.dead_letters ORDER BY order_id');
  assert.deepEqual(
    dead.map((d) => d.order_id),
    poison.map((o) => o.id).sort(),
    'exactly the poison orders are dead-lettered, once each',
  );
  for (const d of dead) {
    const o = /** @type {typeof poison[number]} */ (poison.find((p) => p.id === d.order_id));
    assert.equal(d.owner, o.user);
    assert.equal(Number(d.attempts), MAX_ATTEMPTS, `${d.order_id}: onFailed saw ctx.attempt = maxAttempts`);
    assert.ok(d.error.includes(o.id) && (o.poison === 'unknown sku' ? /unknown sku/.test(d.error) : /quantity/.test(d.error)), `${d.order_id}: the handler's error is recorded (${d.error})`);
    assert.deepEqual(JSON.parse(d.payload), { id: o.id, sku: o.sku, quantity: o.quantity });
  }
  for (const f of failedCalls) assert.equal(f.maxAttempts, MAX_ATTEMPTS);
  assert.ok(poison.some((o) => o.id === DLQ_OUTAGE_ORDER) && dlqOutageDone, 'the dead-letter outage happened on a poison order');
  assert.equal(failedCalls.length, poison.length + 1, 'onFailed ran once per poison order, plus once more for the order whose first dead-lettering failed');
  assert.equal(failedCalls.filter((f) => f.id === DLQ_OUTAGE_ORDER).length, 2);
  for (const o of poison) {
    if (o.id === DLQ_OUTAGE_ORDER) assert.ok((attempts.get(o.id) ?? 0) >= MAX_ATTEMPTS, `${o.id} was attempted again after onFailed threw`);
    else assert.equal(attempts.get(o.id), MAX_ATTEMPTS, `${o.id} was attempted exactly ${MAX_ATTEMPTS} times`);
  }
  for (const o of good) assert.equal(attempts.get(o.id), 1, `${o.id} was handled once`);
  assert.equal(
    retries.filter((r) => r.change?.data?.id !== DLQ_OUTAGE_ORDER).length,
    (poison.length - 1) * (MAX_ATTEMPTS - 1),
    'onRetry before each repeated attempt',
  );
  // onFailed threw once: reported through onError (phase "failed"), nothing else was.
  assert.deepEqual(
    errors.map((e) => ({ phase: e.phase, id: e.change?.data?.id, message: e.error?.message })),
    [{ phase: 'failed', id: DLQ_OUTAGE_ORDER, message: 'dead-letter store unavailable' }],
    'the failed dead-lettering was reported once through onError',
  );

  // Good orders queued behind a poison row in the same partition were processed too.
  const poisonIds = new Set(poison.map((o) => o.id));
  const behindPoison = ledger.calls.filter(
    (c) => !poisonIds.has(String(c.key)) && ledger.calls.some((p) => p.partition === c.partition && p.offset < c.offset && poisonIds.has(String(p.key))),
  );
  assert.ok(behindPoison.length > 0, 'some good orders sat behind a poison row in their partition and were fulfilled');
  await assertCommittedAtEnd(root, TOPIC, GROUP, ledger, total);
});
