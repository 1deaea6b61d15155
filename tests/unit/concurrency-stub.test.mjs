// runConsumer({ concurrency: N }) pinned down with an in-process fetch stub, where the test
// decides exactly when each handler finishes: per-key order and exclusion, the N limit, the
// commit watermark under out-of-order completion, retries and dead letters beside other keys,
// stop in the middle of a batch, and messages without a key. The end-to-end counterpart against
// kalam-devserver is tests/concurrency.test.mjs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createConsumerClient, Auth, runConsumer, KalamConsumerError } from '@kalamdb/consumer';

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A fetch that answers login/consume/ack from memory for partition 0. The cursor moves on every
 * consume (claims); `restart()` forgets the claims, as a restarted server does, so the next
 * consume starts after the committed offset. A `limit: 0` probe answers committed + 1 (§3.5).
 * `onAck(upto)` runs synchronously when an ack arrives, before it is answered.
 */
function stubServer(messages, { onAck } = {}) {
  const acks = [];
  let cursor = 0;
  let committed = -1;
  const json = (status, body) => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
  const fetch = async (url, init) => {
    const path = new URL(String(url)).pathname;
    const body = init?.body ? JSON.parse(init.body) : undefined;
    if (path === '/v1/api/auth/login') {
      return json(200, { user: { id: 'w', role: 'service' }, admin_ui_access: false, expires_at: new Date(Date.now() + 3600e3).toISOString(), access_token: 'tok' });
    }
    if (path === '/v1/api/topics/consume') {
      if (body.limit === 0) return json(200, { messages: [], next_offset: committed + 1, has_more: false });
      const batch = messages.slice(cursor, cursor + body.limit);
      cursor += batch.length;
      return json(200, { messages: batch, next_offset: cursor, has_more: batch.length === body.limit });
    }
    if (path === '/v1/api/topics/ack') {
      const upto = body.upto_offset;
      onAck?.(upto);
      acks.push(upto);
      committed = Math.max(committed, upto);
      return json(200, { success: true, acknowledged_offset: upto });
    }
    return json(404, { error: 'no route', code: 'NOT_FOUND' });
  };
  return {
    fetch,
    acks,
    get committed() {
      return committed;
    },
    restart() {
      cursor = committed + 1;
    },
  };
}

function wire(offset, key) {
  return {
    topic_id: 'app.t', partition_id: 0, offset, key, timestamp_ms: 1, op: 'Insert', user: 'alice',
    payload: Buffer.from(JSON.stringify({ n: offset })).toString('base64'),
  };
}

const fast = {
  name: 'w', topic: 'app.t', groupId: 'g', start: 'earliest', partitions: [0],
  retry: { maxAttempts: 2, initialBackoffMs: 1, maxBackoffMs: 5, jitterRatio: 0 },
  connectionRetry: { initialBackoffMs: 5, maxBackoffMs: 20 },
  idleBackoff: { initialMs: 2, maxMs: 10 },
  logger: false,
};

function client(stub) {
  return createConsumerClient({ url: 'http://stub.invalid', authProvider: Auth.basic('w', 'p'), fetch: stub.fetch });
}

async function waitUntil(condition, what, timeoutMs = 10_000) {
  const t0 = Date.now();
  while (!condition()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await sleep(2);
  }
}

/** Starts a worker; `stop()` aborts its stopSignal and waits for runConsumer to settle. */
function start(options) {
  const controller = new AbortController();
  const running = runConsumer({ ...fast, ...options, stopSignal: controller.signal });
  let settled = false;
  running.then(() => { settled = true; }, () => { settled = true; });
  return {
    running,
    get settled() {
      return settled;
    },
    abort: () => controller.abort(),
    async stop() {
      controller.abort();
      await running;
    },
  };
}

/** A promise with its resolve exposed. */
function gate() {
  let open;
  const promise = new Promise((resolve) => { open = resolve; });
  return { promise, open };
}

/**
 * Records handler attempts: what runs at any moment, the most at once, and every start of an
 * attempt while another attempt of the same key is still running.
 */
