// Issue 12, handover: a worker that stops gracefully in the middle of a fetched batch hands its
// partition over. Were the part of the batch it never started left behind, it would stay claimed
// on the server (an ack must cover a claim's whole range to release it, docs/PROTOCOL.md §3.4),
// and the next owner would sit in a gap until the visibility timeout. A fleet worker therefore
// finishes what it fetched (first attempts, within drainTimeoutMs) before its final commit, and
// the next owner takes over within about a second, as docs/fleet.md and the README say.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { Auth, createConsumerClient, runConsumer } from '@kalamdb/consumer';
import { startServer, setupFaultTopic, produce, waitUntil, sleep, WORKER_PASSWORD } from './support/fault-kit.mjs';

const VISIBILITY_S = 5;
const server = await startServer(['--visibility-timeout-secs', String(VISIBILITY_S)]);
after(() => server.stop({ removeData: true }));

test('graceful stop mid-batch: the other worker moves the partition on within 2 s', { timeout: 60_000 }, async () => {
  const s = await setupFaultTopic(server, { partitions: 1 });
  await produce(server, s.events, 0, 60);
  const calls = []; // { worker, offset, at }
  const worker = (name) => {
    const stop = new AbortController();
    const done = runConsumer({
      client: createConsumerClient({ url: server.url, authProvider: async () => Auth.basic(s.worker.user, WORKER_PASSWORD) }),
      name, topic: s.topic, groupId: s.group, partitionCount: 1, start: 'earliest', batchSize: 30,
      fleet: { leaseMs: 3_000, workerId: name }, logger: false, stopSignal: stop.signal,
      onChange: async (_ctx, change) => {
        calls.push({ worker: name, offset: change.offset, at: Date.now() });
        await sleep(100);
      },
    });
    return { stop: () => stop.abort(), done };
  };
  const a = worker('a');
  assert.ok(await waitUntil(() => calls.length >= 3, { timeoutMs: 15_000 }), 'a handles its first messages');
  const b = worker('b');
  await sleep(1_500); // b is a member now; a keeps the only partition (fair share 1/0)
  assert.ok(calls.every((c) => c.worker === 'a'));
  a.stop();
  await a.done; // a finishes the batch it fetched, commits it, and gives the lease back
  const releasedAt = Date.now();
  const moved = await waitUntil(() => calls.some((c) => c.worker === 'b'), { timeoutMs: 20_000 });
  b.stop();
  await b.done;
  assert.ok(moved, 'b never took over');
  const tookMs = calls.find((c) => c.worker === 'b').at - releasedAt;
  assert.ok(tookMs <= 2_000, `b handled its first message ${tookMs} ms after a released the partition (visibility timeout ${VISIBILITY_S} s)`);
  // a left no hole behind: what it handled is a prefix, and b went on right after it.
  const byA = calls.filter((c) => c.worker === 'a').map((c) => c.offset);
  assert.deepEqual(byA, byA.map((_, i) => i), 'a handled a prefix of the partition in order');
  assert.equal(calls.find((c) => c.worker === 'b').offset, byA.length, 'b started right after the last offset a handled');
});
