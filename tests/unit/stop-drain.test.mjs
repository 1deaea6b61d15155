// Stopping waits for what is in flight when there is no drain deadline: consumer().run has
// none (its handler's return ends run(), as documented), and runConsumer's `drainTimeoutMs:
// Infinity` means none. The deadline is a timer, and Node fires a timer longer than 2^31 - 1 ms
// after 1 ms, with a TimeoutOverflowWarning on stderr: runConsumer abandoned the handler
// running at stop (its message uncommitted, to be delivered again), and both printed the
// warning. A stub fetch whose ack takes 40 ms would show an aborted ack too.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createConsumerClient, Auth, runConsumer } from '@kalamdb/consumer';
import { warningsDuring } from '../support/warnings.mjs';

/** Five messages, then none; acks answer after `ackMs` unless their signal aborts first. */
function stubFetch({ ackMs }) {
  const acks = [];
  const aborted = [];
  let served = false;
  const fetch = async (url, init) => {
    const body = JSON.parse(init.body);
    if (url.endsWith('/v1/api/topics/consume')) {
      const messages = body.limit > 0 && !served
        ? [0, 1, 2, 3, 4].map((offset) => ({
            topic_id: 'app.t', partition_id: 0, offset, key: String(offset), timestamp_ms: 1, op: 'Insert', user: 'alice',
            payload: Buffer.from(JSON.stringify({ id: offset })).toString('base64'),
          }))
        : [];
      if (messages.length) served = true;
      return new Response(JSON.stringify({ messages, next_offset: messages.length ? 5 : 0, has_more: false }), { status: 200 });
    }
    if (url.endsWith('/v1/api/topics/ack')) {
      if (init.signal?.aborted) {
        aborted.push(body.upto_offset);
        throw new DOMException('The operation was aborted.', 'AbortError');
      }
      await new Promise((resolve, reject) => {
        const timer = setTimeout(resolve, ackMs);
        init.signal?.addEventListener('abort', () => {
          clearTimeout(timer);
          aborted.push(body.upto_offset);
          reject(new DOMException('The operation was aborted.', 'AbortError'));
        }, { once: true });
      });
      acks.push(body.upto_offset);
      return new Response(JSON.stringify({ success: true, acknowledged_offset: body.upto_offset }), { status: 200 });
    }
    return new Response('{"error":"not found"}', { status: 404 });
  };
  return { fetch, acks, aborted };
}

test('consumer().run: stop() lets the final ack land however long it takes, and warns of nothing', { timeout: 5000 }, async () => {
  const stub = stubFetch({ ackMs: 40 });
  const client = createConsumerClient({ url: 'http://stub.invalid', authProvider: async () => Auth.jwt('tok'), fetch: stub.fetch });
  const errors = [];
  const handle = client.consumer({ topic: 'app.t', group_id: 'g', start: 'earliest', batch_size: 5, auto_ack: true, partition_id: 0, on_error: (info) => errors.push(info), logger: false });
  const handled = [];
  const warnings = await warningsDuring(() =>
    handle.run((ctx) => {
      handled.push(ctx.message.offset);
      if (ctx.message.offset === 4) handle.stop();
    }),
  );
  await client.disconnect();
  assert.deepEqual(handled, [0, 1, 2, 3, 4]);
  assert.deepEqual(stub.aborted, [], 'no ack was aborted');
  assert.deepEqual(stub.acks, [4], 'the batch was committed once stop() was called');
  assert.deepEqual(errors, []);
  assert.deepEqual(warnings.filter((w) => w.startsWith('TimeoutOverflowWarning')), []);
});

test('runConsumer with drainTimeoutMs: Infinity: stop waits for the running handler, then commits it', { timeout: 5000 }, async () => {
  const stub = stubFetch({ ackMs: 40 });
  const client = createConsumerClient({ url: 'http://stub.invalid', authProvider: async () => Auth.jwt('tok'), fetch: stub.fetch });
  const stop = new AbortController();
  const handled = [];
  const errors = [];
  const warnings = await warningsDuring(() =>
    runConsumer({
      client, name: 'w', topic: 'app.t', groupId: 'g', start: 'earliest', batchSize: 5, partitions: [0], logger: false,
      drainTimeoutMs: Infinity, stopSignal: stop.signal, onError: (error) => errors.push(error),
      onChange: async (_ctx, change) => {
        if (change.offset === 4) {
          stop.abort();
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
        handled.push(change.offset);
      },
    }),
  );
  await client.disconnect();
  assert.deepEqual(handled, [0, 1, 2, 3, 4], 'the handler running at stop finished before runConsumer returned');
  assert.deepEqual(stub.aborted, [], 'no ack was aborted');
  assert.deepEqual(stub.acks, [4], 'and its message was committed');
  assert.deepEqual(errors, []);
  assert.deepEqual(warnings.filter((w) => w.startsWith('TimeoutOverflowWarning')), []);
});