function tracer() {
  const running = new Map(); // offset -> key
  const starts = []; // { offset, key }, in start order (one per attempt)
  const overlaps = [];
  let max = 0;
  return {
    starts,
    overlaps,
    running,
    get max() {
      return max;
    },
    start(change) {
      for (const [offset, key] of running) {
        if (key === change.key) overlaps.push(`offset ${change.offset} (key ${change.key}) started while offset ${offset} of that key ran`);
      }
      running.set(change.offset, change.key);
      max = Math.max(max, running.size);
      starts.push({ offset: change.offset, key: change.key });
    },
    end(change) {
      running.delete(change.offset);
    },
  };
}

/** Checks every ack against what has finished: no ack may cover an unfinished offset. */
function watermarkGuard(offsets) {
  const finished = new Set();
  const violations = [];
  return {
    finished,
    violations,
    onAck(upto) {
      const missing = offsets.filter((o) => o <= upto && !finished.has(o));
      if (missing.length > 0) violations.push(`ack ${upto} covers unfinished offsets ${missing.join(',')}`);
    },
  };
}

/** A small deterministic PRNG (mulberry32), so a failing run can be replayed. */
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const range = (from, to) => Array.from({ length: to - from }, (_, i) => from + i);

test('concurrency: many keys, random handler times: per key one at a time in offset order, at most N at once, and N reached', async () => {
  const seed = 0xc0ffee;
  const random = prng(seed);
  const total = 240;
  const keyOf = range(0, total).map(() => `k${Math.floor(random() * 12)}`);
  const delays = range(0, total).map(() => Math.floor(random() * 7));
  const guard = watermarkGuard(range(0, total));
  const stub = stubServer(range(0, total).map((o) => wire(o, keyOf[o])), { onAck: guard.onAck });
  const tr = tracer();
  const worker = start({
    client: client(stub), concurrency: 5, batchSize: 60,
    onChange: async (_ctx, change) => {
      tr.start(change);
      await sleep(delays[change.offset]);
      tr.end(change);
      guard.finished.add(change.offset);
    },
  });
  await waitUntil(() => stub.committed === total - 1, 'every message committed');
  await worker.stop();

  assert.deepEqual(tr.overlaps, [], `seed ${seed}`);
  assert.deepEqual(tr.starts.map((s) => s.offset).sort((a, b) => a - b), range(0, total), 'each message handled exactly once');
  for (const key of new Set(keyOf)) {
    const started = tr.starts.filter((s) => s.key === key).map((s) => s.offset);
    const inOffsetOrder = [...started].sort((a, b) => a - b);
    assert.deepEqual(started, inOffsetOrder, `key ${key} started in offset order (seed ${seed})`);
  }
  assert.equal(tr.max, 5, 'five handlers ran at once, never more');
  assert.deepEqual(guard.violations, []);
});

test('concurrency: with distinct keys exactly N run at once; a finished handler frees one slot', async () => {
  const gates = range(0, 10).map(() => gate());
  const stub = stubServer(range(0, 10).map((o) => wire(o, `key-${o}`)));
  const tr = tracer();
  const worker = start({
    client: client(stub), concurrency: 4, batchSize: 10,
    onChange: async (_ctx, change) => {
      tr.start(change);
      await gates[change.offset].promise;
      tr.end(change);
    },
  });
  try {
    await waitUntil(() => tr.running.size === 4, 'four handlers running');
    await sleep(50);
    assert.equal(tr.starts.length, 4, 'no fifth handler starts while four run');
    gates[tr.starts[0].offset].open();
    await waitUntil(() => tr.starts.length === 5, 'a fifth handler after one finished');
    await sleep(30);
    assert.equal(tr.starts.length, 5, 'one finished handler lets exactly one more start');
    assert.equal(tr.running.size, 4);
    for (const g of gates) g.open();
    await waitUntil(() => stub.committed === 9, 'everything committed');
    assert.equal(tr.max, 4);
  } finally {
    for (const g of gates) g.open();
    await worker.stop();
  }
});

test('concurrency: a slow first message holds the commit while every later one finishes; once it finishes the commit reaches the end', async () => {
  const slow = gate();
  const guard = watermarkGuard(range(0, 8));
  const stub = stubServer(range(0, 8).map((o) => wire(o, `key-${o}`)), { onAck: guard.onAck });
  const worker = start({
    client: client(stub), concurrency: 8, batchSize: 8,
    onChange: async (_ctx, change) => {
      if (change.offset === 0) await slow.promise;
      guard.finished.add(change.offset);
    },
  });
  try {
    await waitUntil(() => guard.finished.size === 7, 'offsets 1..7 finished');
    assert.ok(!guard.finished.has(0));
    await sleep(100);
    assert.deepEqual(stub.acks, [], 'nothing is committed while offset 0 runs');
    slow.open();
    await waitUntil(() => stub.committed === 7, 'commit up to offset 7');
    assert.deepEqual(guard.violations, []);
  } finally {
    slow.open();
    await worker.stop();
  }
});

