// runConsumer(): the worker runtime — change/ctx shapes, retries, dead letters, commits,
// partitions and stopping.

import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { runConsumer } from '@kalamdb/consumer';
import {
  useDevServer, setupTopic, createServiceUser, uniqueName, committedOffset, committedOffsets,
  waitFor, within, sleep, recordingFetch,
} from './support/devserver.mjs';
import { clientFor, insertRows, fastRunOptions } from './support/consumer.mjs';
import { startRawServer, loginBody, wireMessage } from './support/raw-server.mjs';
import { isKalamConsumerError } from '@kalamdb/consumer';

// A short visibility timeout, so a runtime that re-fetches unacked claims can do so in time.
const server = await useDevServer({ args: ['--visibility-timeout-secs', '3'] });
const worker = await createServiceUser(server);
await server.sql(`CREATE USER alice WITH PASSWORD 'alice-pass-1' ROLE user`);
const client = clientFor(server, worker);

async function topicWith(n, opts = {}) {
  const t = await setupTopic(server, opts.setup);
  const rows = Array.from({ length: n }, (_, i) => ({ id: i + 1, body: `m${i + 1}` }));
  await insertRows(server, t.table, rows, { asUser: opts.asUser });
  return t;
}

/**
 * Start runConsumer with fast defaults, wait until `until()` is truthy (or the runtime
 * settles on its own), then abort and wait for it to resolve. Returns what runConsumer
 * resolved to; rethrows its rejection.
 */
async function runUntil(options, until, { timeoutMs = 15_000, what = 'condition' } = {}) {
  const controller = new AbortController();
  let settled = false;
  const running = runConsumer({ ...fastRunOptions(), ...options, stopSignal: controller.signal });
  running.then(() => { settled = true; }, () => { settled = true; });
  try {
    await waitFor(async () => settled || (await until()), { timeoutMs, message: what });
  } finally {
    controller.abort();
  }
  return within(15_000, running, 'runConsumer after stopSignal');
}

const CTX_ALLOWED = new Set(['name', 'runKey', 'attempt', 'maxAttempts', 'signal', 'sql', 'queryOne', 'queryAll', 'ack', 'llm']);
const CTX_FORBIDDEN = ['message', 'change', 'user', 'op', 'offset', 'row', 'data', 'key', 'partitionId', 'payload'];

