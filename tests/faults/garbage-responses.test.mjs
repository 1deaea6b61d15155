// Fault: answers kalam-devserver never gives. An HTTP rewriter in front of the real server
// replaces or edits single answers: an HTML 502 from a gateway, JSON cut short, a payload that
// is not base64, a message without `user`, `__proto__` / `constructor` keys in a payload, a
// 5 MB payload. Everything else is the real server, so table state and committed offsets are real.
//
// Transport garbage must be retried (never reject runConsumer, never lose events); invalid
// messages must be reported through onFailed / onError, never crash, never vanish silently, and
// never reach onChange as `{}` or with an undefined user.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createConsumerClient, Auth, runConsumer } from '@kalamdb/consumer';
import { startRewriter, HTML_502, base64Json } from './support/http-rewriter.mjs';
import {
  startServer, setupFaultTopic, produce, projectIdempotently, isDuplicate, assertSinkExactly, sinkState, committedOffset,
  supervise, waitUntil, sleep, describe, errorSummary, ranges, FAST_RETRY, FAST_CONNECTION_RETRY, FAST_IDLE, WORKER_PASSWORD,
} from './support/fault-kit.mjs';

const CONSUME = '/v1/api/topics/consume';
const ACK = '/v1/api/topics/ack';
const SQL = '/v1/api/sql';
const FIVE_MB = 5 * 1024 * 1024;

// A short visibility timeout so a claim whose answer was garbled comes back quickly.
const server = await startServer(['--visibility-timeout-secs', '1']);
after(() => server.stop({ removeData: true }));

function startWorker(s, rw, { onFailed, name = 'garbage-worker' } = {}) {
  const client = createConsumerClient({ url: rw.url, authProvider: async () => Auth.basic(s.worker.user, WORKER_PASSWORD), requestTimeoutMs: 10_000 });
  const seen = { changes: [], violations: [], failed: [], errors: [] };
  const handle = supervise((signal) => runConsumer({
    client,
    name,
    topic: s.topic,
    groupId: s.group,
    start: 'earliest',
    partitions: [0],
    batchSize: 10,
    retry: FAST_RETRY,
    connectionRetry: FAST_CONNECTION_RETRY,
    idleBackoff: FAST_IDLE,
    stopSignal: signal,
    onError: (info) => { if (seen.errors.length < 10_000) seen.errors.push(info); },
    ...(onFailed ? {
      onFailed: async (ctx, change, error) => {
        seen.failed.push({ offset: change.offset, error, user: change.user });
        try {
          await ctx.sql(`INSERT INTO ${s.dead} (src_offset, reason) VALUES ($1, $2)`, [change.offset, String(error?.code ?? error?.message ?? error).slice(0, 200)]);
        } catch (err) {
          if (!isDuplicate(err)) throw err;
        }
      },
    } : {}),
    onChange: async (ctx, change) => {
      if (typeof change.user !== 'string' || change.user === '') seen.violations.push(`offset ${change.offset}: user ${JSON.stringify(change.user)}`);
      if (change.data === null || typeof change.data !== 'object' || change.data.id === undefined) {
        seen.violations.push(`offset ${change.offset}: data ${JSON.stringify(change.data)?.slice(0, 100)}`);
      }
      seen.changes.push({ offset: change.offset, data: change.data });
      await projectIdempotently(ctx, s.sink, change);
    },
  }));
  return { handle, seen };
}

async function untilCommitted(s, worker, offset, timeoutMs = 30_000) {
  return waitUntil(async () => worker.handle.outcome.settled || (await committedOffset(server, s.topic, s.group)) === offset, { timeoutMs, intervalMs: 100 });
}

function statusesOf(errors) {
  return errors.map((e) => e.error?.status).filter((x) => x !== undefined);
}