test('concurrency: early ctx.ack() calls of later messages never commit past a slow message in the middle', async () => {
  const slow = gate();
  const guard = watermarkGuard(range(0, 8));
  const stub = stubServer(range(0, 8).map((o) => wire(o, `key-${o}`)), { onAck: guard.onAck });
  const acked = new Set();
  const worker = start({
    client: client(stub), concurrency: 8, batchSize: 8,
    onChange: async (ctx, change) => {
      if (change.offset === 3) await slow.promise;
      guard.finished.add(change.offset);
      await ctx.ack();
      acked.add(change.offset);
    },
  });
  try {
    await waitUntil(() => acked.size === 7, 'every message but offset 3 called ctx.ack()');
    await sleep(50);
    assert.ok(stub.acks.length > 0, 'the finished prefix was committed early');
    assert.equal(Math.max(...stub.acks), 2, 'the commit stops right below the running offset 3');
    slow.open();
    await waitUntil(() => stub.committed === 7, 'commit up to offset 7');
    assert.deepEqual(guard.violations, []);
  } finally {
    slow.open();
    await worker.stop();
  }
});

test('concurrency: a failing key is retried while other keys proceed; its next message waits for it', async () => {
  // Offsets 2 and 7 share key "bad"; offset 2 fails twice, then succeeds.
  const keyOf = (o) => (o === 2 || o === 7 ? 'bad' : `key-${o}`);
  const guard = watermarkGuard(range(0, 10));
  const stub = stubServer(range(0, 10).map((o) => wire(o, keyOf(o))), { onAck: guard.onAck });
  const tr = tracer();
  const timeline = [];
  const worker = start({
    client: client(stub), concurrency: 3, batchSize: 10,
    retry: { maxAttempts: 3, initialBackoffMs: 150, maxBackoffMs: 150, jitterRatio: 0 },
    onChange: async (ctx, change) => {
      tr.start(change);
      timeline.push(`start ${change.offset}#${ctx.attempt}`);
      try {
        if (change.offset === 2 && ctx.attempt < 3) throw new Error(`attempt ${ctx.attempt} fails`);
        await sleep(5);
      } finally {
        tr.end(change);
      }
      timeline.push(`end ${change.offset}`);
      guard.finished.add(change.offset);
    },
  });
  await waitUntil(() => stub.committed === 9, 'everything committed');
  await worker.stop();

  assert.deepEqual(tr.overlaps, []);
  const at = (event) => {
    const i = timeline.indexOf(event);
    assert.ok(i >= 0, `${event} happened`);
    return i;
  };
  const lastAttempt = at('start 2#3');
  for (const o of [0, 1, 3, 4, 5, 6, 8, 9]) assert.ok(at(`end ${o}`) < lastAttempt, `offset ${o} finished while offset 2 waited to be retried`);
  assert.ok(at('start 7#1') > at('end 2'), 'offset 7 (same key) started only after offset 2 succeeded');
  assert.equal(timeline.filter((e) => e.startsWith('start 2#')).length, 3);
  assert.deepEqual(guard.violations, []);
});