describe('runConsumer', { concurrency: true }, () => {
  test('onChange gets change = { data, user, op, key, timestampMs, partitionId, offset, topic, groupId, message } with message metadata-only', async () => {
    const t = await topicWith(1, { asUser: 'alice' });
    const group = uniqueName('g');
    const changes = [];
    await runUntil({ client, name: 'shape', topic: t.topic, groupId: group, onChange: async (_ctx, change) => { changes.push(change); } }, () => changes.length >= 1);
    const [c] = changes;
    assert.equal(c.data.body, 'm1');
    assert.equal(c.data.id, '1', 'BIGINT stays a string in change.data');
    assert.equal(c.user, 'alice');
    assert.equal(c.op, 'Insert');
    assert.equal(c.key, '1');
    assert.equal(typeof c.timestampMs, 'number');
    assert.ok(c.timestampMs > Date.now() - 120_000);
    assert.equal(c.partitionId, 0);
    assert.equal(c.offset, 0);
    assert.equal(c.topic, t.topic);
    assert.equal(c.groupId, group);
    assert.ok(c.message && typeof c.message === 'object', 'change.message is present');
    assert.equal('payload' in c.message, false, 'change.message has no payload');
    assert.equal('value' in c.message, false, 'change.message has no value');
    assert.equal(c.message.offset, 0);
    assert.equal(c.message.topic, t.topic);
  });

  test('ctx holds only name, runKey, attempt, maxAttempts, signal, sql/queryOne/queryAll, ack (no message, change, user, op, offset)', async () => {
    const t = await topicWith(2);
    const contexts = [];
    await runUntil({
      client, name: 'ctx-shape', topic: t.topic, groupId: uniqueName('g'),
      onChange: async (ctx) => { contexts.push(ctx); },
    }, () => contexts.length >= 2);
    const [ctx, ctx2] = contexts;
    for (const key of CTX_FORBIDDEN) assert.equal(key in ctx, false, `ctx.${key} must not exist`);
    for (const key of Object.keys(ctx)) assert.ok(CTX_ALLOWED.has(key), `unexpected ctx.${key}`);
    assert.equal(ctx.name, 'ctx-shape');
    assert.equal(typeof ctx.runKey, 'string');
    assert.ok(ctx.runKey.length > 0);
    assert.notEqual(ctx.runKey, ctx2.runKey, 'each message has its own runKey');
    assert.equal(ctx.attempt, 1);
    assert.equal(ctx.maxAttempts, 3);
    for (const fn of ['sql', 'queryOne', 'queryAll', 'ack']) assert.equal(typeof ctx[fn], 'function', `ctx.${fn}`);
    assert.ok(ctx.signal instanceof AbortSignal, 'ctx.signal is an AbortSignal');
    assert.ok(!ctx.llm, 'no llm helpers without an adapter');
  });

  test('ctx.sql and ctx.queryOne run SQL as the worker; the write is visible after the run', async () => {
    const t = await topicWith(2);
    await server.sql(`CREATE USER TABLE ${t.ns}.summary (id TEXT PRIMARY KEY, body TEXT)`);
    let seenCount;
    await runUntil({
      client, name: 'projector', topic: t.topic, groupId: uniqueName('g'),
      onChange: async (ctx, change) => {
        await ctx.sql(`INSERT INTO ${t.ns}.summary (id, body) VALUES ($1, $2)`, [change.key, change.data.body.toUpperCase()]);
        seenCount = (await ctx.queryOne(`SELECT COUNT(*) AS n FROM ${t.ns}.summary`)).n;
      },
    }, async () => (await client.queryAll(`SELECT id FROM ${t.ns}.summary`)).length === 2);
    const rows = await client.queryAll(`SELECT id, body FROM ${t.ns}.summary ORDER BY id`);
    assert.deepEqual(rows.map((r) => [r.id, r.body]), [['1', 'M1'], ['2', 'M2']]);
    assert.equal(Number(seenCount), 2, 'queryOne inside the handler saw both rows');
  });

  test('a failing handler is retried up to maxAttempts with onRetry, same runKey, then its success is committed', async () => {
    const t = await topicWith(1);
    const group = uniqueName('g');
    const attempts = [];
    const retries = [];
    await runUntil({
      client, name: 'retry', topic: t.topic, groupId: group,
      retry: { maxAttempts: 3, initialBackoffMs: 5, maxBackoffMs: 20, multiplier: 2, jitterRatio: 0 },
      onRetry: (info) => { retries.push(info); },
      onChange: async (ctx) => {
        attempts.push({ attempt: ctx.attempt, max: ctx.maxAttempts, runKey: ctx.runKey });
        if (ctx.attempt < 3) throw new Error(`flaky ${ctx.attempt}`);
      },
    }, async () => (await committedOffset(server, t.topic, group)) === 0, { what: 'commit after the third attempt' });
    assert.deepEqual(attempts.map((a) => a.attempt), [1, 2, 3]);
    assert.ok(attempts.every((a) => a.max === 3));
    assert.equal(new Set(attempts.map((a) => a.runKey)).size, 1, 'one runKey across attempts');
    assert.equal(retries.length, 2, 'onRetry once per retry');
    assert.match(String(retries[0].error?.message ?? retries[0].error), /flaky 1/);
  });

  test('shouldRetry returning false skips the remaining attempts and goes to onFailed', async () => {
    const t = await topicWith(1);
    let calls = 0;
    let failedWith;
    await runUntil({
      client, name: 'no-retry', topic: t.topic, groupId: uniqueName('g'),
      retry: { maxAttempts: 5, initialBackoffMs: 5, maxBackoffMs: 20, multiplier: 2, jitterRatio: 0, shouldRetry: () => false },
      onChange: async () => { calls += 1; throw new Error('fatal'); },
      onFailed: async (_ctx, _change, error) => { failedWith = error; },
    }, () => failedWith !== undefined);
    assert.equal(calls, 1);
    assert.match(String(failedWith?.message ?? failedWith), /fatal/);
  });

  test('onFailed is the dead-letter hook: called once after the last attempt, the message is acked and the next one processed', async () => {
    const t = await setupTopic(server);
    await insertRows(server, t.table, [{ id: 1, body: 'poison' }, { id: 2, body: 'fine' }]);
    const group = uniqueName('g');
    const handled = [];
    const failed = [];
    await runUntil({
      client, name: 'dlq', topic: t.topic, groupId: group,
      retry: { maxAttempts: 2, initialBackoffMs: 5, maxBackoffMs: 20, multiplier: 2, jitterRatio: 0 },
      onChange: async (_ctx, change) => {
        handled.push(change.data.body);
        if (change.data.body === 'poison') throw new Error('boom');
      },
      onFailed: async (ctx, change, error) => { failed.push({ ctx, change, error }); },
    }, async () => (await committedOffset(server, t.topic, group)) === 1, { what: 'commit of offset 1' });
    assert.deepEqual(handled, ['poison', 'poison', 'fine'], 'two attempts for poison, then the next message');
    assert.equal(failed.length, 1);
    assert.equal(failed[0].change.offset, 0);
    assert.equal(failed[0].change.data.body, 'poison');
    assert.match(String(failed[0].error?.message ?? failed[0].error), /boom/);
    assert.equal('message' in failed[0].ctx, false, 'onFailed ctx has no message either');
  });

  test('ackOnFailed: false leaves a dead-lettered message uncommitted', async () => {
    const t = await topicWith(1);
    const group = uniqueName('g');
    let failedAt = 0;
    await runUntil({
      client, name: 'dlq-noack', topic: t.topic, groupId: group, ackOnFailed: false,
      retry: { maxAttempts: 1 },
      onChange: async () => { throw new Error('boom'); },
      onFailed: async () => { failedAt = Date.now(); },
    }, () => failedAt > 0 && Date.now() - failedAt > 300);
    assert.equal(await committedOffset(server, t.topic, group), undefined);
  });

  test('when onFailed throws, the error goes to onError and the message is not committed', async () => {
    const t = await topicWith(1);
    const group = uniqueName('g');
    const errors = [];
    await runUntil({
      client, name: 'dlq-throws', topic: t.topic, groupId: group,
      retry: { maxAttempts: 1 },
      onChange: async () => { throw new Error('boom'); },
      onFailed: async () => { throw new Error('dead letter store down'); },
      onError: (info) => { errors.push(info); },
    }, () => errors.length > 0);
    await sleep(200);
    assert.ok(errors.length > 0, 'onError was called');
    assert.equal(await committedOffset(server, t.topic, group), undefined);
  });

  test('without onFailed a message failing every attempt rejects with RETRIES_EXHAUSTED after committing what came before; a restart resumes at it', async () => {
    const t = await setupTopic(server);
    await insertRows(server, t.table, [{ id: 1, body: 'ok-1' }, { id: 2, body: 'poison' }, { id: 3, body: 'ok-3' }]);
    const group = uniqueName('g');
    const seen = [];
    const errors = [];
    let failing = true;
    const options = {
      ...fastRunOptions(), client, name: 'blocked', topic: t.topic, groupId: group, logger: false,
      retry: { maxAttempts: 2, initialBackoffMs: 5, maxBackoffMs: 20, multiplier: 2, jitterRatio: 0 },
      onChange: async (_ctx, change) => {
        seen.push(change.data.body);
        if (failing && change.data.body === 'poison') throw new Error('still broken');
      },
      onError: (info) => { errors.push(info); },
    };
    const stopper = new AbortController();
    const timer = setTimeout(() => stopper.abort(), 15_000);
    try {
      await assert.rejects(within(20_000, runConsumer({ ...options, stopSignal: stopper.signal }), 'runConsumer with a failing message'), (err) => {
        assert.equal(err.code, 'RETRIES_EXHAUSTED');
        assert.ok(err.message.includes(`${t.topic}[0]@1`), `names topic[partition]@offset: ${err.message}`);
        assert.match(err.message, /still broken/, 'carries the last error');
        return true;
      });
    } finally {
      clearTimeout(timer);
    }
    assert.deepEqual(seen, ['ok-1', 'poison', 'poison'], 'maxAttempts tries, and offset 2 was not delivered');
    assert.ok(errors.some((e) => e.phase === 'handler' && e.offset === 1), 'the exhausted message was reported through onError');
    assert.equal(await committedOffset(server, t.topic, group), 0, 'offset 0 committed, the failing offset 1 not');
    // A restart resumes at the failing message.
    failing = false;
    seen.length = 0;
    await runUntil(options, async () => (await committedOffset(server, t.topic, group)) === 2, { what: 'commit of offset 2 after the restart' });
    assert.deepEqual(seen, ['poison', 'ok-3'], 'the restart began at the failing message, in offset order');
  });

  test('one ack per fetched batch covering the whole batch, not one per message; every poll sends timeout_seconds', async () => {
    const t = await topicWith(10);
    const group = uniqueName('g');
    const rec = recordingFetch();
    const counting = clientFor(server, worker, { fetch: rec.fetch });
    let handled = 0;
    await runUntil({
      client: counting, name: 'acks', topic: t.topic, groupId: group, batchSize: 5,
      onChange: async () => { handled += 1; },
    }, async () => handled === 10 && (await committedOffset(server, t.topic, group)) === 9, { what: '10 handled and offset 9 committed' });
    const acks = rec.acks;
    assert.ok(acks.length >= 2, `at least one ack per batch (got ${acks.length})`);
    assert.ok(acks.length <= 3, `no per-message acks: ${acks.length} ack requests for 10 messages in 2 batches`);
    for (const a of acks) {
      assert.ok([4, 9].includes(a.body.upto_offset), `ack upto_offset ${a.body.upto_offset} covers a whole batch (4 or 9)`);
      assert.equal(a.body.topic_id, t.topic);
      assert.equal(a.body.group_id, group);
    }
    // Polls, not the one `limit: 0` probe that tells where the group stands (it claims nothing).
    const polls = rec.consumes.filter((c) => c.body.limit !== 0);
    assert.ok(polls.length >= 2);
    assert.ok(rec.consumes.length - polls.length <= 1, 'at most one probe');
    for (const c of polls) {
      assert.equal(typeof c.body.timeout_seconds, 'number', 'timeout_seconds is always sent');
      assert.equal(c.body.limit, 5);
      assert.ok(c.body.topic_id && c.body.group_id, 'never an empty topic_id/group_id');
    }
  });

  test('partitions [0, 1] are consumed side by side, in offset order within each partition, with per-partition commits', async () => {
    const t = await setupTopic(server, { columns: 'id TEXT PRIMARY KEY, body TEXT', partitions: 2 });
    const keys = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'];
    await insertRows(server, t.table, keys.map((k) => ({ id: k, body: `row-${k}` })));
    const group = uniqueName('g');
    const seen = [];
    const inFlight = new Map([[0, 0], [1, 0]]);
    let maxPerPartition = 0;
    let maxTotal = 0;
    let total = 0;
    await runUntil({
      client, name: 'parts', topic: t.topic, groupId: group, partitions: [0, 1], batchSize: 2,
      onChange: async (_ctx, change) => {
        inFlight.set(change.partitionId, inFlight.get(change.partitionId) + 1);
        total += 1;
        maxPerPartition = Math.max(maxPerPartition, inFlight.get(change.partitionId));
        maxTotal = Math.max(maxTotal, total);
        seen.push({ p: change.partitionId, offset: change.offset, key: change.key });
        await sleep(40);
        inFlight.set(change.partitionId, inFlight.get(change.partitionId) - 1);
        total -= 1;
      },
    }, () => seen.length === 8, { what: '8 deliveries' });
    assert.deepEqual(seen.map((s) => s.key).sort(), keys, 'every row delivered exactly once');
    const byPartition = [0, 1].map((p) => seen.filter((s) => s.p === p));
    assert.ok(byPartition[0].length > 0 && byPartition[1].length > 0, 'both partitions carried messages');
    for (const list of byPartition) {
      assert.deepEqual(list.map((s) => s.offset), list.map((_, i) => i), 'offsets 0..n-1 in order within a partition');
    }
    assert.equal(maxPerPartition, 1, 'one message at a time within a partition');
    assert.equal(maxTotal, 2, 'the two partitions ran side by side');
    await waitFor(async () => {
      const c = await committedOffsets(server, t.topic, group);
      return c[0] === byPartition[0].length - 1 && c[1] === byPartition[1].length - 1;
    }, { message: 'per-partition commits' }).catch(async (err) => {
      throw new Error(`${err.message}; committed ${JSON.stringify(await committedOffsets(server, t.topic, group))}`);
    });
  });

  test('stopSignal mid-handler: the handler finishes, its offset is committed, nothing else is delivered; a later run gets the rest', async () => {
    const t = await topicWith(3);
    const group = uniqueName('g');
    const seen = [];
    let finished = false;
    let release;
    const gate = new Promise((r) => { release = r; });
    let started;
    const startedP = new Promise((r) => { started = r; });
    const controller = new AbortController();
    const running = runConsumer({
      ...fastRunOptions(), client, name: 'stopper', topic: t.topic, groupId: group, stopSignal: controller.signal, batchSize: 10,
      onChange: async (_ctx, change) => {
        seen.push(change.offset);
        if (change.offset === 0) { started(); await gate; finished = true; }
      },
    });
    let resolvedEarly = false;
    running.then(() => { resolvedEarly = !finished; }, () => {});
    await within(10_000, startedP, 'first delivery');
    controller.abort();
    await sleep(200);
    assert.equal(resolvedEarly, false, 'runConsumer waits for the running handler');
    release();
    await within(10_000, running, 'runConsumer after the handler finished');
    assert.equal(finished, true);
    assert.deepEqual(seen, [0], 'nothing delivered after stop');
    assert.equal(await committedOffset(server, t.topic, group), 0, 'the finished message was committed');
    await sleep(200);
    assert.deepEqual(seen, [0], 'still nothing delivered after runConsumer resolved');

    const rest = [];
    await runUntil({
      client, name: 'stopper', topic: t.topic, groupId: group,
      onChange: async (_ctx, change) => { rest.push(change.offset); },
    }, async () => (await committedOffset(server, t.topic, group)) === 2, { what: 'the rest after restart of the runtime', timeoutMs: 20_000 });
    // The unacked part of the old claim comes back after the visibility timeout, from the
    // claim start (offset 0 may be delivered again: at-least-once); 1 and 2 must not be lost.
    assert.ok(rest.includes(1) && rest.includes(2), `offsets 1 and 2 were delivered (got ${rest})`);
    assert.deepEqual(rest.filter((o) => o > 0), [1, 2], 'in order, once each');
  });

  test('stopSignal while idle resolves promptly, without finishing the idle sleep', async () => {
    const t = await setupTopic(server);
    const controller = new AbortController();
    const running = runConsumer({
      ...fastRunOptions(), client, name: 'idle', topic: t.topic, groupId: uniqueName('g'), stopSignal: controller.signal,
      idleBackoff: { initialMs: 5000, maxMs: 5000 },
      onChange: async () => {},
    });
    await sleep(300);
    const t0 = Date.now();
    controller.abort();
    await within(5_000, running, 'idle runConsumer after stopSignal');
    assert.ok(Date.now() - t0 < 2000, `resolved ${Date.now() - t0} ms after abort, not after the 5 s idle sleep`);
  });

  test('drainTimeoutMs bounds the wait for a handler that never finishes; its message is not committed', async () => {
    const t = await topicWith(1);
    const group = uniqueName('g');
    let started = false;
    const controller = new AbortController();
    const running = runConsumer({
      ...fastRunOptions(), client, name: 'hang', topic: t.topic, groupId: group, stopSignal: controller.signal, drainTimeoutMs: 300,
      onChange: async () => { started = true; await new Promise(() => {}); },
    });
    await waitFor(() => started, { message: 'handler start' });
    const t0 = Date.now();
    controller.abort();
    await within(5_000, running.catch(() => {}), 'runConsumer with a hung handler');
    assert.ok(Date.now() - t0 < 3000, `settled ${Date.now() - t0} ms after abort (drain deadline 300 ms)`);
    assert.equal(await committedOffset(server, t.topic, group), undefined);
  });

  test('full batches are fetched again at once: the idle back-off only applies to empty polls', async () => {
    const t = await topicWith(30);
    const group = uniqueName('g');
    let handled = 0;
    const t0 = Date.now();
    await runUntil({
      client, name: 'eager', topic: t.topic, groupId: group, batchSize: 5,
      idleBackoff: { initialMs: 1000, maxMs: 1000 },
      onChange: async () => { handled += 1; },
    }, () => handled === 30, { what: '30 deliveries' });
    const elapsed = Date.now() - t0;
    // Six full batches; sleeping the 1 s idle back-off between them would take over 5 s.
    assert.ok(elapsed < 3000, `30 messages in 6 full batches took ${elapsed} ms`);
  });

  test('ctx.ack() inside the handler commits that message before the handler returns', async () => {
    const t = await topicWith(3);
    const group = uniqueName('g');
    const seenCommit = [];
    let done = 0;
    await runUntil({
      client, name: 'early-ack', topic: t.topic, groupId: group, batchSize: 10,
      onChange: async (ctx, change) => {
        if (change.offset === 1) {
          await ctx.ack();
          seenCommit.push(await committedOffset(server, t.topic, group));
        }
        done += 1;
      },
    }, async () => done === 3 && (await committedOffset(server, t.topic, group)) === 2, { what: 'all three committed' });
    assert.deepEqual(seenCommit, [1], 'offset 1 was committed from inside its handler');
  });

  test('a message that can neither be handled nor dead-lettered on one partition does not hold up the other partition', async () => {
    const t = await setupTopic(server, { columns: 'id TEXT PRIMARY KEY, body TEXT', partitions: 2 });
    const keys = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'];
    await insertRows(server, t.table, keys.map((k) => ({ id: k, body: `row-${k}` })));
    // How many messages each partition holds, read with a separate group.
    const counts = [];
    for (const p of [0, 1]) {
      counts[p] = (await client.consumeBatch({ topic: t.topic, group_id: uniqueName('count'), start: 'earliest', batch_size: 100, partition_id: p })).messages.length;
    }
    assert.ok(counts[0] > 0 && counts[1] > 0, `both partitions hold messages (${counts})`);
    const group = uniqueName('g');
    const seen = [];
    let deadLetterTries = 0;
    await runUntil({
      client, name: 'isolated', topic: t.topic, groupId: group, partitions: [0, 1], batchSize: 10, logger: false,
      retry: { maxAttempts: 1, initialBackoffMs: 5, maxBackoffMs: 20, multiplier: 2, jitterRatio: 0 },
      onChange: async (_ctx, change) => {
        seen.push({ p: change.partitionId, offset: change.offset });
        if (change.partitionId === 0 && change.offset === 0) throw new Error('poison');
      },
      // The dead-letter store is down too: the message is tried again in rounds, never skipped.
      onFailed: async () => { deadLetterTries += 1; throw new Error('dead-letter store down'); },
      onError: () => {},
    }, async () => seen.filter((c) => c.p === 0).length >= 3 && (await committedOffsets(server, t.topic, group))[1] === counts[1] - 1,
    { what: 'partition 1 fully committed while partition 0 is stuck' });
    assert.deepEqual([...new Set(seen.filter((c) => c.p === 1).map((c) => c.offset))], Array.from({ length: counts[1] }, (_, i) => i));
    assert.ok(deadLetterTries >= 2, `onFailed was tried again (${deadLetterTries})`);
    assert.equal((await committedOffsets(server, t.topic, group))[0], undefined, 'partition 0 committed nothing past its failing offset 0');
    assert.ok(seen.filter((c) => c.p === 0).every((c) => c.offset === 0), 'nothing after the failing offset was delivered on partition 0');
  });

  test('idle polls back off up to idleBackoff.maxMs (not a busy loop), and a new message is still picked up within the cap', async () => {
    const t = await setupTopic(server);
    const rec = recordingFetch();
    const counting = clientFor(server, worker, { fetch: rec.fetch });
    const seenAt = [];
    const controller = new AbortController();
    const running = runConsumer({
      ...fastRunOptions(), client: counting, name: 'idler', topic: t.topic, groupId: uniqueName('g'), stopSignal: controller.signal,
      idleBackoff: { initialMs: 10, maxMs: 200 },
      onChange: async () => { seenAt.push(Date.now()); },
    });
    try {
      await sleep(1500);
      const idlePolls = rec.consumes.length;
      // 10+20+40+80+160 = 310 ms of ramp-up, then one poll per 200 ms: about 11 in 1.5 s.
      assert.ok(idlePolls >= 4, `keeps polling while idle (${idlePolls} polls in 1.5 s)`);
      assert.ok(idlePolls <= 25, `backs off while idle (${idlePolls} polls in 1.5 s with maxMs 200)`);
      const writtenAt = Date.now();
      await insertRows(server, t.table, [{ id: 1, body: 'wake up' }]);
      await waitFor(() => seenAt.length === 1, { message: 'delivery after idling', timeoutMs: 5000 });
      assert.ok(seenAt[0] - writtenAt < 2500, `picked up ${seenAt[0] - writtenAt} ms after the write (cap 200 ms)`);
    } finally {
      controller.abort();
      await within(15_000, running, 'runConsumer after stopSignal');
    }
  });

  test('a message without user (SHARED table source) is reported through onError, never handed over with user undefined', async () => {
    const t = await setupTopic(server, { kind: 'shared', columns: 'id TEXT PRIMARY KEY, body TEXT' });
    await insertRows(server, t.table, [{ id: 'k', body: 'no owner' }]);
    const users = [];
    const errors = [];
    await runUntil({
      client, name: 'nouser', topic: t.topic, groupId: uniqueName('g'),
      onChange: async (_ctx, change) => { users.push(change.user); },
      onError: (info) => { errors.push(info); },
    }, () => errors.length > 0 || users.length > 0, { what: 'onError or onChange' }).catch(() => {});
    assert.ok(errors.length > 0, 'invalid metadata was reported through onError');
    assert.ok(users.every((u) => typeof u === 'string'), 'change.user was never undefined');
  });
});

