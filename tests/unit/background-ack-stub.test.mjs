// The batch ack goes out beside the next consume (partition-loop.ts `commitBatch`): the overlap
// itself, and what happens when such an ack fails: retried in the foreground and reported, or
// stopping the worker when the server refuses it for good, never consuming on uncommitted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createConsumerClient, Auth, runConsumer } from '@kalamdb/consumer';

const json = (status, body) => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Login, consume and ack from memory; `answerAck(n, body)` decides the n-th ack's response
 * (after `ackDelayMs`). Records when each request started and ended, in order.
 */
function stubServer({ total, answerAck = () => undefined, ackDelayMs = 0 }) {
  const events = [];
  const acks = [];
  let cursor = 0;
  let committed = -1;
  let ackCount = 0;
  const fetch = async (url, init) => {
    const path = new URL(String(url)).pathname;
    const body = init?.body ? JSON.parse(init.body) : undefined;
    if (path === '/v1/api/auth/login') {
      return json(200, { user: { id: 'w', role: 'service' }, admin_ui_access: false, expires_at: new Date(Date.now() + 3600e3).toISOString(), access_token: 'tok' });
    }
    if (path === '/v1/api/topics/consume') {
      if (body.limit === 0) return json(200, { messages: [], next_offset: committed + 1, has_more: true });
      events.push('consume');
      const end = Math.min(total, cursor + body.limit);
      const messages = [];
      for (let offset = cursor; offset < end; offset++) {
        messages.push({ topic_id: 'app.t', partition_id: 0, offset, key: String(offset), timestamp_ms: 1, op: 'Insert', user: 'alice', payload: Buffer.from(JSON.stringify({ id: offset })).toString('base64') });
      }
      cursor = end;
      return json(200, { messages, next_offset: cursor, has_more: end < total });
    }
    if (path === '/v1/api/topics/ack') {
      const n = ++ackCount;
      events.push(`ack ${body.upto_offset} sent`);
      await sleep(ackDelayMs);
      const refusal = answerAck(n, body);
      events.push(`ack ${body.upto_offset} ${refusal ? 'refused' : 'done'}`);
      if (refusal) return refusal;
      acks.push(body.upto_offset);
      committed = Math.max(committed, body.upto_offset);
      return json(200, { success: true, acknowledged_offset: body.upto_offset });
    }
    return json(404, { error: 'no route', code: 'NOT_FOUND' });
  };
  return { fetch, events, acks };
}

const options = (stub) => ({
  client: createConsumerClient({ url: 'http://stub.invalid', authProvider: Auth.basic('w', 'p'), fetch: stub.fetch }),
  name: 'w', topic: 'app.t', groupId: 'g', start: 'earliest', partitions: [0], batchSize: 10, logger: false,
  connectionRetry: { initialBackoffMs: 5, maxBackoffMs: 20 },
  idleBackoff: { initialMs: 2, maxMs: 10 },
});

async function runUntil(opts, until) {
  const controller = new AbortController();
  const running = runConsumer({ ...opts, stopSignal: controller.signal });
  const t0 = Date.now();
  while (!until()) {
    if (Date.now() - t0 > 5000) { controller.abort(); await running; throw new Error('condition not reached'); }
    await sleep(5);
  }
  controller.abort();
  await running;
}

test('the next consume is sent while the previous batch ack is still on the wire', async () => {
  const stub = stubServer({ total: 30, ackDelayMs: 40 });
  const seen = [];
  await runUntil({ ...options(stub), onChange: (_ctx, change) => { seen.push(change.offset); } }, () => stub.acks.includes(29));
  assert.deepEqual(seen, Array.from({ length: 30 }, (_, i) => i), 'every message once, in order');
  const sent = stub.events.indexOf('ack 9 sent');
  const done = stub.events.indexOf('ack 9 done');
  assert.ok(sent >= 0 && done > sent, stub.events.join(', '));
  assert.ok(stub.events.slice(sent, done).includes('consume'), `a consume overlaps the first ack: ${stub.events.join(', ')}`);
  // Never two acks at once: each ack is answered before the next one is sent.
  const acking = stub.events.filter((e) => e.startsWith('ack'));
  for (let i = 0; i < acking.length; i += 2) {
    assert.match(acking[i], /sent$/);
    assert.match(acking[i + 1] ?? '', /done$/, acking.join(', '));
  }
});

test('a background ack that fails is retried in the foreground and reported as a commit error; nothing is lost', async () => {
  const stub = stubServer({ total: 30, answerAck: (n) => (n === 1 ? json(503, { error: 'busy', code: 'SERVICE_UNAVAILABLE' }) : undefined) });
  const seen = [];
  const errors = [];
  await runUntil(
    { ...options(stub), onChange: (_ctx, change) => { seen.push(change.offset); }, onError: (info) => errors.push(info) },
    () => stub.acks.includes(29),
  );
  assert.deepEqual(seen, Array.from({ length: 30 }, (_, i) => i));
  assert.ok(stub.events.includes('ack 9 refused'), stub.events.join(', '));
  const commitErrors = errors.filter((info) => info.phase === 'commit');
  assert.equal(commitErrors.length, 1, `one commit error reported: ${JSON.stringify(errors.map((e) => e.phase))}`);
  assert.equal(commitErrors[0].error.code, 'SERVICE_UNAVAILABLE');
  // The foreground retry covers the refused range before the worker fetches past one more batch.
  const refused = stub.events.indexOf('ack 9 refused');
  const retried = stub.events.findIndex((e, i) => i > refused && /^ack (19|9) done$/.test(e));
  assert.ok(retried > refused, stub.events.join(', '));
  assert.ok(stub.events.slice(refused, retried).filter((e) => e === 'consume').length <= 1, `at most one consume before the retry landed: ${stub.events.join(', ')}`);
});

test('an ack the server refuses for good stops the worker with that error, after at most one more batch', async () => {
  const stub = stubServer({ total: 1000, answerAck: () => json(403, { error: 'role user may not ack', code: 'FORBIDDEN' }) });
  const seen = [];
  const failure = await runConsumer({ ...options(stub), onChange: (_ctx, change) => { seen.push(change.offset); } }).then(
    () => assert.fail('the worker must not go on without committing'),
    (error) => error,
  );
  assert.equal(failure.code, 'FORBIDDEN', String(failure));
  assert.ok(seen.length <= 20, `handled ${seen.length} messages without a single commit`);
  assert.deepEqual(stub.acks, [], 'nothing was committed');
});
