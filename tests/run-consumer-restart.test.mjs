// runConsumer survives the server going away: refused connections while it is down, a
// fresh process (forgotten claims, maybe new signing key) when it comes back.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runConsumer } from '@kalamdb/consumer';
import { useDevServer, setupTopic, createServiceUser, uniqueName, committedOffset, waitFor, within, sleep } from './support/devserver.mjs';
import { clientFor, insertRows, fastRunOptions } from './support/consumer.mjs';

const server = await useDevServer();

test('server killed mid-run and restarted on the same port: runConsumer retries, resumes from the committed offset, loses nothing', async () => {
  const worker = await createServiceUser(server);
  const t = await setupTopic(server);
  await insertRows(server, t.table, [1, 2, 3].map((id) => ({ id, body: `before-${id}` })));
  const client = clientFor(server, worker, { requestTimeoutMs: 2000 });
  const group = uniqueName('g');
  const bodies = [];
  const controller = new AbortController();
  let rejected;
  const running = runConsumer({
    ...fastRunOptions(), client, name: 'survivor', topic: t.topic, groupId: group, stopSignal: controller.signal,
    onChange: async (_ctx, change) => { bodies.push(change.data.body); },
    onError: () => {},
  });
  running.catch((err) => { rejected = err; });
  try {
    await waitFor(async () => rejected || (await committedOffset(server, t.topic, group)) === 2, { message: 'first three committed' });
    await server.kill();
    await sleep(500); // the consumer now sees refused connections
    assert.equal(rejected, undefined, 'a refused connection does not end runConsumer');
    await server.restart();
    await insertRows(server, t.table, [4, 5, 6].map((id) => ({ id, body: `after-${id}` })));
    await waitFor(async () => rejected || (await committedOffset(server, t.topic, group)) === 5, { message: 'all six committed after restart', timeoutMs: 20_000 });
    assert.equal(rejected, undefined, `runConsumer did not reject (${rejected})`);
    assert.deepEqual([...new Set(bodies)], ['before-1', 'before-2', 'before-3', 'after-4', 'after-5', 'after-6']);
  } finally {
    controller.abort();
    await within(15_000, running.catch(() => {}), 'runConsumer after stopSignal');
  }
});
