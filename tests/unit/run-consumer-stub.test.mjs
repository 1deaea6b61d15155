// runConsumer details that are easiest to pin down with an in-process fetch stub (no server):
// LLM input injection, ctx.ack() as an early commit, ackOnFailed: false, decode errors on the
// failure path, and one ack per batch. End-to-end behaviour is covered in tests/ against
// kalam-devserver; this file only checks the runtime's own bookkeeping.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createConsumerClient, Auth, runConsumer } from '@kalamdb/consumer';

/** A fetch that answers login/consume/ack from memory. `messages` are wire messages of partition 0. */
function stubServer(messages) {
  const acks = [];
  let cursor = 0;
  const json = (status, body) => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
  const fetch = async (url, init) => {
    const path = new URL(String(url)).pathname;
    const body = init?.body ? JSON.parse(init.body) : undefined;
    if (path === '/v1/api/auth/login') {
      return json(200, { user: { id: 'w', role: 'service' }, admin_ui_access: false, expires_at: new Date(Date.now() + 3600e3).toISOString(), access_token: 'tok' });
    }
    if (path === '/v1/api/topics/consume') {
      // A `limit: 0` probe answers committed + 1, or the start position (0 here), never the
      // cursor (docs/PROTOCOL.md §3.5).
      if (body.limit === 0) return json(200, { messages: [], next_offset: acks.length ? Math.max(...acks) + 1 : 0, has_more: true });
      const batch = messages.slice(cursor, cursor + body.limit);
      cursor += batch.length;
      return json(200, { messages: batch, next_offset: cursor, has_more: batch.length === body.limit });
    }
    if (path === '/v1/api/topics/ack') {
      acks.push(body.upto_offset);
      return json(200, { success: true, acknowledged_offset: body.upto_offset });
    }
    return json(404, { error: 'no route', code: 'NOT_FOUND' });
  };
  return { fetch, acks };
}

function wire(offset, row, extra = {}) {
  return {
    topic_id: 'app.t', partition_id: 0, offset, key: String(offset), timestamp_ms: 1, op: 'Insert', user: 'alice',
    payload: Buffer.from(JSON.stringify(row)).toString('base64'), ...extra,
  };
}

const fast = {
  name: 'w', topic: 'app.t', groupId: 'g', start: 'earliest', partitions: [0],
  retry: { maxAttempts: 2, initialBackoffMs: 1, maxBackoffMs: 5 },
  connectionRetry: { initialBackoffMs: 5, maxBackoffMs: 20 },
  idleBackoff: { initialMs: 2, maxMs: 10 },
};

async function runUntil(options, until) {
  const controller = new AbortController();
  const running = runConsumer({ ...fast, ...options, stopSignal: controller.signal });
  const t0 = Date.now();
  while (!until()) {
    if (Date.now() - t0 > 5000) { controller.abort(); await running; throw new Error('condition not reached'); }
    await new Promise((r) => setTimeout(r, 5));
  }
  controller.abort();
  await running;
}

function client(stub) {
  return createConsumerClient({ url: 'http://stub.invalid', authProvider: Auth.basic('w', 'p'), fetch: stub.fetch });
}

test('ctx.llm injects systemPrompt, runKey and the row into every adapter call', async () => {
  const stub = stubServer([wire(0, { id: '1', body: 'hi' })]);
  const requests = [];
  const adapter = {
    complete: async (request) => { requests.push(request); return 'summary'; },
    async *stream(request) { requests.push(request); yield 'a'; yield 'b'; },
  };
  const results = [];
  await runUntil({
    client: client(stub), llm: adapter, systemPrompt: 'Be brief.',
    onChange: async (ctx) => {
      results.push(await ctx.llm.complete('Summarise'));
      let text = '';
      for await (const chunk of ctx.llm.stream({ messages: [{ role: 'user', content: 'x' }] })) text += chunk;
      results.push(text);
    },
  }, () => stub.acks.includes(0));
  assert.deepEqual(results, ['summary', 'ab']);
  assert.deepEqual(requests[0], { prompt: 'Summarise', systemPrompt: 'Be brief.', runKey: 'w:app.t:0:0', row: { id: '1', body: 'hi' } });
  assert.deepEqual(requests[1].messages, [{ role: 'user', content: 'x' }]);
  assert.equal(requests[1].runKey, 'w:app.t:0:0');
});

