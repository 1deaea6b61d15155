// client.consumer(opts).run(handler) / stop(): the low-level continuous loop.

import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { useDevServer, setupTopic, createServiceUser, uniqueName, committedOffset, waitFor, within, sleep } from './support/devserver.mjs';
import { clientFor, insertRows } from './support/consumer.mjs';

const server = await useDevServer();
const worker = await createServiceUser(server);
const client = clientFor(server, worker);

async function topicWith(n, startId = 1) {
  const t = await setupTopic(server);
  await insertRows(server, t.table, Array.from({ length: n }, (_, i) => ({ id: startId + i, body: `m${startId + i}` })));
  return t;
}

describe('consumer().run', { concurrency: true }, () => {
  test('run delivers every message in offset order with ctx.message, and ctx.ack() commits it', async () => {
    const t = await topicWith(5);
    const group = uniqueName('g');
    const handle = client.consumer({ topic: t.topic, group_id: group, start: 'earliest', batch_size: 2, auto_ack: false });
    const seen = [];
    const running = handle.run(async (ctx) => {
      seen.push({ offset: ctx.message.offset, body: ctx.message.payload.body, value: ctx.message.value?.body });
      await ctx.ack();
    });
    await waitFor(() => seen.length >= 5, { message: '5 deliveries' });
    await waitFor(async () => (await committedOffset(server, t.topic, group)) === 4, { message: 'commit of offset 4' });
    handle.stop();
    await within(10_000, running, 'run() after stop()');
    assert.deepEqual(seen.map((s) => s.offset), [0, 1, 2, 3, 4]);
    assert.deepEqual(seen.map((s) => s.body), ['m1', 'm2', 'm3', 'm4', 'm5']);
    assert.deepEqual(seen.map((s) => s.value), ['m1', 'm2', 'm3', 'm4', 'm5'], 'ctx.message.value aliases payload');
  });

  test('auto_ack: true commits handled messages without ctx.ack()', async () => {
    const t = await topicWith(3);
    const group = uniqueName('g');
    const handle = client.consumer({ topic: t.topic, group_id: group, start: 'earliest', batch_size: 10, auto_ack: true });
    let n = 0;
    const running = handle.run(async () => { n += 1; });
    await waitFor(async () => (await committedOffset(server, t.topic, group)) === 2, { message: 'auto-ack commit of offset 2' });
    handle.stop();
    await within(10_000, running, 'run() after stop()');
    assert.equal(n, 3);
  });

  test('auto_ack: false without ctx.ack() commits nothing', async () => {
    const t = await topicWith(2);
    const group = uniqueName('g');
    const handle = client.consumer({ topic: t.topic, group_id: group, start: 'earliest', batch_size: 10, auto_ack: false });
    let n = 0;
    const running = handle.run(async () => { n += 1; });
    await waitFor(() => n === 2, { message: '2 deliveries' });
    await sleep(200);
    handle.stop();
    await within(10_000, running, 'run() after stop()');
    assert.equal(await committedOffset(server, t.topic, group), undefined);
  });

  test('stop() resolves run() and nothing is delivered after it', async () => {
    const t = await topicWith(1);
    const group = uniqueName('g');
    const handle = client.consumer({ topic: t.topic, group_id: group, start: 'earliest', batch_size: 10, auto_ack: true });
    const seen = [];
    const running = handle.run(async (ctx) => { seen.push(ctx.message.offset); });
    await waitFor(() => seen.length === 1, { message: 'first delivery' });
    handle.stop();
    await within(10_000, running, 'run() after stop()');
    await insertRows(server, t.table, [{ id: 50, body: 'after stop' }]);
    await sleep(300);
    assert.deepEqual(seen, [0], 'the message written after stop() was not delivered');
  });

  test('a running loop picks up messages written after it started', async () => {
    const t = await setupTopic(server);
    const group = uniqueName('g');
    const handle = client.consumer({ topic: t.topic, group_id: group, start: 'earliest', batch_size: 10, auto_ack: true });
    const bodies = [];
    const running = handle.run(async (ctx) => { bodies.push(ctx.message.payload.body); });
    await sleep(100);
    await insertRows(server, t.table, [{ id: 1, body: 'late-1' }, { id: 2, body: 'late-2' }]);
    await waitFor(() => bodies.length === 2, { message: 'late messages', timeoutMs: 5000 });
    handle.stop();
    await within(10_000, running, 'run() after stop()');
    assert.deepEqual(bodies, ['late-1', 'late-2']);
  });
});
