// @ts-check
// Scenario 5: delete redaction.
//
// Users keep CRM notes (USER table). The worker derives a search index from them (SHARED
// tables: one index row per note and one row per term). Notes are edited (UPDATE carries the
// new row) and deleted (DELETE carries the old row); every piece of text that was deleted or
// edited away must vanish from the derived tables, and each deletion leaves a content-free
// redaction record.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createConsumerClient, Auth, runConsumer, TopicOp } from '@kalamdb/consumer';
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

const TOPIC = 'crm.note_events';
const GROUP = 'note-indexer';
const WORKER = 'note_indexer';
const USERS = ['quinn', 'rosa', 'sam'];
const PER_USER = 10;

/** @param {string} user @param {number} i */
const noteId = (user, i) => `note-${user}-${i}`;
/** A unique marker per note version, so leaks can be searched for. @param {string} user @param {number} i @param {number} v */
const secret = (user, i, v) => `zq${user}${i}v${v}secret`;
/** @param {string} user @param {number} i @param {number} v */
const body = (user, i, v) => `customer ${i % 4} asked about invoice ${100 + i} code ${secret(user, i, v)} follow up`;
const deleted = (/** @type {number} */ i) => i % 3 === 0; // 0, 3, 6, 9
const edited = (/** @type {number} */ i) => i % 4 === 1; // 1, 5, 9 (9 is edited, then deleted)
const terms = (/** @type {string} */ text) => text.toLowerCase().split(/[^a-z0-9]+/).filter(Boolean);