test('HTML 502 from a gateway instead of consume, ack and SQL answers: retried, reported through onError, nothing lost, committed offset is the last', { timeout: 60_000 }, async (t) => {
  const total = 40;
  const s = await setupFaultTopic(server);
  await produce(server, s.events, 0, total);
  const rw = await startRewriter({ upstreamPort: server.port });
  t.after(() => rw.close());
  const html = () => ({ status: 502, headers: { 'content-type': 'text/html' }, body: HTML_502 });
  const rules = [
    rw.addRule({ path: CONSUME, phase: 'request', times: 2, respond: html }),           // the server never saw these polls
    rw.addRule({ path: ACK, phase: 'response', times: 1, respond: html }),              // the ack was applied, the answer is a 502
    rw.addRule({ path: SQL, phase: 'request', times: 1, respond: html }),               // a handler's write never reached the server
  ];
  const w = startWorker(s, rw);
  const done = await untilCommitted(s, w, total - 1);
  await sleep(200);
  const outcome = await w.handle.stop();
  t.diagnostic(`errors ${JSON.stringify(errorSummary(w.seen.errors))}`);

  assert.equal(outcome.rejected, false, `runConsumer rejected: ${describe(outcome.error)}`);
  assert.ok(done, 'finished');
  for (const r of rules) assert.equal(r.remaining, 0, `502 on ${r.path} (${r.phase}) was served`);
  assert.ok(statusesOf(w.seen.errors).includes(502), 'the 502s were reported through onError with their status');
  assert.deepEqual(w.seen.violations, []);
  await assertSinkExactly(server, s.sink, Array.from({ length: total }, (_, i) => i));
  assert.equal(await committedOffset(server, s.topic, s.group), total - 1, 'committed offset is the last event');
});

test('truncated and malformed JSON instead of a consume answer: retried as transient, never handed to onChange, nothing lost, committed offset is the last', { timeout: 60_000 }, async (t) => {
  const total = 40;
  const s = await setupFaultTopic(server);
  await produce(server, s.events, 0, total);
  const rw = await startRewriter({ upstreamPort: server.port });
  t.after(() => rw.close());
  // A plausible answer (one message, offset 999 with id 999) that must never be used as data.
  const fake = JSON.stringify({
    messages: [{ topic_id: s.topic, partition_id: 0, offset: 999, payload: base64Json('{"id":"999","body":"fake"}'), key: '999', timestamp_ms: Date.now(), user: 'alice', op: 'Insert' }],
    next_offset: 1000,
    has_more: false,
  });
  const half = Math.floor(fake.length / 2);
  const rules = [
    // Well-formed HTTP, body cut in half (Content-Length matches the cut body).
    rw.addRule({ path: CONSUME, phase: 'request', respond: () => ({ status: 200, headers: { 'content-type': 'application/json' }, body: fake.slice(0, half) }) }),
    // Full length announced, half sent, connection reset.
    rw.addRule({ path: CONSUME, phase: 'request', respond: () => ({ truncateTo: half, body: fake }) }),
    // Empty 200 body, and a JSON value of the wrong shape.
    rw.addRule({ path: CONSUME, phase: 'request', respond: () => ({ status: 200, headers: { 'content-type': 'application/json' }, body: '' }) }),
    rw.addRule({ path: CONSUME, phase: 'request', respond: () => ({ json: '{"messages": "nope", "next_offset": "x"}' }) }),
    // An ack answer cut short after the server applied it.
    rw.addRule({ path: ACK, phase: 'response', respond: ({ body }) => ({ status: 200, headers: { 'content-type': 'application/json' }, body: body.subarray(0, 5) }) }),
  ];
  const w = startWorker(s, rw);
  const done = await untilCommitted(s, w, total - 1);
  await sleep(200);
  const outcome = await w.handle.stop();
  t.diagnostic(`errors ${JSON.stringify(errorSummary(w.seen.errors))}`);

  assert.equal(outcome.rejected, false, `runConsumer rejected: ${describe(outcome.error)}`);
  assert.ok(done, 'finished');
  for (const r of rules) assert.equal(r.remaining, 0, `garbage rule on ${r.path} was served`);
  assert.ok(w.seen.errors.filter((e) => e.phase === 'connection').length >= 4, 'each garbled consume answer was reported through onError');
  assert.ok(!w.seen.changes.some((c) => c.offset === 999), 'nothing from a truncated answer reached onChange');
  assert.deepEqual(w.seen.violations, []);
  await assertSinkExactly(server, s.sink, Array.from({ length: total }, (_, i) => i));
  assert.equal(await committedOffset(server, s.topic, s.group), total - 1, 'committed offset is the last event');
});

