// @ts-check
// Scenario 1's data and checks, shared with scenario 11 (the deprecated runAgent on the same data).
//
// Four users post into three rooms of a USER table `chat.messages`; an INSERT route publishes
// each message on the 3-partition topic `chat.message_events`. A worker (role service) projects
// every message into the SHARED table `chat.room_messages` (one row per message, keyed by the
// message id) and keeps `chat.room_summary` (messages per room) up to date.
import assert from 'node:assert/strict';
import { KeyedMutex, affected, cmp, createUsers, isDuplicate, lit, pool } from './support.mjs';

export const TOPIC = 'chat.message_events';
export const USERS = ['alice', 'bob', 'carol', 'dave'];
export const ROOMS = ['general', 'random', 'support'];
export const PER_USER = 12;
export const TOTAL = USERS.length * PER_USER;

/**
 * Creates the schema, the topic and its route, the posting users and a service worker.
 * @param {import('./support.mjs').Session} root @param {string} url @param {string} worker
 */
export async function setupChat(root, url, worker) {
  await root.sql('CREATE NAMESPACE IF NOT EXISTS chat');
  await root.sql(
    'CREATE USER TABLE chat.messages (id BIGINT PRIMARY KEY DEFAULT SNOWFLAKE_ID(), room TEXT NOT NULL, body TEXT NOT NULL, sent_at TIMESTAMP DEFAULT NOW())',
  );
  await root.sql('CREATE SHARED TABLE chat.room_messages (msg_id TEXT PRIMARY KEY, room TEXT NOT NULL, author TEXT NOT NULL, body TEXT NOT NULL, run_key TEXT NOT NULL)');
  await root.sql('CREATE SHARED TABLE chat.room_summary (room TEXT PRIMARY KEY, message_count INT NOT NULL)');
  await root.sql(`CREATE TOPIC ${TOPIC} PARTITIONS 3`);
  await root.sql(`ALTER TOPIC ${TOPIC} ADD SOURCE chat.messages ON INSERT WITH (payload = 'full')`);
  const posters = await createUsers(root, url, USERS, 'user');
  await createUsers(root, url, [worker], 'service');
  return posters;
}

/** The i-th message of a user. @param {string} user @param {number} i */
export function plannedMessage(user, i) {
  const room = ROOMS[(i + USERS.indexOf(user)) % ROOMS.length];
  return { room, body: `${user} says #${i} in ${room}` };
}

