// Gaps: a consume the server answered (and so claimed, docs/PROTOCOL.md §3.4) whose answer never
// reached the worker, or a claim another worker of the group holds. The worker must never
// commit past such a range (acks are cumulative, §3.7), must process it in order once the
// server redelivers it after the visibility timeout, and must report a range that never comes
// back (deleted messages) as OFFSET_GAP instead of waiting forever or skipping it silently.
//
// The stub below models the server's group state as docs/PROTOCOL.md §3.3-§3.7 describes it: claims
// per fetch, the cursor, lazy expiry with rewind to the smallest expired claim start, a fetch
// never crossing a live claim, cumulative acks, and `limit: 0` answering committed + 1.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createConsumerClient, Auth, runConsumer } from '@kalamdb/consumer';

function wire(offset) {
  return {
    topic_id: 'app.t', partition_id: 0, offset, key: String(offset), timestamp_ms: 1, op: 'Insert', user: 'alice',
    payload: Buffer.from(JSON.stringify({ id: offset })).toString('base64'),
  };
}

/**
 * `offsets`: the messages present in partition 0. `visibilityMs`: claim lifetime.
 * `lose(n, offsets)`: return true to answer the n-th consume (1-based, probes included) with a
 * 502 after the claim was made.
 */
function claimServer({ offsets, visibilityMs = 60_000, lose = () => false }) {
  const present = new Set(offsets);
  const acks = [];
  const events = [];
  const server = { committed: undefined, state: undefined, acks, events, consumes: 0 };
  /** Publishes more messages. */
  server.add = (more) => more.forEach((o) => present.add(o));

  server.ack = (upto) => {
    server.committed = server.committed === undefined ? upto : Math.max(server.committed, upto);
    server.state ??= { cursor: upto + 1, claims: [] };
    server.state.claims = server.state.claims.filter((c) => upto + 1 < c.end);
    server.state.cursor = Math.max(server.state.cursor, upto + 1);
  };

  const consume = ({ start, limit }) => {
    const startOffset = server.committed !== undefined
      ? server.committed + 1
      : start === 'Earliest' ? 0 : start === 'Latest' ? Math.max(-1, ...present) + 1 : start.Offset;
    server.state ??= { cursor: startOffset, claims: [] };
    const st = server.state;
    const now = Date.now();
    let rewind;
    st.claims = st.claims.filter((c) => {
      const expired = now - c.at >= visibilityMs;
      if (expired) rewind = Math.min(rewind ?? c.start, c.start);
      return !expired;
    });
    if (rewind !== undefined) st.cursor = Math.min(st.cursor, rewind);
    for (let inside; (inside = st.claims.find((c) => c.start <= st.cursor && st.cursor < c.end)); ) st.cursor = inside.end;
    const bound = Math.min(Infinity, ...st.claims.filter((c) => c.start >= st.cursor).map((c) => c.start));
    const picked = [];
    if (limit > 0) {
      for (const o of [...present].sort((a, b) => a - b)) {
        if (o >= st.cursor && o < bound && picked.length < limit) picked.push(o);
      }
    }
    if (picked.length > 0) {
      st.claims.push({ start: picked[0], end: picked.at(-1) + 1, at: now });
      st.cursor = Math.max(st.cursor, picked.at(-1) + 1);
    }
    return { picked, next_offset: picked.length > 0 ? picked.at(-1) + 1 : startOffset, has_more: picked.length === limit };
  };

  const json = (status, body) => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
  server.fetch = async (url, init) => {
    const path = new URL(String(url)).pathname;
    const body = init?.body ? JSON.parse(init.body) : undefined;
    if (path === '/v1/api/auth/login') {
      return json(200, { user: { id: 'w', role: 'service' }, admin_ui_access: false, expires_at: new Date(Date.now() + 3600e3).toISOString(), access_token: 'tok' });
    }
    if (path === '/v1/api/topics/consume') {
      server.consumes += 1;
      const result = consume(body);
      events.push({ kind: 'consume', limit: body.limit, offsets: result.picked });
      if (lose(server.consumes, result.picked)) {
        events.push({ kind: 'lost', offsets: result.picked });
        return new Response('<html><body>502 Bad Gateway</body></html>', { status: 502, headers: { 'content-type': 'text/html' } });
      }
      return json(200, { messages: result.picked.map(wire), next_offset: result.next_offset, has_more: result.has_more });
    }
    if (path === '/v1/api/topics/ack') {
      acks.push(body.upto_offset);
      events.push({ kind: 'ack', upto: body.upto_offset, at: Date.now() });
      server.ack(body.upto_offset);
      return json(200, { success: true, acknowledged_offset: body.upto_offset });
    }
    return json(404, { error: 'no route', code: 'NOT_FOUND' });
  };
  return server;
}