describe('runConsumer with payloads the dev server cannot produce (raw socket server)', () => {
  test('a legacy { row: {...} } payload is unwrapped into change.data; an undecodable payload goes to onFailed as a typed error, not {}', async (tc) => {
    let consumes = 0;
    const raw = await startRawServer((req, reply) => {
      if (req.path === '/v1/api/auth/login') return reply.json(200, loginBody());
      if (req.path === '/v1/api/topics/ack') return reply.json(200, { success: true, acknowledged_offset: req.json?.upto_offset });
      if (req.path === '/v1/api/topics/consume') {
        // A `limit: 0` probe answers the start position: this group never committed (§3.5).
        if (req.json?.limit === 0) return reply.json(200, { messages: [], next_offset: 0, has_more: true });
        consumes += 1;
        if (consumes > 1) return reply.json(200, { messages: [], next_offset: 3, has_more: false });
        return reply.json(200, {
          messages: [
            wireMessage({ topic: 'app.events', offset: 0, row: { row: { id: '1', body: 'legacy' } }, key: '1' }),
            wireMessage({ topic: 'app.events', offset: 1, rawPayload: '%%% not base64 %%%', key: '2' }),
            wireMessage({ topic: 'app.events', offset: 2, row: { id: '3', body: 'plain' }, key: '3' }),
          ],
          next_offset: 3,
          has_more: false,
        });
      }
      return reply.json(404, { error: 'no route', code: 'NOT_FOUND' });
    });
    tc.after(() => raw.close());
    const rawClient = clientFor(raw, { user: 'worker', password: 'x' });
    const data = [];
    const failed = [];
    await runUntil({
      client: rawClient, name: 'legacy', topic: 'app.events', groupId: 'g',
      onChange: async (_ctx, change) => { data.push({ offset: change.offset, data: change.data }); },
      onFailed: async (_ctx, change, error) => { failed.push({ offset: change.offset, error, data: change.data }); },
      onError: () => {},
    }, () => raw.to('/v1/api/topics/ack').some((a) => a.json?.upto_offset === 2), { what: 'the ack of offset 2' });
    assert.deepEqual(data, [
      { offset: 0, data: { id: '1', body: 'legacy' } },
      { offset: 2, data: { id: '3', body: 'plain' } },
    ]);
    assert.equal(failed.length, 1, 'the undecodable message went to the dead-letter hook');
    assert.equal(failed[0].offset, 1);
    assert.ok(isKalamConsumerError(failed[0].error), `typed error, got ${failed[0].error}`);
    assert.notDeepEqual(failed[0].data, {}, 'never a silent {}');
  });
});