/** Index encoded in a body ("... #7 in ..."). @param {string} body */
export const bodyIndex = (body) => Number(/#(\d+)/.exec(body)?.[1] ?? -1);

/**
 * Posts the messages [from, to) of every user, each user from its own login, users in
 * parallel; odd chunks go as one multi-row INSERT, the rest one row at a time.
 * @param {Record<string, import('./support.mjs').Session>} posters @param {number} from @param {number} to
 */
export async function postMessages(posters, from, to) {
  await pool(USERS, USERS.length, async (user) => {
    const s = posters[user];
    let i = from;
    while (i < to) {
      if (i % 4 === 1 && i + 2 < to) {
        const rows = [i, i + 1, i + 2].map((k) => plannedMessage(user, k));
        await s.sql(`INSERT INTO chat.messages (room, body) VALUES ${rows.map((r) => `(${lit(r.room)}, ${lit(r.body)})`).join(', ')}`);
        i += 3;
      } else {
        const m = plannedMessage(user, i);
        const res = await s.sql('INSERT INTO chat.messages (room, body) VALUES ($1, $2)', [m.room, m.body]);
        assert.equal(affected(res), 1);
        i += 1;
      }
    }
  });
}

/**
 * What the projection must hold: every message as its author reads it back from the USER table.
 * @param {Record<string, import('./support.mjs').Session>} posters @param {number} [perUser] messages each user posted
 */
export async function expectedChatState(posters, perUser = PER_USER) {
  /** @type {{ msg_id: string, room: string, author: string, body: string }[]} */
  const messages = [];
  for (const user of USERS) {
    const rows = await posters[user].allRows('SELECT id, room, body FROM chat.messages ORDER BY id');
    assert.equal(rows.length, perUser, `${user} sees exactly its own ${perUser} messages (USER-table isolation)`);
    for (const r of rows) {
      assert.equal(typeof r.id, 'string', 'BIGINT ids arrive as strings');
      assert.ok(r.body.startsWith(`${user} says`), `${user} sees only its own rows`);
      messages.push({ msg_id: r.id, room: r.room, author: user, body: r.body });
    }
  }
  messages.sort((a, b) => cmp(a.msg_id, b.msg_id));
  /** @type {Record<string, number>} */
  const perRoom = {};
  for (const m of messages) perRoom[m.room] = (perRoom[m.room] ?? 0) + 1;
  return { messages, perRoom };
}

/** Serialises the summary updates of one room inside this worker process. */
const summaryLock = new KeyedMutex();

/**
 * The projection step both workers run: idempotent by message id (the topic key), safe to run
 * again after a failure at any point, safe with partitions running side by side.
 * @param {{ sql: (s: string, p?: unknown[]) => Promise<any>, queryOne: (s: string, p?: unknown[]) => Promise<any> }} db
 * @param {{ id: string, room: string, body: string, author: string, runKey: string }} m
 * @param {() => void} [afterInsert] hook between the projection row and the summary (forced failures)
 */
export async function projectMessage(db, m, afterInsert) {
  const existing = await db.queryOne('SELECT msg_id FROM chat.room_messages WHERE msg_id = $1', [m.id]);
  if (!existing) {
    try {
      await db.sql('INSERT INTO chat.room_messages (msg_id, room, author, body, run_key) VALUES ($1, $2, $3, $4, $5)', [
        m.id,
        m.room,
        m.author,
        m.body,
        m.runKey,
      ]);
    } catch (e) {
      if (!isDuplicate(e)) throw e;
    }
  }
  afterInsert?.();
  // The count is recomputed (idempotent) under a per-room lock of this worker. A conditional
  // UPDATE is not a compare-and-set (docs/PROTOCOL.md §11): without the lock, two partitions
  // could both pass `message_count < $2` and the older count could be written last.
  await summaryLock.run(m.room, async () => {
    const counted = await db.queryOne('SELECT COUNT(*) AS n FROM chat.room_messages WHERE room = $1', [m.room]);
    const n = Number(counted?.n);
    assert.ok(Number.isInteger(n) && n > 0, `COUNT(*) returned ${JSON.stringify(counted)}`);
    for (let tries = 0; tries < 5; tries++) {
      const updated = await db.sql('UPDATE chat.room_summary SET message_count = $2 WHERE room = $1 AND message_count < $2', [m.room, n]);
      if (affected(updated) > 0) return;
      const row = await db.queryOne('SELECT message_count FROM chat.room_summary WHERE room = $1', [m.room]);
      if (row) return; // already at n or higher
      try {
        await db.sql('INSERT INTO chat.room_summary (room, message_count) VALUES ($1, $2)', [m.room, n]);
        return;
      } catch (e) {
        if (!isDuplicate(e)) throw e; // the row exists after all: raise it on the next turn
      }
    }
    throw new Error(`could not update the summary of ${m.room}`);
  });
}

/**
 * Asserts the projection equals the expected state: every message exactly once, the right
 * room/author/body, one distinct run key each, and the per-room counts.
 * @param {import('./support.mjs').Session} root @param {Awaited<ReturnType<typeof expectedChatState>>} expected
 */
export async function assertChatProjection(root, expected) {
  const rows = await root.allRows('SELECT msg_id, room, author, body, run_key FROM chat.room_messages ORDER BY msg_id');
  const total = expected.messages.length;
  assert.equal(rows.length, total, 'one projection row per message');
  assert.deepEqual(
    rows.map((r) => ({ msg_id: r.msg_id, room: r.room, author: r.author, body: r.body })).sort((a, b) => cmp(a.msg_id, b.msg_id)),
    expected.messages,
    'the projection holds every message exactly once, attributed to the user who wrote it',
  );
  const runKeys = new Set(rows.map((r) => r.run_key));
  assert.equal(runKeys.size, total, 'each message was projected under its own run key');
  for (const k of runKeys) assert.ok(typeof k === 'string' && k.length > 0);
  const summary = await root.allRows('SELECT room, message_count FROM chat.room_summary ORDER BY room');
  assert.deepEqual(
    Object.fromEntries(summary.map((r) => [r.room, Number(r.message_count)])),
    expected.perRoom,
    'per-room counts equal the number of messages posted in each room',
  );
}