const range = (from, to) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const fast = {
  name: 'w', topic: 'app.t', groupId: 'g', start: 'earliest', batchSize: 10, partitions: [0],
  retry: { maxAttempts: 2, initialBackoffMs: 1, maxBackoffMs: 5 },
  connectionRetry: { initialBackoffMs: 2, maxBackoffMs: 10 },
  idleBackoff: { initialMs: 2, maxMs: 10 },
};

function client(server) {
  return createConsumerClient({ url: 'http://stub.invalid', authProvider: Auth.basic('w', 'p'), fetch: server.fetch });
}

/** Runs a worker until `until()` holds (or timeoutMs passes), then stops it. */
async function runWorker(server, options, until, timeoutMs = 5000) {
  const controller = new AbortController();
  const handled = [];
  const errors = [];
  const running = runConsumer({
    ...fast,
    client: client(server),
    stopSignal: controller.signal,
    onError: (info) => errors.push(info),
    onChange: async (_ctx, change) => { handled.push(change.offset); },
    ...options,
  });
  const t0 = Date.now();
  while (!until({ handled, errors }) && Date.now() - t0 < timeoutMs) await sleep(5);
  controller.abort();
  await running;
  return { handled, errors };
}

/** The second data-carrying consume is answered by the server but lost on the way back. */
function loseSecondBatch() {
  let batches = 0;
  return (_n, picked) => picked.length > 0 && ++batches === 2;
}

test('a lost consume answer opens a gap: nothing after it is handled or committed while the claim is live', async () => {
  const server = claimServer({ offsets: range(0, 39), lose: loseSecondBatch() });
  const { handled, errors } = await runWorker(server, {}, () => false, 400);
  const lost = server.events.find((e) => e.kind === 'lost');
  assert.deepEqual(lost.offsets, range(10, 19), 'the server claimed 10..19 and the answer was lost');
  assert.deepEqual(handled, range(0, 9), 'only the batch before the gap was handled');
  assert.ok(server.acks.length > 0 && server.acks.every((a) => a <= 9), `no ack past the gap: ${JSON.stringify(server.acks)}`);
  assert.equal(server.committed, 9);
  assert.ok(server.events.some((e) => e.kind === 'consume' && e.offsets[0] === 20), 'the batch after the gap was fetched (and held back)');
  assert.deepEqual(errors.filter((e) => e.phase === 'gap'), [], 'not reported before gapTimeoutMs');
});

test('after the claim expires the gap is redelivered and handled in order, then the held-back batches, exactly once', async () => {
  const server = claimServer({ offsets: range(0, 39), visibilityMs: 150, lose: loseSecondBatch() });
  const { handled, errors } = await runWorker(server, {}, ({ handled }) => handled.length >= 40 && server.committed === 39);
  assert.deepEqual(handled, range(0, 39), 'every offset once, in offset order');
  assert.equal(server.committed, 39);
  const sorted = [...server.acks].sort((a, b) => a - b);
  assert.deepEqual(server.acks, sorted, 'acks only move forward');
  assert.deepEqual(errors.filter((e) => e.phase === 'gap'), []);
});

test('handover: committed offsets of a redelivered claim are skipped, the rest is handled in order once', async () => {
  const server = claimServer({ offsets: range(0, 29), visibilityMs: 200 });
  // A previous worker claimed 0..9, committed 0..4 and vanished; its claim is still live.
  server.ack(4);
  server.state.claims.push({ start: 0, end: 10, at: Date.now() });
  server.state.cursor = 10;
  const { handled } = await runWorker(server, {}, ({ handled }) => handled.length >= 25 && server.committed === 29);
  assert.deepEqual(handled, range(5, 29), 'nothing at or below the committed offset again; nothing lost; in order');
  assert.equal(server.committed, 29);
});

test('a gap another worker commits meanwhile is learned by probing, not waited for', async () => {
  const server = claimServer({ offsets: range(0, 29), visibilityMs: 60_000 });
  server.state = { cursor: 10, claims: [{ start: 0, end: 10, at: Date.now() }] };
  setTimeout(() => server.ack(9), 150); // the other worker finishes its batch
  const { handled, errors } = await runWorker(server, {}, ({ handled }) => handled.length >= 20 && server.committed === 29);
  assert.deepEqual(handled, range(10, 29));
  assert.equal(server.committed, 29);
  assert.deepEqual(errors.filter((e) => e.phase === 'gap'), []);
});

