// client.ack(): explicit commits, as the server records them in system.topic_offsets.

import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { useDevServer, startDevServer, setupTopic, createServiceUser, uniqueName, committedOffset } from './support/devserver.mjs';
import { clientFor, insertRows } from './support/consumer.mjs';

const server = await useDevServer();
const worker = await createServiceUser(server);
const client = clientFor(server, worker);

async function topicWith(n) {
  const t = await setupTopic(server);
  await insertRows(server, t.table, Array.from({ length: n }, (_, i) => ({ id: i + 1, body: `m${i}` })));
  return t;
}

describe('ack', { concurrency: true }, () => {
  test('ack returns { success: true, acknowledged_offset } and the commit shows in system.topic_offsets', async () => {
    const t = await topicWith(3);
    const group = uniqueName('g');
    const batch = await client.consumeBatch({ topic: t.topic, group_id: group, start: 'earliest', batch_size: 10 });
    assert.equal(batch.messages.length, 3);
    assert.equal(await committedOffset(server, t.topic, group), undefined, 'consuming alone commits nothing');
    const last = batch.messages.at(-1).offset;
    const res = await client.ack(t.topic, group, 0, last);
    assert.deepEqual(res, { success: true, acknowledged_offset: last });
    assert.equal(await committedOffset(server, t.topic, group), last);
  });

  test('committed offsets are monotonic: a lower ack succeeds but does not move the commit back', async () => {
    const t = await topicWith(3);
    const group = uniqueName('g');
    await client.consumeBatch({ topic: t.topic, group_id: group, start: 'earliest', batch_size: 10 });
    await client.ack(t.topic, group, 0, 2);
    const lower = await client.ack(t.topic, group, 0, 0);
    assert.equal(lower.success, true);
    assert.equal(lower.acknowledged_offset, 0, 'the response echoes the requested offset');
    assert.equal(await committedOffset(server, t.topic, group), 2, 'the stored offset did not go back');
  });

  test('acks are per group: another group on the same topic has its own committed offset', async () => {
    const t = await topicWith(2);
    const g1 = uniqueName('g');
    const g2 = uniqueName('g');
    await client.consumeBatch({ topic: t.topic, group_id: g1, start: 'earliest', batch_size: 10 });
    await client.ack(t.topic, g1, 0, 1);
    assert.equal(await committedOffset(server, t.topic, g1), 1);
    assert.equal(await committedOffset(server, t.topic, g2), undefined);
    const other = await client.consumeBatch({ topic: t.topic, group_id: g2, start: 'earliest', batch_size: 10 });
    assert.deepEqual(other.messages.map((m) => m.offset), [0, 1], 'the other group still sees everything');
  });

  test('after a full-batch ack the group gets only newer messages', async () => {
    const t = await topicWith(2);
    const group = uniqueName('g');
    const first = await client.consumeBatch({ topic: t.topic, group_id: group, start: 'earliest', batch_size: 10 });
    await client.ack(t.topic, group, 0, first.messages.at(-1).offset);
    await insertRows(server, t.table, [{ id: 100, body: 'later' }]);
    const next = await client.consumeBatch({ topic: t.topic, group_id: group, start: 'earliest', batch_size: 10 });
    assert.deepEqual(next.messages.map((m) => m.payload.body), ['later']);
  });
});

test('after a server restart a group resumes at its committed offset + 1', async (tc) => {
  const own = await startDevServer();
  tc.after(() => own.stop({ removeData: true }));
  const w = await createServiceUser(own);
  const t = await setupTopic(own);
  await insertRows(own, t.table, Array.from({ length: 4 }, (_, i) => ({ id: i + 1, body: `m${i}` })));
  const group = uniqueName('g');
  const c1 = clientFor(own, w);
  const batch = await c1.consumeBatch({ topic: t.topic, group_id: group, start: 'earliest', batch_size: 2 });
  assert.deepEqual(batch.messages.map((m) => m.offset), [0, 1]);
  await c1.ack(t.topic, group, 0, 1);
  await own.restart({ samePort: false });
  assert.equal(await committedOffset(own, t.topic, group), 1, 'the commit survived the restart');
  const c2 = clientFor(own, w);
  const resumed = await c2.consumeBatch({ topic: t.topic, group_id: group, start: 'earliest', batch_size: 10 });
  assert.deepEqual(resumed.messages.map((m) => m.offset), [2, 3], 'start is ignored once the group has a commit');
});