// docs/PROTOCOL.md §11: a service account may not read system.topics.
const serviceMayNotReadSystemTopics = {
  status: 'error', results: [], took: 0.4,
  error: { code: 'PERMISSION_DENIED', message: "Role 'Service' cannot access table 'system.topics'. System tables require 'dba' or 'system' role." },
};

describe('runConsumer against broken acks and stalled fetches (raw socket server)', { concurrency: true }, () => {
  test('a failed ack is sent again and never makes the handler run twice', async (tc) => {
    let acks = 0;
    let consumes = 0;
    const raw = await startRawServer((req, reply) => {
      if (req.path === '/v1/api/auth/login') return reply.json(200, loginBody());
      if (req.path === '/v1/api/topics/ack') {
        acks += 1;
        if (acks === 1) return reply.send(502, '<html><body>502 Bad Gateway</body></html>', { 'Content-Type': 'text/html' });
        return reply.json(200, { success: true, acknowledged_offset: req.json?.upto_offset });
      }
      if (req.path === '/v1/api/topics/consume') {
        // A `limit: 0` probe answers the start position: this group never committed (§3.5).
        if (req.json?.limit === 0) return reply.json(200, { messages: [], next_offset: 0, has_more: true });
        consumes += 1;
        if (consumes === 1) {
          return reply.json(200, {
            messages: [0, 1].map((offset) => wireMessage({ topic: 'app.events', offset, row: { id: String(offset) }, key: String(offset) })),
            next_offset: 2,
            has_more: false,
          });
        }
        return reply.json(200, { messages: [], next_offset: 2, has_more: false });
      }
      return reply.json(404, { error: 'no route', code: 'NOT_FOUND' });
    });
    tc.after(() => raw.close());
    const calls = [];
    await runUntil({
      client: clientFor(raw, { user: 'worker', password: 'x' }), name: 'ack-retry', topic: 'app.events', groupId: 'g',
      onChange: async (_ctx, change) => { calls.push(change.offset); },
      onError: () => {},
    }, () => raw.to('/v1/api/topics/ack').length >= 2, { what: 'a second ack after the 502' });
    const ackBodies = raw.to('/v1/api/topics/ack').map((r) => r.json.upto_offset);
    assert.equal(ackBodies.at(-1), 1, `the whole batch was acked again after the failure (acks: ${ackBodies})`);
    assert.deepEqual(calls, [0, 1], 'each handler ran once: a failed ack is not a failed handler');
  });

  test('stopSignal aborts a fetch that the server never answers', async (tc) => {
    const raw = await startRawServer((req, reply) => {
      if (req.path === '/v1/api/auth/login') return reply.json(200, loginBody());
      // The partition-count read, answered as the real server answers a service account.
      if (req.path === '/v1/api/sql') return reply.json(403, serviceMayNotReadSystemTopics);
      return reply.stall();
    });
    const controller = new AbortController();
    tc.after(() => { controller.abort(); return raw.close(); });
    const running = runConsumer({
      ...fastRunOptions(), client: clientFor(raw, { user: 'worker', password: 'x' }), name: 'stalled', topic: 'app.events', groupId: 'g',
      stopSignal: controller.signal, onChange: async () => {}, onError: () => {},
    });
    await waitFor(() => raw.to('/v1/api/topics/consume').length > 0, { message: 'the consume request' });
    await sleep(100);
    const t0 = Date.now();
    controller.abort();
    await within(5_000, running.catch(() => {}), 'runConsumer with a stalled fetch after stopSignal');
    assert.ok(Date.now() - t0 < 2000, `resolved ${Date.now() - t0} ms after abort (the request timeout is 30 s)`);
  });
});
