// Fault (issue 12, fencing): a worker whose lease rounds hang (its lease SQL blackholed, each
// statement waiting 8 s) while it works through a fetched batch. Its lease runs out and the other
// worker takes the partition over; from then on the first worker must start no message of that
// partition (docs/fleet.md: the engine checks canCommit before starting a message), or both
// handle one partition at once. Before the supervisor's fence check, a lapsed lease reached the
// partition only when a round finished, and this worker went on through its batch next to the
// new owner (offsets 14..25 started after the takeover, overlapping the new owner's calls).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { Auth, createConsumerClient, runConsumer } from '@kalamdb/consumer';
import { startRewriter } from './support/http-rewriter.mjs';
import { startServer, setupFaultTopic, produce, waitUntil, sleep, WORKER_PASSWORD } from './support/fault-kit.mjs';

// A 2 s visibility timeout: the new owner gets the batch the first worker still holds.
const server = await startServer(['--visibility-timeout-secs', '2']);
after(() => server.stop({ removeData: true }));

test('a worker whose lease lapsed while its lease round hangs starts no more messages', { timeout: 90_000 }, async () => {
  const s = await setupFaultTopic(server, { partitions: 1 });
  await produce(server, s.events, 0, 40);
  const rw = await startRewriter({ upstreamPort: server.port });
  const calls = []; // { worker, offset, from, to }
  const took = [];
  const worker = (name, url) => {
    const stop = new AbortController();
    const done = runConsumer({
      client: createConsumerClient({ url, authProvider: async () => Auth.basic(s.worker.user, WORKER_PASSWORD), requestTimeoutMs: 30_000 }),
      name, topic: s.topic, groupId: s.group, partitionCount: 1, start: 'earliest', batchSize: 40, drainTimeoutMs: 1_000,
      fleet: { leaseMs: 3_000, workerId: name }, stopSignal: stop.signal,
      logger: { debug() {}, info: (m) => { if (m.includes('took')) took.push({ worker: name, at: Date.now() }); }, warn() {}, error() {} },
      onChange: async (_ctx, change) => {
        const call = { worker: name, offset: change.offset, from: Date.now(), to: undefined };
        calls.push(call);
        await sleep(250);
        call.to = Date.now();
      },
    });
    return { stop: () => stop.abort(), done };
  };
  const a = worker('a', rw.url);
  assert.ok(await waitUntil(() => calls.length >= 2, { timeoutMs: 15_000 }));
  // From now on every SQL request of `a` (its lease rounds) hangs for 20 s.
  const hang = rw.addRule({ path: '/v1/api/sql', phase: 'request', times: 1_000, respond: async () => { await sleep(8_000); return { destroy: true }; } });
  const b = worker('b', server.url);
  assert.ok(await waitUntil(() => took.some((t) => t.worker === 'b'), { timeoutMs: 20_000 }), 'b takes the partition once a\'s lease expired');
  const bTookAt = took.find((t) => t.worker === 'b').at;
  await sleep(3_000);
  const aLate = calls.filter((c) => c.worker === 'a' && c.from > bTookAt);
  const overlaps = [];
  for (const x of calls.filter((c) => c.worker === 'a')) {
    for (const y of calls.filter((c) => c.worker === 'b')) if (x.from < (y.to ?? Infinity) && y.from < (x.to ?? Infinity)) overlaps.push([x.offset, y.offset]);
  }
  hang.remaining = 0;
  const bCalls = calls.filter((c) => c.worker === 'b').length;
  a.stop(); b.stop();
  await Promise.allSettled([a.done, b.done]);
  await rw.close?.();
  assert.ok(bCalls > 0, 'b handled the partition after taking it');
  assert.deepEqual({ aStartedAfterBTook: aLate.map((c) => c.offset), overlaps: overlaps.slice(0, 5) }, { aStartedAfterBTook: [], overlaps: [] });
});