test('one ack covers the whole batch; ctx.ack() commits early', async () => {
  const stub = stubServer([0, 1, 2, 3].map((o) => wire(o, { id: String(o) })));
  let finished = 0;
  await runUntil({
    client: client(stub), batchSize: 4,
    onChange: async (ctx, change) => {
      if (change.offset === 1) await ctx.ack();
      finished += 1;
    },
  }, () => finished === 4 && stub.acks.includes(3));
  assert.deepEqual(stub.acks, [1, 3], 'the early ack of offset 1, then one ack for the batch');
});

test('a dead letter with ackOnFailed: false is not acked itself but a later message commits past it', async () => {
  const stub = stubServer([wire(0, { id: 'poison' }), wire(1, { id: 'fine' })]);
  const failed = [];
  await runUntil({
    client: client(stub), ackOnFailed: false, retry: { maxAttempts: 1 }, batchSize: 1,
    onChange: async (_ctx, change) => { if (change.data.id === 'poison') throw new Error('boom'); },
    onFailed: async (_ctx, change) => { failed.push(change.offset); },
  }, () => stub.acks.includes(1));
  assert.deepEqual(failed, [0]);
  assert.deepEqual(stub.acks, [1], 'no ack named offset 0');
});

test('an undecodable payload goes to onFailed at once (no retries) with a DECODE_ERROR', async () => {
  const stub = stubServer([{ ...wire(0, {}), payload: '!!!' }, wire(1, { id: 'ok' })]);
  const failed = [];
  const handled = [];
  await runUntil({
    client: client(stub), retry: { maxAttempts: 3, initialBackoffMs: 1 },
    onChange: async (_ctx, change) => { handled.push(change.offset); },
    onFailed: async (ctx, change, error) => { failed.push({ attempt: ctx.attempt, offset: change.offset, code: error.code, user: change.user }); },
  }, () => stub.acks.includes(1));
  assert.deepEqual(handled, [1], 'the undecodable message never reached onChange');
  assert.equal(failed.length, 1);
  assert.equal(failed[0].offset, 0);
  assert.equal(failed[0].code, 'DECODE_ERROR');
  assert.equal(failed[0].user, 'alice');
});

test('a legacy { row } envelope is unwrapped into change.data; changeParser overrides it', async () => {
  const stub = stubServer([wire(0, { row: { id: 'inner' } })]);
  const data = [];
  await runUntil({ client: client(stub), onChange: async (_ctx, change) => { data.push(change.data); } }, () => stub.acks.includes(0));
  assert.deepEqual(data, [{ id: 'inner' }]);

  const stub2 = stubServer([wire(0, { id: 'x' })]);
  const parsed = [];
  await runUntil({
    client: client(stub2), changeParser: (message) => ({ upper: message.payload.id.toUpperCase() }),
    onChange: async (_ctx, change) => { parsed.push(change.data); },
  }, () => stub2.acks.includes(0));
  assert.deepEqual(parsed, [{ upper: 'X' }]);
});

test('onRetry gets the failed attempt, its backoff and the change', async () => {
  const stub = stubServer([wire(0, { id: '1' })]);
  const retries = [];
  await runUntil({
    client: client(stub),
    onRetry: (info) => retries.push(info),
    onChange: async (ctx) => { if (ctx.attempt === 1) throw new Error('once'); },
  }, () => stub.acks.includes(0));
  assert.equal(retries.length, 1);
  assert.equal(retries[0].attempt, 1);
  assert.equal(retries[0].maxAttempts, 2);
  assert.equal(typeof retries[0].backoffMs, 'number');
  assert.equal(retries[0].change.offset, 0);
  assert.equal(retries[0].runKey, 'w:app.t:0:0');
});
