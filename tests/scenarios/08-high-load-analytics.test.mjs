// @ts-check
// Scenario 8: high-load analytics.
//
// Four users write 20,000 page-view events in bulk (multi-row INSERTs of 500 rows) into a
// USER table routed to a 4-partition topic. The worker aggregates views and total duration per
// (user, page) in memory, de-duplicating by (partition, offset), and writes the aggregates to a
// SHARED table when it shuts down. The aggregates must equal a direct SQL COUNT(*)/SUM per user.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createConsumerClient, Auth, runConsumer } from '@kalamdb/consumer';
import {
  Ledger,
  USER_PASSWORD,
  assertCommittedAtEnd,
  committedCount,
  createUsers,
  pool,
  prng,
  rootSession,
  runWorkerUntil,
  startServer,
} from './support.mjs';
import { recordingFetch } from '../support/devserver.mjs';

const server = await startServer();
after(() => server.stop());

const TOPIC = 'metrics.view_events';
const GROUP = 'page-analytics';
const WORKER = 'analytics_svc';
const USERS = ['site_a', 'site_b', 'site_c', 'site_d'];
const PAGES = ['/', '/pricing', '/docs', '/blog', '/signup', '/login', '/about'];
// KALAM_SCENARIO_EVENTS raises the event count for a soak (at least 20,000; rounded to whole
// 500-row statements per user).
const PER_USER = Math.max(5000, Math.round(Number(process.env.KALAM_SCENARIO_EVENTS ?? 20000) / 4 / 500) * 500);
const BATCH = 500;
const TOTAL = USERS.length * PER_USER;