test('delete redaction: DELETE events remove every derived row of a note and UPDATE events replace stale text, so no deleted or edited-away text survives anywhere in the projections', async () => {
  const root = await rootSession(server);
  await root.sql('CREATE NAMESPACE IF NOT EXISTS crm');
  await root.sql('CREATE USER TABLE crm.notes (id TEXT PRIMARY KEY, customer TEXT NOT NULL, body TEXT NOT NULL)');
  await root.sql('CREATE SHARED TABLE crm.note_index (note_id TEXT PRIMARY KEY, owner TEXT NOT NULL, customer TEXT NOT NULL, snippet TEXT NOT NULL, term_count INT NOT NULL)');
  await root.sql('CREATE SHARED TABLE crm.note_terms (term_id TEXT PRIMARY KEY, note_id TEXT NOT NULL, term TEXT NOT NULL)');
  await root.sql('CREATE SHARED TABLE crm.redactions (note_id TEXT PRIMARY KEY, owner TEXT NOT NULL, redacted_offset BIGINT NOT NULL)');
  await root.sql(`CREATE TOPIC ${TOPIC} PARTITIONS 2`);
  for (const op of ['INSERT', 'UPDATE', 'DELETE']) await root.sql(`ALTER TOPIC ${TOPIC} ADD SOURCE crm.notes ON ${op}`);
  const users = await createUsers(root, server.url, USERS, 'user');
  await createUsers(root, server.url, [WORKER], 'service');

  let totalEvents = 0;
  for (let i = 0; i < PER_USER; i++) totalEvents += 1 + (edited(i) ? 1 : 0) + (deleted(i) ? 1 : 0);
  totalEvents *= USERS.length;

  const client = createConsumerClient({ url: server.url, authProvider: async () => Auth.basic(WORKER, USER_PASSWORD) });
  const ledger = new Ledger();
  /** @type {any[]} */
  const errors = [];

  await runWorkerUntil({
    ledger,
    start: (signal) =>
      runConsumer({
        client,
        name: 'note-indexer',
        topic: TOPIC,
        groupId: GROUP,
        start: 'earliest',
        batchSize: 8,
        partitions: [0, 1],
        retry: { maxAttempts: 3, initialBackoffMs: 5, maxBackoffMs: 20 },
        idleBackoff: { initialMs: 10, maxMs: 100 },
        stopSignal: signal,
        onError: (info) => errors.push(info),
        onChange: async (ctx, change) => {
          ledger.enter(ctx, change);
          try {
            const note = change.data;
            ledger.check(() => {
              assert.ok(USERS.includes(change.user));
              assert.equal(change.data._deleted, change.op === TopicOp.Delete, '_deleted is true exactly for DELETE events');
            });
            // Whatever happens next, the note's old terms go first (idempotent).
            await ctx.sql('DELETE FROM crm.note_terms WHERE note_id = $1', [note.id]);
            if (change.op === TopicOp.Delete) {
              await ctx.sql('DELETE FROM crm.note_index WHERE note_id = $1', [note.id]);
              try {
                await ctx.sql('INSERT INTO crm.redactions (note_id, owner, redacted_offset) VALUES ($1, $2, $3)', [note.id, change.user, change.offset]);
              } catch (e) {
                if (!isDuplicate(e)) throw e;
              }
              return;
            }
            const words = terms(note.body);
            for (let k = 0; k < words.length; k++) {
              await ctx.sql('INSERT INTO crm.note_terms (term_id, note_id, term) VALUES ($1, $2, $3)', [`${note.id}:${k}`, note.id, words[k]]);
            }
            const snippet = note.body.slice(0, 60);
            const existing = await ctx.queryOne('SELECT note_id FROM crm.note_index WHERE note_id = $1', [note.id]);
            if (existing) {
              await ctx.sql('UPDATE crm.note_index SET customer = $2, snippet = $3, term_count = $4 WHERE note_id = $1', [note.id, note.customer, snippet, words.length]);
            } else {
              await ctx.sql('INSERT INTO crm.note_index (note_id, owner, customer, snippet, term_count) VALUES ($1, $2, $3, $4, $5)', [
                note.id,
                change.user,
                note.customer,
                snippet,
                words.length,
              ]);
            }
          } finally {
            ledger.leave();
          }
        },
      }),
    during: () =>
      pool(USERS, USERS.length, async (user) => {
        const s = users[user];
        for (let i = 0; i < PER_USER; i++) {
          await s.sql('INSERT INTO crm.notes (id, customer, body) VALUES ($1, $2, $3)', [noteId(user, i), `cust-${i % 4}`, body(user, i, 1)]);
        }
        for (let i = 0; i < PER_USER; i++) {
          if (edited(i)) await s.sql('UPDATE crm.notes SET body = $1 WHERE id = $2', [body(user, i, 2), noteId(user, i)]);
        }
        for (let i = 0; i < PER_USER; i++) {
          if (deleted(i)) await s.sql('DELETE FROM crm.notes WHERE id = $1', [noteId(user, i)]);
        }
      }),
    until: async () => (await committedCount(root, TOPIC, GROUP)) >= totalEvents,
    describe: async () => `committed ${await committedCount(root, TOPIC, GROUP)} of ${totalEvents}; errors ${errors.map((e) => e.error?.message).join('; ')}`,
    timeoutMs: 60000,
  });

  const index = await root.allRows('SELECT note_id, owner, customer, snippet, term_count FROM crm.note_index ORDER BY note_id');
  const termRows = await root.allRows('SELECT term_id, note_id, term FROM crm.note_terms ORDER BY term_id');
  const redactions = await root.allRows('SELECT note_id, owner FROM crm.redactions ORDER BY note_id');

  // No deleted or edited-away text anywhere in the derived tables.
  const everything = JSON.stringify({ index, termRows, redactions });
  for (const user of USERS) {
    for (let i = 0; i < PER_USER; i++) {
      if (deleted(i)) {
        for (const v of [1, 2]) assert.ok(!everything.includes(secret(user, i, v)), `text of deleted ${noteId(user, i)} (v${v}) survived`);
        assert.ok(!index.some((r) => r.note_id === noteId(user, i)) && !termRows.some((r) => r.note_id === noteId(user, i)), `${noteId(user, i)} still indexed`);
      } else if (edited(i)) {
        assert.ok(!everything.includes(secret(user, i, 1)), `edited-away text of ${noteId(user, i)} survived`);
      }
    }
  }

  // The surviving notes are indexed with their current text, term by term.
  /** @type {any[]} */
  const expectedIndex = [];
  /** @type {Map<string, string[]>} */
  const expectedTerms = new Map();
  for (const user of USERS) {
    for (let i = 0; i < PER_USER; i++) {
      if (deleted(i)) continue;
      const text = body(user, i, edited(i) ? 2 : 1);
      expectedIndex.push({ note_id: noteId(user, i), owner: user, customer: `cust-${i % 4}`, snippet: text.slice(0, 60), term_count: terms(text).length });
      expectedTerms.set(noteId(user, i), terms(text));
    }
  }
  expectedIndex.sort((a, b) => cmp(a.note_id, b.note_id));
  assert.deepEqual(
    index.map((r) => ({ ...r, term_count: Number(r.term_count) })),
    expectedIndex,
    'the index holds exactly the surviving notes with their latest text',
  );
  /** @type {Map<string, string[]>} */
  const actualTerms = new Map();
  for (const r of [...termRows].sort((a, b) => Number(a.term_id.split(':').pop()) - Number(b.term_id.split(':').pop()))) {
    actualTerms.set(r.note_id, [...(actualTerms.get(r.note_id) ?? []), r.term]);
  }
  assert.deepEqual(new Map([...actualTerms].sort()), new Map([...expectedTerms].sort()), 'the term table holds exactly the terms of the latest text');

  const expectedRedactions = USERS.flatMap((user) => Array.from({ length: PER_USER }, (_, i) => i).filter(deleted).map((i) => ({ note_id: noteId(user, i), owner: user })));
  expectedRedactions.sort((a, b) => cmp(a.note_id, b.note_id));
  assert.deepEqual(redactions, expectedRedactions, 'one content-free redaction record per deleted note');

  // The source agrees: each user still sees only its surviving notes.
  for (const user of USERS) {
    const rows = await users[user].allRows('SELECT id FROM crm.notes ORDER BY id');
    assert.deepEqual(
      rows.map((r) => r.id),
      expectedIndex.filter((n) => n.owner === user).map((n) => n.note_id),
    );
  }
  assert.deepEqual(errors, []);
  await assertCommittedAtEnd(root, TOPIC, GROUP, ledger, totalEvents);
});