test('invalid base64 payload and a message without user go to onFailed (never onChange), __proto__/constructor keys pollute nothing, a 5 MB payload is delivered; sink, dead letters and committed offset exact', { timeout: 90_000 }, async (t) => {
  const total = 30;
  const s = await setupFaultTopic(server);
  await produce(server, s.events, 0, total);
  const rw = await startRewriter({ upstreamPort: server.port });
  t.after(() => rw.close());
  const rule = rw.addRule({
    path: CONSUME,
    phase: 'response',
    whenResponse: ({ json }) => Array.isArray(json?.messages) && json.messages.some((m) => m.offset === 3),
    respond: ({ json }) => {
      for (const m of json.messages) {
        const original = Buffer.from(m.payload, 'base64').toString('utf8');
        if (m.offset === 3) m.payload = '***not base64: %%%';
        if (m.offset === 4) delete m.user;
        if (m.offset === 5) {
          m.payload = base64Json(`{"__proto__":{"polluted":"yes"},"constructor":{"prototype":{"polluted":"yes"}},"prototype":{"polluted":"yes"},${original.slice(1)}`);
        }
        if (m.offset === 6) m.payload = base64Json(JSON.stringify({ ...JSON.parse(original), body: 'x'.repeat(FIVE_MB) }));
      }
      return { json };
    },
  });
  const w = startWorker(s, rw, { onFailed: true });
  const done = await untilCommitted(s, w, total - 1, 60_000);
  await sleep(200);
  const outcome = await w.handle.stop();
  t.diagnostic(`failed ${JSON.stringify(w.seen.failed.map((f) => `${f.offset}:${f.error?.code}`))}; errors ${JSON.stringify(errorSummary(w.seen.errors))}`);

  assert.equal(outcome.rejected, false, `runConsumer rejected: ${describe(outcome.error)}`);
  assert.equal(rule.hits.length, 1, 'the batch holding offsets 3..6 was rewritten');
  assert.ok(done, `finished (committed ${await committedOffset(server, s.topic, s.group)})`);

  // No prototype pollution anywhere.
  assert.equal(({}).polluted, undefined, 'Object.prototype was not polluted');
  assert.equal(Object.prototype.polluted, undefined);
  assert.equal(({}).constructor, Object);
  assert.equal(Function.prototype.polluted, undefined);
  const five = w.seen.changes.find((c) => c.offset === 5);
  assert.ok(five, 'the message with __proto__ keys was delivered');
  assert.equal(five.data.id, '5');
  const proto = Object.getPrototypeOf(five.data);
  assert.ok(proto === Object.prototype || proto === null, 'the payload object\'s prototype is not taken from the payload');

  // The 5 MB payload arrived whole.
  const big = w.seen.changes.find((c) => c.offset === 6);
  assert.ok(big, 'the 5 MB message was delivered');
  assert.equal(big.data.body.length, FIVE_MB);

  // Invalid messages: reported through onFailed with a clear error, never handed to onChange.
  assert.deepEqual([...new Set(w.seen.failed.map((f) => f.offset))].sort((a, b) => a - b), [3, 4], 'exactly the invalid messages were dead-lettered');
  const bad = w.seen.failed.find((f) => f.offset === 3).error;
  assert.ok(bad instanceof Error, 'the decode failure is an Error');
  assert.match(`${bad.code} ${bad.message}`, /decode|base64|payload/i);
  const noUser = w.seen.failed.find((f) => f.offset === 4);
  assert.ok(noUser.error instanceof Error);
  assert.match(`${noUser.error.code} ${noUser.error.message}`, /user|metadata/i);
  assert.ok(!w.seen.changes.some((c) => c.offset === 3 || c.offset === 4), 'invalid messages never reach onChange');
  assert.deepEqual(w.seen.violations, [], 'onChange only ever saw a real row and a user');

  // Table state and committed offset.
  const dead = (await server.rows(`SELECT src_offset FROM ${s.dead}`)).map((r) => Number(r.src_offset)).sort((a, b) => a - b);
  assert.deepEqual(dead, [3, 4], 'dead-letter table');
  const expected = Array.from({ length: total }, (_, i) => i).filter((i) => i !== 3 && i !== 4);
  await assertSinkExactly(server, s.sink, expected);
  const row6 = (await sinkState(server, s.sink)).rows.find((r) => Number(r.id) === 6);
  assert.equal(Number(row6.body_len), FIVE_MB, 'the 5 MB body was projected whole');
  assert.equal(await committedOffset(server, s.topic, s.group), total - 1, 'committed offset is the last event');
});