test(`high-load analytics: ${TOTAL.toLocaleString('en-US')} events written in 500-row INSERTs are consumed over 4 partitions exactly once, and the per-user, per-page aggregates equal a direct SQL COUNT(*) and SUM`, async (t) => {
  const root = await rootSession(server);
  await root.sql('CREATE NAMESPACE IF NOT EXISTS metrics');
  await root.sql('CREATE USER TABLE metrics.page_views (id BIGINT PRIMARY KEY, page TEXT NOT NULL, duration_ms INT NOT NULL)');
  await root.sql(
    'CREATE SHARED TABLE metrics.page_totals (bucket TEXT PRIMARY KEY, owner TEXT NOT NULL, page TEXT NOT NULL, views INT NOT NULL, total_duration_ms BIGINT NOT NULL)',
  );
  await root.sql(`CREATE TOPIC ${TOPIC} PARTITIONS 4`);
  await root.sql(`ALTER TOPIC ${TOPIC} ADD SOURCE metrics.page_views ON INSERT`);
  const users = await createUsers(root, server.url, USERS, 'user');
  await createUsers(root, server.url, [WORKER], 'service');

  const recorder = recordingFetch();
  const client = createConsumerClient({ url: server.url, authProvider: async () => Auth.basic(WORKER, USER_PASSWORD), fetch: recorder.fetch });
  const ledger = new Ledger();
  /** @type {any[]} */
  const errors = [];
  /** @type {Set<string>} */
  const seen = new Set();
  /** @type {Map<string, { owner: string, page: string, views: number, total: number }>} */
  const totals = new Map();
  let deliveries = 0;
  const began = Date.now();
  let writesDoneAt = 0;

  /** Writes the aggregates (absolute values, so a second flush is harmless). */
  async function flush() {
    for (const [bucket, agg] of totals) {
      const existing = await client.queryOne('SELECT bucket FROM metrics.page_totals WHERE bucket = $1', [bucket]);
      if (existing) {
        await client.query('UPDATE metrics.page_totals SET views = $2, total_duration_ms = $3 WHERE bucket = $1', [bucket, agg.views, agg.total]);
      } else {
        await client.query('INSERT INTO metrics.page_totals (bucket, owner, page, views, total_duration_ms) VALUES ($1, $2, $3, $4, $5)', [
          bucket,
          agg.owner,
          agg.page,
          agg.views,
          agg.total,
        ]);
      }
    }
  }

  await runWorkerUntil({
    start: async (signal) => {
      await runConsumer({
        client,
        name: 'page-analytics',
        topic: TOPIC,
        groupId: GROUP,
        start: 'earliest',
        batchSize: 500,
        partitions: [0, 1, 2, 3],
        retry: { maxAttempts: 3, initialBackoffMs: 5, maxBackoffMs: 20 },
        idleBackoff: { initialMs: 10, maxMs: 100 },
        stopSignal: signal,
        onError: (info) => errors.push(info),
        onChange: async (ctx, change) => {
          deliveries++;
          ledger.calls.push({ partition: change.partitionId, offset: change.offset, key: change.key, op: change.op, user: change.user, attempt: ctx.attempt, runKey: ctx.runKey });
          if (ledger.signal?.aborted) ledger.startedAfterStop++;
          const id = `${change.partitionId}:${change.offset}`;
          if (seen.has(id)) return;
          seen.add(id);
          const v = change.data;
          const bucket = `${change.user}|${v.page}`;
          const agg = totals.get(bucket) ?? { owner: change.user, page: v.page, views: 0, total: 0 };
          agg.views += 1;
          agg.total += Number(v.duration_ms);
          totals.set(bucket, agg);
        },
      });
      await flush(); // shutdown: persist the aggregates
    },
    ledger,
    during: async () => {
      // Each user writes its 5,000 events in ten 500-row INSERT statements; users in parallel.
      await pool(USERS, USERS.length, async (user) => {
        const rand = prng(1000 + USERS.indexOf(user));
        for (let b = 0; b < PER_USER / BATCH; b++) {
          const values = [];
          for (let k = 0; k < BATCH; k++) {
            const id = USERS.indexOf(user) * 1_000_000_000 + b * BATCH + k + 1;
            const page = PAGES[Math.floor(rand() * PAGES.length)];
            const duration = 1 + Math.floor(rand() * 5000);
            values.push(`(${id}, '${page}', ${duration})`);
          }
          const res = await users[user].sql(`INSERT INTO metrics.page_views (id, page, duration_ms) VALUES ${values.join(', ')}`);
          assert.equal(res.results[0].row_count, BATCH, 'one multi-row INSERT inserts 500 rows');
        }
      });
      writesDoneAt = Date.now();
    },
    until: async () => (await committedCount(root, TOPIC, GROUP)) >= TOTAL,
    describe: async () => `committed ${await committedCount(root, TOPIC, GROUP)} of ${TOTAL}; delivered ${deliveries}; errors ${errors.map((e) => e.error?.message).join('; ')}`,
    timeoutMs: Math.max(120000, TOTAL * 5),
  });
  const elapsed = Date.now() - began;
  t.diagnostic(`${TOTAL} events: writes took ${writesDoneAt - began} ms, consumed and committed after ${elapsed} ms (${Math.round(TOTAL / (elapsed / 1000))} events/s end to end)`);

  // Direct SQL, per user (USER tables are per owner): COUNT(*) and SUM per page.
  /** @type {Record<string, { views: number, total: number }>} */
  const direct = {};
  let directTotal = 0;
  for (const user of USERS) {
    const rows = await users[user].allRows('SELECT page, COUNT(*) AS views, SUM(duration_ms) AS total FROM metrics.page_views GROUP BY page ORDER BY page');
    for (const r of rows) {
      direct[`${user}|${r.page}`] = { views: Number(r.views), total: Number(r.total) };
      directTotal += Number(r.views);
    }
  }
  assert.equal(directTotal, TOTAL, 'the source holds every event');

  const persisted = await root.allRows('SELECT bucket, owner, page, views, total_duration_ms FROM metrics.page_totals ORDER BY bucket');
  /** @type {Record<string, { views: number, total: number }>} */
  const fromWorker = {};
  for (const r of persisted) fromWorker[r.bucket] = { views: Number(r.views), total: Number(r.total_duration_ms) };
  assert.deepEqual(fromWorker, direct, 'the worker\'s aggregates equal the direct SQL aggregates exactly');

  assert.equal(deliveries, TOTAL, 'with no failures every event was delivered exactly once');

  // Commits: cumulative, per batch, never one HTTP ack per message.
  const acks = recorder.acks.map((a) => /** @type {any} */ (a.body));
  const batches = Math.ceil(TOTAL / 500);
  t.diagnostic(`${recorder.consumes.length} consume requests, ${acks.length} acks`);
  assert.ok(acks.length >= batches / 4 && acks.length <= recorder.consumes.length + 4, `acks are per batch (${acks.length} acks, ${recorder.consumes.length} polls)`);
  assert.ok(acks.length < TOTAL / 50, 'far fewer acks than messages');
  for (const p of [0, 1, 2, 3]) {
    const ups = acks.filter((a) => a.partition_id === p).map((a) => Number(a.upto_offset));
    assert.deepEqual(ups, [...ups].sort((x, y) => x - y), `partition ${p}: acks only move forward`);
  }
  assert.equal(new Set(ledger.calls.map((c) => c.partition)).size, 4, 'all four partitions carried events');
  assert.deepEqual(errors, []);
  await assertCommittedAtEnd(root, TOPIC, GROUP, ledger, TOTAL);
});
