// client.consumeBatch(): one-shot polling, the message shape and the batch metadata.

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { TopicOp, isKalamConsumerError } from '@kalamdb/consumer';
import { useDevServer, setupTopic, createServiceUser, uniqueName, recordingFetch } from './support/devserver.mjs';
import { clientFor, insertRows } from './support/consumer.mjs';
import { startRawServer, loginBody, wireMessage } from './support/raw-server.mjs';

const server = await useDevServer();
const worker = await createServiceUser(server);
await server.sql(`CREATE USER alice WITH PASSWORD 'alice-pass-1' ROLE user`);
const client = clientFor(server, worker);

// 2^53 + 1: not representable as a JS number.
const BIG = '9007199254740993';

describe('consumeBatch', { concurrency: true }, () => {
  let t; // topic with insert/update/delete routes on a USER table written by alice
  before(async () => {
    t = await setupTopic(server, {
      columns: 'id BIGINT PRIMARY KEY, body TEXT, qty INT, big BIGINT, meta JSON, done BOOLEAN',
      ops: ['insert', 'update', 'delete'],
    });
    await insertRows(server, t.table, [{ id: 1, body: 'hello', qty: 3, big: 1, meta: '{"a":1}', done: false }], { asUser: 'alice' });
    // BIGINT beyond 2^53 has to be written as a literal (a JSON param would lose precision).
    await server.sql(`EXECUTE AS USER 'alice' (UPDATE ${t.table} SET big = ${BIG}, body = 'changed' WHERE id = 1)`);
    await server.sql(`EXECUTE AS USER 'alice' (DELETE FROM ${t.table} WHERE id = 1)`);
  });

  test('each message has topic, group_id, partition_id, offset, key, timestamp_ms, user, op, payload and value', async () => {
    const group = uniqueName('g');
    const t0 = Date.now();
    const batch = await client.consumeBatch({ topic: t.topic, group_id: group, start: 'earliest', batch_size: 10, partition_id: 0, timeout_seconds: 1 });
    assert.equal(batch.messages.length, 3, 'insert + update + delete produce three messages');
    const [m] = batch.messages;
    assert.equal(m.topic, t.topic);
    assert.equal(m.group_id, group);
    assert.equal(m.partition_id, 0);
    assert.equal(m.offset, 0);
    assert.equal(m.key, '1', 'key is the bare primary-key value as a string');
    assert.equal(typeof m.timestamp_ms, 'number');
    assert.ok(m.timestamp_ms > t0 - 120_000 && m.timestamp_ms <= Date.now() + 5000, `timestamp_ms ${m.timestamp_ms} is a recent epoch-ms value`);
    assert.equal(m.user, 'alice', 'user is the row owner (EXECUTE AS USER target)');
    assert.equal(m.op, 'Insert');
    assert.equal(m.decode_error, undefined, 'a decodable payload carries no decode_error');
    assert.equal(typeof m.payload, 'object');
    assert.equal(m.payload.body, 'hello');
    assert.equal(m.payload.qty, 3, 'INT stays a number');
    assert.equal(m.payload.meta, '{"a":1}', 'JSON columns arrive as JSON text');
    assert.equal(m.payload.done, false);
    assert.equal(m.payload._deleted, false);
    assert.equal(m.payload._table, `${t.table.replace('.', ':')}`, '_table uses ns:table');
    assert.deepEqual(m.value, m.payload, 'value is the deprecated alias of payload');
  });

  test('payload BIGINT values stay exact strings (id, big beyond 2^53, _seq)', async () => {
    const batch = await client.consumeBatch({ topic: t.topic, group_id: uniqueName('g'), start: 'earliest', batch_size: 10 });
    const [ins, upd] = batch.messages;
    assert.equal(ins.payload.id, '1', 'BIGINT primary key is a string');
    assert.equal(ins.payload.big, '1');
    assert.equal(typeof ins.payload._seq, 'string');
    assert.equal(upd.payload.big, BIG, 'a BIGINT above 2^53 is kept digit for digit');
    assert.equal(typeof upd.payload.big, 'string');
  });

  test('op is a TopicOp: Insert, Update, Delete in write order; TopicOp values equal the wire strings', async () => {
    assert.equal(TopicOp.Insert, 'Insert');
    assert.equal(TopicOp.Update, 'Update');
    assert.equal(TopicOp.Delete, 'Delete');
    const batch = await client.consumeBatch({ topic: t.topic, group_id: uniqueName('g'), start: 'earliest', batch_size: 10 });
    assert.deepEqual(batch.messages.map((m) => m.op), [TopicOp.Insert, TopicOp.Update, TopicOp.Delete]);
    assert.deepEqual(batch.messages.map((m) => m.offset), [0, 1, 2]);
    const [, upd, del] = batch.messages;
    assert.equal(upd.payload.body, 'changed', 'an update carries the full new row');
    assert.equal(upd.payload.qty, 3, 'unchanged columns are present in an update');
    assert.equal(del.payload._deleted, true, 'a delete is a tombstone of the old row');
    assert.equal(del.payload.body, 'changed');
  });

  test('has_more is true for a full batch and next_offset is last offset + 1', async () => {
    const group = uniqueName('g');
    const first = await client.consumeBatch({ topic: t.topic, group_id: group, start: 'earliest', batch_size: 2 });
    assert.deepEqual(first.messages.map((m) => m.offset), [0, 1]);
    assert.equal(first.has_more, true);
    assert.equal(first.next_offset, 2);
    const second = await client.consumeBatch({ topic: t.topic, group_id: group, start: 'earliest', batch_size: 2 });
    assert.deepEqual(second.messages.map((m) => m.offset), [2], 'the same group continues after its claimed range');
    assert.equal(second.has_more, false);
    assert.equal(second.next_offset, 3);
  });

  test('start: a number or { offset } starts a new group at that offset', async () => {
    const byNumber = await client.consumeBatch({ topic: t.topic, group_id: uniqueName('g'), start: 1, batch_size: 10 });
    assert.deepEqual(byNumber.messages.map((m) => m.offset), [1, 2]);
    const byObject = await client.consumeBatch({ topic: t.topic, group_id: uniqueName('g'), start: { offset: 2 }, batch_size: 10 });
    assert.deepEqual(byObject.messages.map((m) => m.offset), [2]);
  });

  test('start defaults to latest: a new group sees nothing old, then only new writes', async () => {
    const own = await setupTopic(server);
    await insertRows(server, own.table, [{ id: 1, body: 'old' }]);
    const group = uniqueName('g');
    const empty = await client.consumeBatch({ topic: own.topic, group_id: group, batch_size: 10 });
    assert.equal(empty.messages.length, 0, 'latest skips what was written before');
    assert.equal(empty.has_more, false);
    await insertRows(server, own.table, [{ id: 2, body: 'new' }]);
    const next = await client.consumeBatch({ topic: own.topic, group_id: group, batch_size: 10 });
    assert.deepEqual(next.messages.map((m) => m.payload.body), ['new']);
  });

  test('messages from a SHARED table have no user (undefined, not a fake value)', async () => {
    const shared = await setupTopic(server, { kind: 'shared', columns: 'id TEXT PRIMARY KEY, body TEXT' });
    await insertRows(server, shared.table, [{ id: 'k1', body: 'x' }]);
    const batch = await client.consumeBatch({ topic: shared.topic, group_id: uniqueName('g'), start: 'earliest', batch_size: 10 });
    assert.equal(batch.messages.length, 1);
    assert.equal(batch.messages[0].user, undefined);
    assert.equal(batch.messages[0].key, 'k1');
  });

  test('the wire request carries topic_id, group_id, start, limit, partition_id and timeout_seconds', async () => {
    const rec = recordingFetch();
    const c = clientFor(server, worker, { fetch: rec.fetch });
    const group = uniqueName('g');
    await c.consumeBatch({ topic: t.topic, group_id: group, start: 'earliest', batch_size: 7, partition_id: 0, timeout_seconds: 3 });
    const [call] = rec.consumes;
    assert.ok(call, 'a consume request went through the injected fetch');
    assert.deepEqual(call.body, { topic_id: t.topic, group_id: group, start: 'Earliest', limit: 7, partition_id: 0, timeout_seconds: 3 });
    assert.match(call.authorization ?? '', /^Bearer \S+$/);
  });
});