test('invalid base64 payload without onFailed: reported through onError (phase invalid), runConsumer rejects with DECODE_ERROR naming it, offsets before it committed, nothing after it delivered', { timeout: 60_000 }, async (t) => {
  const total = 10;
  const s = await setupFaultTopic(server);
  await produce(server, s.events, 0, total);
  const rw = await startRewriter({ upstreamPort: server.port });
  t.after(() => rw.close());
  rw.addRule({
    path: CONSUME,
    phase: 'response',
    whenResponse: ({ json }) => Array.isArray(json?.messages) && json.messages.some((m) => m.offset === 3),
    respond: ({ json }) => {
      for (const m of json.messages) if (m.offset === 3) m.payload = 'not%base64!';
      return { json };
    },
  });
  const w = startWorker(s, rw);
  const settled = await waitUntil(() => w.handle.outcome.settled, { timeoutMs: 20_000 });
  const outcome = await w.handle.stop();
  const invalid = w.seen.errors.filter((e) => e.offset === 3);

  assert.ok(settled, 'runConsumer settled on its own');
  assert.equal(outcome.rejected, true, 'runConsumer rejected');
  assert.equal(outcome.error?.code, 'DECODE_ERROR', describe(outcome.error));
  assert.ok(outcome.error.message.includes(`${s.topic}[0]@3`), `names topic[partition]@offset: ${describe(outcome.error)}`);
  assert.equal(invalid.length, 1, 'reported through onError once');
  assert.equal(invalid[0].phase, 'invalid');
  assert.match(`${invalid[0].error?.code} ${invalid[0].error?.message}`, /decode|base64|payload/i);
  assert.deepEqual(w.seen.changes.map((c) => c.offset), [0, 1, 2], 'nothing after the invalid message was delivered');
  assert.equal(await committedOffset(server, s.topic, s.group), 2, 'everything before the invalid message committed, it not');
  await assertSinkExactly(server, s.sink, [0, 1, 2]);
});

test('an HTML 502 or a truncated body after the server already claimed the batch: the range comes back after the visibility timeout and is processed, nothing committed past it unprocessed', { timeout: 60_000 }, async (t) => {
  const total = 60;
  const s = await setupFaultTopic(server);
  await produce(server, s.events, 0, total);
  const rw = await startRewriter({ upstreamPort: server.port });
  t.after(() => rw.close());
  const first = (m) => ({ json }) => Array.isArray(json?.messages) && json.messages[0]?.offset === m;
  const rules = [
    rw.addRule({ path: CONSUME, phase: 'response', whenResponse: first(10), respond: () => ({ status: 502, headers: { 'content-type': 'text/html' }, body: HTML_502 }) }),
    rw.addRule({ path: CONSUME, phase: 'response', whenResponse: first(30), respond: ({ body }) => ({ truncateTo: Math.floor(body.length / 2) }) }),
  ];
  const w = startWorker(s, rw);
  const settled = await waitUntil(async () => w.handle.outcome.settled
    || (w.seen.changes.length >= total && (await committedOffset(server, s.topic, s.group)) === total - 1), { timeoutMs: 15_000, intervalMs: 100 });
  const outcome = await w.handle.stop();
  const handled = new Set(w.seen.changes.map((c) => c.offset));
  const missing = Array.from({ length: total }, (_, i) => i).filter((o) => !handled.has(o));
  t.diagnostic(`settled ${Boolean(settled)}; committed ${await committedOffset(server, s.topic, s.group)}; missing ${JSON.stringify(ranges(missing))}; errors ${JSON.stringify(errorSummary(w.seen.errors))}`);

  assert.equal(outcome.rejected, false, `runConsumer rejected: ${describe(outcome.error)}`);
  for (const r of rules) assert.equal(r.hits.length, 1, 'the garbled answer was served');
  assert.deepEqual(ranges(missing), [], 'offsets never handled (lost)');
  await assertSinkExactly(server, s.sink, Array.from({ length: total }, (_, i) => i));
  assert.equal(await committedOffset(server, s.topic, s.group), total - 1, 'committed offset is the last event');
});