test('a range that never comes back (deleted messages) is reported as OFFSET_GAP after gapTimeoutMs, then the worker goes on', async () => {
  const server = claimServer({ offsets: [...range(0, 9), ...range(15, 29)] });
  const t0 = Date.now();
  let reportedAt;
  const { handled } = await runWorker(server, {
    gapTimeoutMs: 300,
    onError: (info) => { if (info.phase === 'gap') reportedAt ??= Date.now(); },
  }, ({ handled }) => handled.length >= 25 && server.committed === 29);
  assert.ok(reportedAt !== undefined, 'the gap was reported');
  assert.ok(reportedAt - t0 >= 300, 'not before gapTimeoutMs');
  assert.deepEqual(handled, [...range(0, 9), ...range(15, 29)], 'in order, the missing range given up only after the report');
  assert.equal(server.committed, 29);
  const early = server.events.filter((e) => e.kind === 'ack' && e.at < reportedAt).map((e) => e.upto);
  assert.ok(early.length > 0 && early.every((upto) => upto <= 9), `nothing committed past the gap before it was reported: ${JSON.stringify(early)}`);
});

test('OFFSET_GAP carries the range, phase gap and a typed error', async () => {
  const server = claimServer({ offsets: [...range(0, 9), ...range(15, 29)] });
  const { errors } = await runWorker(server, { gapTimeoutMs: 100 }, ({ handled }) => handled.length >= 25 && server.committed === 29);
  const gaps = errors.filter((e) => e.phase === 'gap');
  assert.equal(gaps.length, 1);
  assert.equal(gaps[0].error.name, 'KalamConsumerError');
  assert.equal(gaps[0].error.code, 'OFFSET_GAP');
  assert.deepEqual(gaps[0].gap, { from: 10, to: 14 });
  assert.equal(gaps[0].offset, 10);
  assert.equal(gaps[0].partitionId, 0);
  assert.match(gaps[0].error.message, /10\.\.14/);
});

test('consumer().run hands out nothing past a lost claim and handles the redelivery in order', async () => {
  const server = claimServer({ offsets: range(0, 29), visibilityMs: 150, lose: loseSecondBatch() });
  const handle = client(server).consumer({ topic: 'app.t', group_id: 'g', start: 'earliest', batch_size: 10, idle_backoff: { initialMs: 2, maxMs: 10 }, connection_retry: { initialBackoffMs: 2, maxBackoffMs: 10 } });
  const handled = [];
  const running = handle.run(async (ctx) => { handled.push(ctx.message.offset); await ctx.ack(); });
  const t0 = Date.now();
  while (!(handled.length >= 30 && server.committed === 29) && Date.now() - t0 < 5000) await sleep(5);
  handle.stop();
  await running;
  assert.deepEqual(handled, range(0, 29));
  const sorted = [...server.acks].sort((a, b) => a - b);
  assert.deepEqual(server.acks, sorted, 'per-message acks only move forward: none jumped the lost range');
});

test("start 'latest': the group's position is probed before the first fetch, so a lost first answer is a gap too", async () => {
  let batches = 0;
  const lose = (_n, picked) => picked.length > 0 && ++batches === 1;
  const lossy = claimServer({ offsets: range(0, 9), visibilityMs: 150, lose });
  // Published once the worker has probed (so 'latest' is 10), however slow the machine is.
  const publisher = setInterval(() => {
    if (lossy.consumes === 0) return;
    lossy.add(range(10, 39));
    clearInterval(publisher);
  }, 5);
  const { handled } = await runWorker(lossy, { start: 'latest' }, ({ handled }) => handled.length >= 30 && lossy.committed === 39);
  assert.equal(lossy.events[0].limit, 0, 'the first consume is a limit: 0 probe');
  assert.deepEqual(lossy.events.find((e) => e.kind === 'lost').offsets, range(10, 19));
  assert.deepEqual(handled, range(10, 39), 'nothing from before the start, nothing lost, in order');
});

test('consumer().run reports a range that never comes back through on_gap, then goes on', async () => {
  const server = claimServer({ offsets: [...range(0, 9), ...range(15, 29)] });
  const gaps = [];
  const handle = client(server).consumer({
    topic: 'app.t', group_id: 'g', start: 'earliest', batch_size: 10, auto_ack: true, gap_timeout_ms: 100,
    idle_backoff: { initialMs: 2, maxMs: 10 }, on_gap: (error, gap) => gaps.push({ code: error.code, gap }),
  });
  const handled = [];
  const running = handle.run(async (ctx) => { handled.push(ctx.message.offset); });
  const t0 = Date.now();
  while (!(handled.length >= 25 && server.committed === 29) && Date.now() - t0 < 5000) await sleep(5);
  handle.stop();
  await running;
  assert.deepEqual(gaps, [{ code: 'OFFSET_GAP', gap: { from: 10, to: 14 } }]);
  assert.deepEqual(handled, [...range(0, 9), ...range(15, 29)]);
  assert.equal(server.committed, 29);
});
