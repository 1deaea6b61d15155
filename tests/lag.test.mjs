// topicLag(): committed offset, newest offset and lag per partition, end to end against
// kalam-devserver, for a `dba` account (system tables) and a `service` account (consume
// probes, docs/lag.md). Rows with keys a..h on a 2-partition topic land as partition 0:
// b, c, e, g and partition 1: a, d, f, h (docs/PROTOCOL.md §11), offsets 0..3 in each.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { topicLag, isKalamConsumerError } from '@kalamdb/consumer';
import { createServiceUser, setupTopic, uniqueName, useDevServer } from './support/devserver.mjs';
import { clientFor, insertRows } from './support/consumer.mjs';

const server = await useDevServer();
const service = clientFor(server, await createServiceUser(server));
const dba = clientFor(server, await createServiceUser(server, { role: 'dba' }));

/** A 2-partition topic holding offsets 0..3 in each partition. */
async function eightRowTopic() {
  const t = await setupTopic(server, { kind: 'shared', columns: 'id TEXT PRIMARY KEY, body TEXT', partitions: 2 });
  await insertRows(server, t.table, ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'].map((id) => ({ id, body: `row-${id}` })));
  return t;
}

/** Every row of system.topic_offsets for a topic, whatever the group. */
async function offsetRows(topic) {
  return server.rows('SELECT group_id, partition_id, last_acked_offset FROM system.topic_offsets WHERE topic_id = $1 ORDER BY group_id, partition_id LIMIT 1000', [topic]);
}

describe('topicLag', { concurrency: true }, () => {
  test('known inserts and acks give the same numbers to a service and a dba account', async () => {
    const t = await eightRowTopic();
    const group = uniqueName('g');
    await service.consumeBatch({ topic: t.topic, group_id: group, start: 'earliest', batch_size: 2, partition_id: 0 });
    await service.ack(t.topic, group, 0, 1);
    const expected = [
      { partitionId: 0, committedOffset: 1, newestOffset: 3, lag: 2 },
      { partitionId: 1, committedOffset: null, newestOffset: 3, lag: 4 },
    ];

    const probed = await topicLag(service, t.topic, group, { partitionCount: 2 });
    assert.equal(probed.method, 'consume-probe');
    assert.deepEqual(probed.partitions, expected);
    assert.equal(probed.totalLag, 6);
    assert.equal(probed.topic, t.topic);
    assert.equal(probed.groupId, group);

    const read = await topicLag(dba, t.topic, group);
    assert.equal(read.method, 'system-tables');
    assert.deepEqual(read.partitions, expected, 'the dba learns the partition count from system.topics');
    assert.equal(read.totalLag, 6);
  });

  test('after the group acks everything its lag is 0, and new rows show as lag again', async () => {
    const t = await eightRowTopic();
    const group = uniqueName('g');
    await service.ack(t.topic, group, 0, 3);
    await service.ack(t.topic, group, 1, 3);
    for (const client of [service, dba]) {
      const lag = await topicLag(client, t.topic, group, { partitions: [0, 1] });
      assert.deepEqual(lag.partitions.map((p) => [p.committedOffset, p.newestOffset, p.lag]), [[3, 3, 0], [3, 3, 0]]);
    }
    await insertRows(server, t.table, [{ id: 'b2', body: 'late' }, { id: 'x', body: 'late' }, { id: 'y', body: 'late' }]);
    const service2 = await topicLag(service, t.topic, group, { partitions: [0, 1] });
    const dba2 = await topicLag(dba, t.topic, group);
    assert.deepEqual(service2.partitions, dba2.partitions);
    assert.equal(dba2.totalLag, 3, 'three new rows, wherever they landed');
  });

  test('a service account without partitions gets PARTITIONS_UNKNOWN; a dba does not', async () => {
    const t = await eightRowTopic();
    await assert.rejects(topicLag(service, t.topic, 'g'), (error) => {
      assert.ok(isKalamConsumerError(error));
      assert.equal(error.code, 'PARTITIONS_UNKNOWN');
      assert.match(error.message, /partitions or partitionCount/);
      return true;
    });
    assert.equal((await topicLag(dba, t.topic, 'g')).partitions.length, 2);
  });

  test('the probes commit nothing and claim nothing: the group then reads on from its committed offset', async () => {
    const t = await eightRowTopic();
    const group = uniqueName('g');
    await service.ack(t.topic, group, 0, 0);
    const before = await offsetRows(t.topic);
    const lag = await topicLag(service, t.topic, group, { partitions: [0, 1] });
    assert.deepEqual(lag.partitions.map((p) => p.committedOffset), [0, null]);
    assert.deepEqual(await offsetRows(t.topic), before, 'no commit for the group or the probe group');
    const next = await service.consumeBatch({ topic: t.topic, group_id: group, start: 'earliest', batch_size: 10, partition_id: 0 });
    assert.deepEqual(next.messages.map((m) => m.offset), [1, 2, 3], 'nothing skipped: the limit-0 probes claimed nothing');
  });

  test('a group committed at the newest offset is told apart from a group that never committed', async () => {
    const t = await eightRowTopic();
    const done = uniqueName('done');
    await service.ack(t.topic, done, 0, 3);
    const [committedAtNewest] = (await topicLag(service, t.topic, done, { partitions: [0] })).partitions;
    assert.deepEqual(committedAtNewest, { partitionId: 0, committedOffset: 3, newestOffset: 3, lag: 0 });
    const [never] = (await topicLag(service, t.topic, uniqueName('never'), { partitions: [0] })).partitions;
    assert.deepEqual(never, { partitionId: 0, committedOffset: null, newestOffset: 3, lag: 4 });
  });

  test('probing a group the server has not seen leaves it where a worker with the same start begins', async () => {
    const t = await setupTopic(server);
    await insertRows(server, t.table, [1, 2, 3, 4].map((id) => ({ id, body: `m${id}` })));
    const latestGroup = uniqueName('latest');
    await topicLag(service, t.topic, latestGroup, { partitions: [0] });
    await insertRows(server, t.table, [{ id: 5, body: 'after the probe' }]);
    const latest = await service.consumeBatch({ topic: t.topic, group_id: latestGroup, start: 'latest', batch_size: 10, partition_id: 0 });
    assert.deepEqual(latest.messages.map((m) => m.offset), [4], "a 'latest' worker gets what came after the probe");

    const earliestGroup = uniqueName('earliest');
    await topicLag(service, t.topic, earliestGroup, { partitions: [0], start: 'earliest' });
    const earliest = await service.consumeBatch({ topic: t.topic, group_id: earliestGroup, start: 'earliest', batch_size: 10, partition_id: 0 });
    assert.deepEqual(earliest.messages.map((m) => m.offset), [0, 1, 2, 3, 4], "an 'earliest' worker still gets the history");
  });

  test('documented limit: probed with the default start, an unseen group whose worker starts at earliest misses the history', async () => {
    // docs/lag.md: the probe creates the server cursor of a group the server has not seen
    // since it started; with start 'latest' that cursor sits after the newest message.
    const t = await eightRowTopic();
    const group = uniqueName('g');
    await topicLag(service, t.topic, group, { partitions: [0] });
    const batch = await service.consumeBatch({ topic: t.topic, group_id: group, start: 'earliest', batch_size: 10, partition_id: 0 });
    assert.deepEqual(batch.messages, []);
  });

  test('the dba path reads system tables only: it leaves an unseen group alone', async () => {
    const t = await eightRowTopic();
    const group = uniqueName('g');
    await topicLag(dba, t.topic, group);
    const batch = await service.consumeBatch({ topic: t.topic, group_id: group, start: 'earliest', batch_size: 10, partition_id: 0 });
    assert.deepEqual(batch.messages.map((m) => m.offset), [0, 1, 2, 3]);
  });

  test('an empty partition has no newest offset and no lag; so does a partition past the count', async () => {
    const t = await setupTopic(server, { partitions: 2 });
    for (const client of [service, dba]) {
      const lag = await topicLag(client, t.topic, 'g', { partitions: [0, 1, 7] });
      assert.deepEqual(lag.partitions, [0, 1, 7].map((partitionId) => ({ partitionId, committedOffset: null, newestOffset: null, lag: 0 })));
    }
  });

  test('an ack past the newest message counts as no lag', async () => {
    const t = await eightRowTopic();
    const group = uniqueName('g');
    await service.ack(t.topic, group, 1, 50);
    const [p1] = (await topicLag(dba, t.topic, group, { partitions: [1] })).partitions;
    assert.deepEqual(p1, { partitionId: 1, committedOffset: 50, newestOffset: 3, lag: 0 });
  });

  test('a probe group someone acked by hand still gives the newest offset', async () => {
    const t = await eightRowTopic();
    await service.ack(t.topic, '__kalam_lag_probe', 0, 0);
    const [p0] = (await topicLag(service, t.topic, uniqueName('g'), { partitions: [0] })).partitions;
    assert.equal(p0.newestOffset, 3, 'not 0, the hand-made commit');
  });

  test('a missing topic is NOT_FOUND for both roles', async () => {
    const missing = `${uniqueName('ns')}.nothing`;
    for (const [client, options] of [[service, { partitions: [0] }], [dba, {}]]) {
      await assert.rejects(topicLag(client, missing, 'g', options), (error) => {
        assert.equal(error.code, 'NOT_FOUND');
        return true;
      });
    }
  });

  test('a dba gets all 64 partitions, past the 50 rows a SELECT without LIMIT returns (docs/PROTOCOL.md §11)', async () => {
    const t = await setupTopic(server, { partitions: 64 });
    const group = uniqueName('g');
    await Promise.all(Array.from({ length: 64 }, (_, p) => service.ack(t.topic, group, p, p)));
    const lag = await topicLag(dba, t.topic, group);
    assert.equal(lag.partitions.length, 64);
    assert.deepEqual(lag.partitions.map((p) => p.committedOffset), Array.from({ length: 64 }, (_, p) => p));
  });

  test('bad options are INVALID_OPTION before any request', async () => {
    for (const options of [{ partitions: [] }, { partitions: [-1] }, { partitionCount: 0 }, { partitions: [0], partitionCount: 1 }, { start: 'middle' }]) {
      await assert.rejects(topicLag(service, 'ns.t', 'g', options), (error) => error.code === 'INVALID_OPTION', JSON.stringify(options));
    }
    await assert.rejects(topicLag(service, '', 'g', { partitions: [0] }), (error) => error.code === 'INVALID_OPTION');
    await assert.rejects(topicLag({ query() {} }, 'ns.t', 'g', { partitions: [0] }), (error) => error.code === 'INVALID_OPTION');
  });
});
