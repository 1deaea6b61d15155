// @ts-check
// Scenario 4: concurrent tool-call auditing over several partitions and many users.
//
// Twelve users run AI agent sessions at the same time; each tool call is a row of a USER table
// that goes requested (INSERT) -> running (UPDATE) -> ok | error (UPDATE). The worker appends
// one audit row per event to a SHARED audit log, keyed by call id and step. Partitions run side
// by side; per key the events must arrive one at a time and in order, even when a handler fails
// and is retried.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createConsumerClient, Auth, runConsumer } from '@kalamdb/consumer';
import {
  Ledger,
  USER_PASSWORD,
  assertCommittedAtEnd,
  committedCount,
  createUsers,
  isDuplicate,
  pool,
  rootSession,
  runWorkerUntil,
  sleep,
  startServer,
} from './support.mjs';

const server = await startServer();
after(() => server.stop());

const TOPIC = 'agents.tool_call_events';
const GROUP = 'tool-auditor';
const WORKER = 'tool_auditor';
const USERS = Array.from({ length: 12 }, (_, i) => `agent_user${String(i + 1).padStart(2, '0')}`);
const CALLS_PER_USER = 6;
const TOOLS = ['web_search', 'sql_query', 'send_email', 'read_file'];

/** @param {string} user @param {number} i */
function call(user, i) {
  const id = `call-${user}-${i}`;
  const finalStatus = (i + user.length) % 4 === 0 ? 'error' : 'ok';
  return { id, session_id: `sess-${user}-${i % 2}`, tool: TOOLS[(i * 7 + user.length) % TOOLS.length], finalStatus };
}
const STATUS_BY_STEP = (/** @type {number} */ step, /** @type {string} */ finalStatus) => (step === 1 ? 'requested' : step === 2 ? 'running' : finalStatus);

