// @ts-check
// Scenario 2: per-user unread counters that follow inserts and deletes.
//
// Five users send each other direct messages (a USER table owned by the sender, with the
// recipient as a column), then unsend some of them (DELETE by the sender). INSERT and DELETE
// routes publish both; the worker keeps one row per unread message and a counter per recipient.
// DELETE events carry the old row with `_deleted: true`, which is the only way the worker
// learns whose counter to decrement.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createConsumerClient, Auth, runConsumer, TopicOp } from '@kalamdb/consumer';
import {
  KeyedMutex,
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

const TOPIC = 'inbox.dm_events';
const GROUP = 'unread-counter';
const WORKER = 'unread_worker';
const USERS = ['ann', 'ben', 'cat', 'dan', 'eve'];
const PER_USER = 10;

/** The i-th DM of a sender: to the other users in turn; everything addressed to eve is unsent later. */
function plan(sender, i) {
  const others = USERS.filter((u) => u !== sender);
  const recipient = others[i % others.length];
  const id = `dm-${sender}-${String(i).padStart(2, '0')}`;
  const unsent = recipient === 'eve' || i % 3 === 2;
  return { id, recipient, body: `hi ${recipient}, ${sender} here (#${i})`, unsent };
}

test('unread counters follow inserts and deletes: DELETE events (_deleted: true, old row) decrement the right recipient, down to zero, and every counter equals the messages still unread', async () => {
  const root = await rootSession(server);
  await root.sql('CREATE NAMESPACE IF NOT EXISTS inbox');
  await root.sql('CREATE USER TABLE inbox.dms (id TEXT PRIMARY KEY, recipient TEXT NOT NULL, body TEXT NOT NULL)');
  await root.sql('CREATE SHARED TABLE inbox.unread_items (msg_id TEXT PRIMARY KEY, recipient TEXT NOT NULL, sender TEXT NOT NULL)');
  await root.sql('CREATE SHARED TABLE inbox.unread_counts (recipient TEXT PRIMARY KEY, unread INT NOT NULL)');
  await root.sql(`CREATE TOPIC ${TOPIC} PARTITIONS 2`);
  await root.sql(`ALTER TOPIC ${TOPIC} ADD SOURCE inbox.dms ON INSERT`);
  await root.sql(`ALTER TOPIC ${TOPIC} ADD SOURCE inbox.dms ON DELETE`);
  const users = await createUsers(root, server.url, USERS, 'user');
  await createUsers(root, server.url, [WORKER], 'service');

  // Every DM is sent before the worker starts; the unsends happen while it runs.
  await pool(USERS, USERS.length, async (sender) => {
    for (let i = 0; i < PER_USER; i++) {
      const m = plan(sender, i);
      await users[sender].sql('INSERT INTO inbox.dms (id, recipient, body) VALUES ($1, $2, $3)', [m.id, m.recipient, m.body]);
    }
  });
  const unsends = USERS.flatMap((sender) => Array.from({ length: PER_USER }, (_, i) => ({ sender, ...plan(sender, i) })).filter((m) => m.unsent));
  const totalEvents = USERS.length * PER_USER + unsends.length;

  const client = createConsumerClient({ url: server.url, authProvider: async () => Auth.basic(WORKER, USER_PASSWORD) });
  const ledger = new Ledger();
  const perRecipient = new KeyedMutex();
  /** @type {any[]} */
  const errors = [];

  await runWorkerUntil({
    ledger,
    start: (signal) =>
      runConsumer({
        client,
        name: 'unread-counter',
        topic: TOPIC,
        groupId: GROUP,
        start: 'earliest',
        batchSize: 7,
        partitions: [0, 1],
        retry: { maxAttempts: 3, initialBackoffMs: 5, maxBackoffMs: 20 },
        idleBackoff: { initialMs: 10, maxMs: 100 },
        stopSignal: signal,
        onError: (info) => errors.push(info),
        onChange: async (ctx, change) => {
          ledger.enter(ctx, change);
          try {
            const row = change.data;
            ledger.check(() => {
              assert.ok(USERS.includes(change.user), `user is the sender, got ${change.user}`);
              assert.equal(change.key, row.id);
              if (change.op === TopicOp.Delete) {
                assert.equal(row._deleted, true, 'a DELETE payload has _deleted: true');
                assert.equal(typeof row.recipient, 'string', 'a DELETE payload carries the old row');
                assert.match(row.body, /^hi /, 'a DELETE payload carries the old row');
              } else {
                assert.equal(change.op, TopicOp.Insert);
                assert.equal(row._deleted, false);
              }
            });
            // The counter of one recipient is recounted under a lock, so partitions running side by
            // side cannot write an older count over a newer one.
            await perRecipient.run(row.recipient, async () => {
              if (change.op === TopicOp.Delete || row._deleted === true) {
                await ctx.sql('DELETE FROM inbox.unread_items WHERE msg_id = $1', [row.id]);
              } else {
                const seen = await ctx.queryOne('SELECT msg_id FROM inbox.unread_items WHERE msg_id = $1', [row.id]);
                if (!seen) {
                  try {
                    await ctx.sql('INSERT INTO inbox.unread_items (msg_id, recipient, sender) VALUES ($1, $2, $3)', [row.id, row.recipient, change.user]);
                  } catch (e) {
                    if (!isDuplicate(e)) throw e;
                  }
                }
              }
              const unread = await ctx.queryOne('SELECT COUNT(*) AS n FROM inbox.unread_items WHERE recipient = $1', [row.recipient]);
              const n = Number(unread?.n);
              const current = await ctx.queryOne('SELECT unread FROM inbox.unread_counts WHERE recipient = $1', [row.recipient]);
              if (current) await ctx.sql('UPDATE inbox.unread_counts SET unread = $2 WHERE recipient = $1', [row.recipient, n]);
              else await ctx.sql('INSERT INTO inbox.unread_counts (recipient, unread) VALUES ($1, $2)', [row.recipient, n]);
            });
          } finally {
            ledger.leave();
          }
        },
      }),
    during: async () => {
      for (const m of unsends) {
        const res = await users[m.sender].sql('DELETE FROM inbox.dms WHERE id = $1', [m.id]);
        assert.equal(res.results[0].row_count, 1, `${m.sender} unsent ${m.id}`);
      }
    },
    until: async () => (await committedCount(root, TOPIC, GROUP)) >= totalEvents,
    describe: async () => `committed ${await committedCount(root, TOPIC, GROUP)} of ${totalEvents}; errors ${errors.map((e) => e.error?.message).join('; ')}`,
    timeoutMs: 60000,
  });

  // Expected state from the plan.
  /** @type {Record<string, number>} */
  const expectedCounts = Object.fromEntries(USERS.map((u) => [u, 0]));
  /** @type {{ msg_id: string, recipient: string, sender: string }[]} */
  const expectedItems = [];
  for (const sender of USERS) {
    for (let i = 0; i < PER_USER; i++) {
      const m = plan(sender, i);
      if (!m.unsent) {
        expectedCounts[m.recipient]++;
        expectedItems.push({ msg_id: m.id, recipient: m.recipient, sender });
      }
    }
  }
  assert.equal(expectedCounts.eve, 0, 'the plan takes eve back to zero');

  // The source agrees with the plan: each sender still sees only its own unsent-free messages.
  for (const sender of USERS) {
    const rows = await users[sender].allRows('SELECT id FROM inbox.dms ORDER BY id');
    assert.deepEqual(
      rows.map((r) => r.id),
      expectedItems.filter((m) => m.sender === sender).map((m) => m.msg_id),
    );
  }

  const counts = await root.allRows('SELECT recipient, unread FROM inbox.unread_counts ORDER BY recipient');
  assert.deepEqual(
    Object.fromEntries(counts.map((r) => [r.recipient, Number(r.unread)])),
    expectedCounts,
    'every recipient has a counter equal to its messages still unread (eve back at 0)',
  );
  const items = await root.allRows('SELECT msg_id, recipient, sender FROM inbox.unread_items ORDER BY msg_id');
  assert.deepEqual(items, expectedItems.sort((a, b) => cmp(a.msg_id, b.msg_id)), 'unread items are exactly the messages not unsent');

  const deletes = ledger.calls.filter((c) => c.op === 'Delete');
  assert.equal(new Set(deletes.map((c) => c.key)).size, unsends.length, 'one DELETE event per unsent message');
  assert.deepEqual(errors, []);
  await assertCommittedAtEnd(root, TOPIC, GROUP, ledger, totalEvents);
});