describe('consumeBatch with payloads the dev server cannot produce', () => {
  let raw;
  before(async () => {
    raw = await startRawServer((req, reply) => {
      if (req.path === '/v1/api/auth/login') return reply.json(200, loginBody('worker'));
      if (req.path === '/v1/api/topics/consume') {
        return reply.json(200, {
          messages: [
            wireMessage({ topic: 'app.events', offset: 0, rawPayload: '!!!not base64!!!', key: 'a' }),
            wireMessage({ topic: 'app.events', offset: 1, rawPayload: Buffer.from('not json {').toString('base64'), key: 'b' }),
            wireMessage({ topic: 'app.events', offset: 2, row: ['an', 'array'], key: 'c' }),
            wireMessage({ topic: 'app.events', offset: 3, row: { id: '4', body: 'ok' }, key: 'd' }),
          ],
          next_offset: 4,
          has_more: false,
        });
      }
      return reply.json(404, { error: 'no route', code: 'NOT_FOUND' });
    });
  });
  after(() => raw?.close());

  test('an undecodable payload is a per-message decode_error, never {} and never a dropped message', async () => {
    const c = clientFor({ url: raw.url }, { user: 'worker', password: 'x' });
    const batch = await c.consumeBatch({ topic: 'app.events', group_id: 'g', start: 'earliest', batch_size: 10 });
    assert.equal(batch.messages.length, 4, 'no message is dropped');
    const [badBase64, badJson, array, good] = batch.messages;
    for (const m of [badBase64, badJson]) {
      assert.ok(m.decode_error, `offset ${m.offset} has a decode_error`);
      assert.ok(isKalamConsumerError(m.decode_error), 'decode_error is a KalamConsumerError');
      assert.equal(m.payload, undefined, 'payload is undefined, not {}');
    }
    assert.deepEqual(array.payload, ['an', 'array'], 'valid JSON that is not an object is kept as is, not coerced to {}');
    assert.deepEqual(good.payload, { id: '4', body: 'ok' });
    assert.equal(good.decode_error, undefined);
  });
});