test('tool-call auditing: 12 users, 4 partitions handled side by side; every tool-call event is audited exactly once and in order per call, retries included', async () => {
  const root = await rootSession(server);
  await root.sql('CREATE NAMESPACE IF NOT EXISTS agents');
  await root.sql(
    'CREATE USER TABLE agents.tool_calls (id TEXT PRIMARY KEY, session_id TEXT NOT NULL, tool TEXT NOT NULL, step INT NOT NULL, status TEXT NOT NULL, result TEXT)',
  );
  await root.sql(
    'CREATE SHARED TABLE agents.audit_log (audit_id TEXT PRIMARY KEY, call_id TEXT NOT NULL, owner TEXT NOT NULL, tool TEXT NOT NULL, step INT NOT NULL, status TEXT NOT NULL, topic_partition INT NOT NULL, topic_offset BIGINT NOT NULL)',
  );
  await root.sql(`CREATE TOPIC ${TOPIC} PARTITIONS 4`);
  await root.sql(`ALTER TOPIC ${TOPIC} ADD SOURCE agents.tool_calls ON INSERT`);
  await root.sql(`ALTER TOPIC ${TOPIC} ADD SOURCE agents.tool_calls ON UPDATE`);
  const users = await createUsers(root, server.url, USERS, 'user');
  await createUsers(root, server.url, [WORKER], 'service');
  const total = USERS.length * CALLS_PER_USER * 3;

  const client = createConsumerClient({ url: server.url, authProvider: async () => Auth.basic(WORKER, USER_PASSWORD) });
  const ledger = new Ledger();
  /** @type {Set<string>} keys whose handler is running right now */
  const keysInFlight = new Set();
  /** @type {Set<number>} partitions with a handler running right now */
  const partitionsInFlight = new Set();
  let maxPartitionsAtOnce = 0;
  /** @type {any[]} */
  const errors = [];
  let forced = 0;

  await runWorkerUntil({
    ledger,
    start: (signal) =>
      runConsumer({
        client,
        name: 'tool-auditor',
        topic: TOPIC,
        groupId: GROUP,
        start: 'earliest',
        batchSize: 16,
        partitions: [0, 1, 2, 3],
        retry: { maxAttempts: 3, initialBackoffMs: 5, maxBackoffMs: 20 },
        idleBackoff: { initialMs: 10, maxMs: 100 },
        stopSignal: signal,
        onError: (info) => errors.push(info),
        onChange: async (ctx, change) => {
          ledger.enter(ctx, change);
          const key = String(change.key);
          ledger.check(() => {
            assert.ok(!keysInFlight.has(key), `two handlers ran at once for key ${key}`);
            assert.ok(USERS.includes(change.user), `user is the caller, got ${change.user}`);
          });
          keysInFlight.add(key);
          partitionsInFlight.add(change.partitionId);
          maxPartitionsAtOnce = Math.max(maxPartitionsAtOnce, partitionsInFlight.size);
          try {
            const row = change.data;
            const step = Number(row.step);
            const auditId = `${row.id}#${step}`;
            if (step > 1) {
              const previous = await ctx.queryOne('SELECT audit_id FROM agents.audit_log WHERE audit_id = $1', [`${row.id}#${step - 1}`]);
              ledger.check(() => assert.ok(previous, `step ${step} of ${row.id} arrived before step ${step - 1} was audited`));
            }
            await sleep(1 + (change.offset % 3)); // some work, so partitions overlap
            if (step === 2 && Number(row.id.split('-').pop()) % 3 === 0 && ctx.attempt === 1) {
              forced++;
              throw new Error(`forced failure auditing ${auditId}`);
            }
            const done = await ctx.queryOne('SELECT audit_id FROM agents.audit_log WHERE audit_id = $1', [auditId]);
            if (!done) {
              try {
                await ctx.sql(
                  'INSERT INTO agents.audit_log (audit_id, call_id, owner, tool, step, status, topic_partition, topic_offset) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)',
                  [auditId, row.id, change.user, row.tool, step, row.status, change.partitionId, change.offset],
                );
              } catch (e) {
                if (!isDuplicate(e)) throw e;
              }
            }
          } finally {
            keysInFlight.delete(key);
            partitionsInFlight.delete(change.partitionId);
            ledger.leave();
          }
        },
      }),
    during: () =>
      // All users at once; each moves its calls through the three steps, interleaved.
      pool(USERS, USERS.length, async (user) => {
        const s = users[user];
        for (let i = 0; i < CALLS_PER_USER; i++) {
          const c = call(user, i);
          await s.sql('INSERT INTO agents.tool_calls (id, session_id, tool, step, status) VALUES ($1, $2, $3, 1, $4)', [c.id, c.session_id, c.tool, 'requested']);
        }
        for (let i = 0; i < CALLS_PER_USER; i++) {
          await s.sql('UPDATE agents.tool_calls SET step = 2, status = $1 WHERE id = $2', ['running', call(user, i).id]);
        }
        for (let i = CALLS_PER_USER - 1; i >= 0; i--) {
          const c = call(user, i);
          await s.sql('UPDATE agents.tool_calls SET step = 3, status = $1, result = $2 WHERE id = $3', [c.finalStatus, `result of ${c.id}`, c.id]);
        }
      }),
    until: async () => (await committedCount(root, TOPIC, GROUP)) >= total,
    describe: async () => `committed ${await committedCount(root, TOPIC, GROUP)} of ${total}; errors ${errors.map((e) => e.error?.message).join('; ')}`,
    timeoutMs: 90000,
  });

  const audit = await root.allRows('SELECT audit_id, call_id, owner, tool, step, status, topic_partition, topic_offset FROM agents.audit_log ORDER BY audit_id');
  assert.equal(audit.length, total, 'one audit row per tool-call event');
  /** @type {Map<string, any[]>} */
  const byCall = new Map();
  for (const a of audit) byCall.set(a.call_id, [...(byCall.get(a.call_id) ?? []), a]);
  assert.equal(byCall.size, USERS.length * CALLS_PER_USER, 'every tool call is audited');
  for (const user of USERS) {
    for (let i = 0; i < CALLS_PER_USER; i++) {
      const c = call(user, i);
      const rows = (byCall.get(c.id) ?? []).sort((a, b) => Number(a.step) - Number(b.step));
      assert.deepEqual(
        rows.map((r) => ({ step: Number(r.step), status: r.status, owner: r.owner, tool: r.tool })),
        [1, 2, 3].map((step) => ({ step, status: STATUS_BY_STEP(step, c.finalStatus), owner: user, tool: c.tool })),
        `${c.id} audited once per step, attributed to ${user}`,
      );
      assert.equal(new Set(rows.map((r) => Number(r.topic_partition))).size, 1, `${c.id}: all events of one key share a partition`);
      const offsets = rows.map((r) => Number(r.topic_offset));
      assert.ok(offsets[0] < offsets[1] && offsets[1] < offsets[2], `${c.id}: steps were audited in offset order`);
    }
  }
  const partitionsUsed = new Set(ledger.calls.map((c) => c.partition));
  assert.equal(partitionsUsed.size, 4, 'all four partitions carried events');
  assert.ok(maxPartitionsAtOnce >= 2, `partitions were handled side by side (max ${maxPartitionsAtOnce} at once)`);
  assert.ok(forced > 0, 'some handlers failed on purpose');
  assert.equal(ledger.calls.length, total + forced, 'each event was handled once, plus once more per forced failure');
  assert.deepEqual(errors, []);
  await assertCommittedAtEnd(root, TOPIC, GROUP, ledger, total);
});