test('concurrency: onFailed dead-letters a failing key while others proceed; the commit passes it only then', async () => {
  const keyOf = (o) => (o === 2 || o === 7 ? 'bad' : `key-${o}`);
  const guard = watermarkGuard(range(0, 10));
  const stub = stubServer(range(0, 10).map((o) => wire(o, keyOf(o))), { onAck: guard.onAck });
  const timeline = [];
  const deadLetters = [];
  const worker = start({
    client: client(stub), concurrency: 3, batchSize: 10,
    retry: { maxAttempts: 2, initialBackoffMs: 100, maxBackoffMs: 100, jitterRatio: 0 },
    onChange: async (ctx, change) => {
      timeline.push(`start ${change.offset}#${ctx.attempt}`);
      if (change.offset === 2) throw new Error('poison');
      await sleep(5);
      timeline.push(`end ${change.offset}`);
      guard.finished.add(change.offset);
    },
    onFailed: async (_ctx, change, error) => {
      await sleep(20);
      deadLetters.push({ offset: change.offset, message: error.message });
      timeline.push(`dead ${change.offset}`);
      guard.finished.add(change.offset);
    },
  });
  await waitUntil(() => stub.committed === 9, 'everything committed');
  await worker.stop();

  assert.deepEqual(deadLetters, [{ offset: 2, message: 'poison' }]);
  const at = (event) => {
    const i = timeline.indexOf(event);
    assert.ok(i >= 0, `${event} happened`);
    return i;
  };
  for (const o of [0, 1, 3, 4, 5, 6, 8, 9]) assert.ok(at(`end ${o}`) < at('start 2#2'), `offset ${o} finished during offset 2's backoff`);
  assert.ok(at('start 7#1') > at('dead 2'), 'offset 7 (same key) waited for the dead letter of offset 2');
  assert.deepEqual(guard.violations, []);
});

test('concurrency: without onFailed the worker rejects with RETRIES_EXHAUSTED and commits nothing past the failed message', async () => {
  // Offset 3 always fails; offset 8 shares its key. 0..2 finish at once, 4..9 during the backoff.
  const keyOf = (o) => (o === 3 || o === 8 ? 'bad' : `key-${o}`);
  const guard = watermarkGuard(range(0, 10));
  const stub = stubServer(range(0, 10).map((o) => wire(o, keyOf(o))), { onAck: guard.onAck });
  const handled = [];
  const worker = start({
    client: client(stub), concurrency: 4, batchSize: 10,
    retry: { maxAttempts: 2, initialBackoffMs: 60, maxBackoffMs: 60, jitterRatio: 0 },
    onChange: async (_ctx, change) => {
      handled.push(change.offset);
      if (change.offset === 3) throw new Error('always');
      if (change.offset > 3) await sleep(5);
      guard.finished.add(change.offset);
    },
  });
  try {
    await assert.rejects(worker.running, (error) => {
      assert.ok(error instanceof KalamConsumerError);
      assert.equal(error.code, 'RETRIES_EXHAUSTED');
      return true;
    });
  } finally {
    await worker.stop().catch(() => {});
  }
  for (const o of [4, 5, 6, 7, 9]) assert.ok(guard.finished.has(o), `offset ${o} was handled beside the failing key`);
  assert.ok(!handled.includes(8), 'the failing key\'s next message never started');
  assert.ok(stub.acks.length > 0);
  assert.ok(stub.acks.every((upto) => upto < 3), `acks ${stub.acks}: none covers the failed offset 3`);
  assert.equal(stub.committed, 2, 'the finished prefix before the failed message is committed');
  assert.deepEqual(guard.violations, []);
});

test('concurrency: stop mid-batch drains the running handlers, commits exactly the finished prefix, and a restart handles the rest once', async () => {
  const total = 12;
  const gates = range(0, total).map(() => gate());
  const guard = watermarkGuard(range(0, total));
  const stub = stubServer(range(0, total).map((o) => wire(o, `key-${o}`)), { onAck: guard.onAck });
  const tr = tracer();
  const abortedSignals = [];
  const worker = start({
    client: client(stub), concurrency: 4, batchSize: total, drainTimeoutMs: 400,
    onChange: async (ctx, change) => {
      tr.start(change);
      await gates[change.offset].promise;
      if (ctx.signal.aborted) abortedSignals.push(change.offset);
      tr.end(change);
      guard.finished.add(change.offset);
    },
  });
  let secondRun;
  try {
    await waitUntil(() => tr.running.size === 4, 'four handlers running');
    assert.deepEqual([...tr.running.keys()].sort((a, b) => a - b), [0, 1, 2, 3]);
    worker.abort();
    // 1 and 3 finish at once, 0 during the drain; 2 outlives the drain deadline (abandoned).
    gates[1].open();
    gates[3].open();
    await sleep(100);
    assert.equal(worker.settled, false, 'runConsumer waits for the running handlers');
    gates[0].open();
    await worker.running;
    assert.deepEqual(tr.starts.map((s) => s.offset).sort((a, b) => a - b), [0, 1, 2, 3], 'nothing new started after stop');
    assert.deepEqual(abortedSignals.sort((a, b) => a - b), [0, 1, 3], 'ctx.signal of the running handlers was aborted by stop');
    assert.equal(stub.committed, 1, 'committed up to 1: offset 2 never finished, so 3 is not covered');
    assert.deepEqual(guard.violations, []);

    // A restart (the server forgot the claims) handles everything after the committed offset once.
    stub.restart();
    const second = [];
    secondRun = start({
      client: client(stub), concurrency: 4, batchSize: total,
      onChange: async (_ctx, change) => {
        second.push(change.offset);
        guard.finished.add(change.offset);
      },
    });
    await waitUntil(() => stub.committed === total - 1, 'everything committed after the restart');
    await secondRun.stop();
    assert.deepEqual(second.sort((a, b) => a - b), range(2, total), 'offsets 2..11, each exactly once');
  } finally {
    for (const g of gates) g.open();
    await worker.stop();
    await secondRun?.stop();
  }
});

