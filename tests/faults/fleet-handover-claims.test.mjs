// Reproduction (issue 12, handover): a worker that stops gracefully in the middle of a fetched
// batch hands its partition over, but the part of the batch it never started stays claimed on the
// server (an ack must cover a claim's whole range to release it, docs/PROTOCOL.md §3.4), so the
// next owner sits in a gap until the visibility timeout instead of taking over within about a
// second as docs/fleet.md ("Failover times") and the README ("Scale down") say.
//
// Marked todo: it fails today (the takeover waits for the 5 s visibility timeout) and is kept as
// the check for a fix (for example: on a handover, finish the messages already fetched before
// the final commit, within drainTimeoutMs).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { Auth, createConsumerClient, runConsumer } from '@kalamdb/consumer';
import { startServer, setupFaultTopic, produce, waitUntil, sleep, WORKER_PASSWORD } from './support/fault-kit.mjs';

const VISIBILITY_S = 5;
const server = await startServer(['--visibility-timeout-secs', String(VISIBILITY_S)]);
after(() => server.stop({ removeData: true }));

test('graceful stop mid-batch: the other worker moves the partition on within 2 s', { todo: 'the unstarted rest of the batch stays claimed until the visibility timeout', timeout: 60_000 }, async () => {
  const s = await setupFaultTopic(server, { partitions: 1 });
  await produce(server, s.events, 0, 30);
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
  const stoppedAt = Date.now();
  a.stop();
  await a.done;
  const moved = await waitUntil(() => calls.some((c) => c.worker === 'b'), { timeoutMs: 20_000 });
  const tookMs = calls.find((c) => c.worker === 'b').at - stoppedAt;
  b.stop();
  await b.done;
  assert.ok(moved, 'b never took over');
  assert.ok(tookMs <= 2_000, `b handled its first message ${tookMs} ms after a was stopped (visibility timeout ${VISIBILITY_S} s)`);
});
