// Fault: stopSignal aborts while a handler is running. The handler must finish, its offset must
// be committed, and nothing more may be delivered (issue 3: "stop fetching at once, let the
// running handler finish (bounded by a drain deadline), commit what finished, then resolve").

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createConsumerClient, Auth, runConsumer } from '@kalamdb/consumer';
import {
  startServer, setupFaultTopic, produce, projectIdempotently, assertSinkExactly, committedOffset,
  supervise, sleep, describe, FAST_RETRY, FAST_CONNECTION_RETRY, FAST_IDLE, WORKER_PASSWORD,
} from './support/fault-kit.mjs';

const TOTAL = 50;
const STOP_AT = 7;

const server = await startServer();
after(() => server.stop({ removeData: true }));

function startWorker(s, { handlerMs, drainTimeoutMs }) {
  const client = createConsumerClient({ url: server.url, authProvider: async () => Auth.basic(s.worker.user, WORKER_PASSWORD) });
  const entries = []; // { offset, at }
  let stopHandlerEntered;
  const entered = new Promise((r) => { stopHandlerEntered = r; });
  const state = { finishedAt: 0 };
  const worker = supervise((signal) => runConsumer({
    client,
    name: 'stopper',
    topic: s.topic,
    groupId: s.group,
    start: 'earliest',
    partitions: [0],
    batchSize: 20,
    retry: FAST_RETRY,
    connectionRetry: FAST_CONNECTION_RETRY,
    idleBackoff: FAST_IDLE,
    drainTimeoutMs,
    stopSignal: signal,
    onChange: async (ctx, change) => {
      entries.push({ offset: change.offset, at: Date.now(), afterStop: worker.signal.aborted });
      if (change.offset === STOP_AT) {
        stopHandlerEntered();
        await sleep(handlerMs);
        await projectIdempotently(ctx, s.sink, change);
        state.finishedAt = Date.now();
        return;
      }
      await projectIdempotently(ctx, s.sink, change);
    },
  }));
  return { worker, entries, entered, state };
}

test('stopSignal during a handler: the handler finishes, its offset is committed, runConsumer resolves after it, nothing more is delivered', { timeout: 60_000 }, async () => {
  const s = await setupFaultTopic(server);
  await produce(server, s.events, 0, TOTAL);
  const { worker, entries, entered, state } = startWorker(s, { handlerMs: 400, drainTimeoutMs: 10_000 });

  await entered;
  worker.abort();
  const outcome = await worker.stop();

  assert.equal(outcome.rejected, false, `runConsumer rejected: ${describe(outcome.error)}`);
  assert.equal(outcome.settled, true, 'runConsumer resolved');
  assert.ok(state.finishedAt > 0, 'the running handler finished');
  assert.ok(state.finishedAt <= outcome.at, 'runConsumer resolved only after the running handler finished');
  assert.deepEqual(entries.filter((e) => e.afterStop).map((e) => e.offset), [], 'no handler started after stop');

  // Nothing arrives later either.
  const seen = entries.length;
  await sleep(500);
  assert.equal(entries.length, seen, 'nothing delivered after runConsumer resolved');
  assert.deepEqual(entries.map((e) => e.offset), Array.from({ length: STOP_AT + 1 }, (_, i) => i), 'offsets 0..STOP_AT delivered once, in order');

  assert.equal(await committedOffset(server, s.topic, s.group), STOP_AT, 'the interrupted handler\'s offset is committed, nothing beyond');
  await assertSinkExactly(server, s.sink, Array.from({ length: STOP_AT + 1 }, (_, i) => i));
});

test('stopSignal during a handler longer than drainTimeoutMs: runConsumer resolves at the drain deadline and commits only what finished', { timeout: 60_000 }, async () => {
  const s = await setupFaultTopic(server);
  await produce(server, s.events, 0, TOTAL);
  const { worker, entries, entered, state } = startWorker(s, { handlerMs: 4000, drainTimeoutMs: 300 });

  await entered;
  const abortAt = Date.now();
  worker.abort();
  const outcome = await worker.stop();

  assert.equal(outcome.rejected, false, `runConsumer rejected: ${describe(outcome.error)}`);
  assert.ok(outcome.at - abortAt < 3000, `resolved ${outcome.at - abortAt} ms after stop; the drain deadline is 300 ms`);
  assert.equal(state.finishedAt, 0, 'resolved before the slow handler finished');
  assert.deepEqual(entries.filter((e) => e.afterStop).map((e) => e.offset), [], 'no handler started after stop');
  assert.equal(await committedOffset(server, s.topic, s.group), STOP_AT - 1, 'only the finished offsets are committed');
  await assertSinkExactly(server, s.sink, Array.from({ length: STOP_AT }, (_, i) => i));

  // The abandoned handler may still finish on its own later; nothing else is delivered.
  await sleep(4500);
  assert.deepEqual(entries.map((e) => e.offset), Array.from({ length: STOP_AT + 1 }, (_, i) => i));
  assert.equal(await committedOffset(server, s.topic, s.group), STOP_AT - 1, 'an abandoned handler finishing later commits nothing');
});