test('concurrency: messages without a key run one at a time in offset order, beside keyed messages', async () => {
  const total = 30;
  const keyOf = (o) => (o % 3 === 0 ? null : `key-${o}`);
  const stub = stubServer(range(0, total).map((o) => wire(o, keyOf(o))));
  const tr = tracer();
  let keyedBesideNull = 0;
  const worker = start({
    client: client(stub), concurrency: 4, batchSize: total,
    onChange: async (_ctx, change) => {
      tr.start(change);
      const others = [...tr.running.entries()].filter(([o]) => o !== change.offset);
      if (others.some(([, key]) => (key === null) !== (change.key === null))) keyedBesideNull += 1;
      await sleep(10);
      tr.end(change);
    },
  });
  await waitUntil(() => stub.committed === total - 1, 'everything committed');
  await worker.stop();

  assert.deepEqual(tr.overlaps, [], 'no two messages without a key ran at once');
  const nullStarts = tr.starts.filter((s) => s.key === null).map((s) => s.offset);
  assert.deepEqual(nullStarts, range(0, total).filter((o) => keyOf(o) === null), 'null-key messages started in offset order');
  assert.ok(keyedBesideNull > 0, 'keyed messages ran while a message without a key ran');
  assert.ok(tr.max > 1);
});

test('concurrency must be a positive integer: 0, 1.5, -1 and non-numbers are INVALID_OPTION before any request', async () => {
  const noFetch = async (url) => { throw new Error(`unexpected request to ${url}`); };
  const c = createConsumerClient({ url: 'http://stub.invalid', authProvider: Auth.basic('w', 'p'), fetch: noFetch });
  for (const concurrency of [0, 1.5, -1, NaN, Infinity, '4', null]) {
    await assert.rejects(runConsumer({ ...fast, client: c, concurrency, onChange: async () => {} }), (error) => {
      assert.ok(error instanceof KalamConsumerError, String(error));
      assert.equal(error.code, 'INVALID_OPTION');
      assert.match(error.message, /concurrency/);
      return true;
    }, String(concurrency));
  }
});

test('concurrency: when two keys exhaust their retries, the worker stops with the lowest failed offset, which is where the commit ends', async () => {
  // Offset 3 fails at once; offset 1 (another key, started earlier) fails later. A restart
  // resumes at offset 1, so that is the message the error must name.
  const guard = watermarkGuard(range(0, 6));
  const stub = stubServer(range(0, 6).map((o) => wire(o, `key-${o}`)), { onAck: guard.onAck });
  const worker = start({
    client: client(stub), concurrency: 6, batchSize: 6, retry: { maxAttempts: 1 },
    onChange: async (_ctx, change) => {
      if (change.offset === 1) {
        await sleep(80);
        throw new Error('late failure');
      }
      if (change.offset === 3) throw new Error('early failure');
      guard.finished.add(change.offset);
    },
  });
  let caught;
  try {
    await worker.running;
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof KalamConsumerError, String(caught));
  assert.equal(caught.code, 'RETRIES_EXHAUSTED');
  assert.equal(stub.committed, 0, 'committed up to 0: offset 1 failed');
  assert.match(caught.message, /app\.t\[0\]@1 /, caught.message);
  assert.match(caught.message, /everything before offset 1 is committed/);
  assert.equal(caught.cause?.message, 'late failure');
  assert.deepEqual(guard.violations, []);
});
