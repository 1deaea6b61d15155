// Issue 11, "a worker never fails silently": one test per trap a new user walks into, asserting
// what that user sees (the log line through an injected logger, the rejection's code and words)
// and that nothing past an unprocessed message is committed. The last test reads back every
// log line and error of this file and checks that none of them carries a password or token.

import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createConsumerClient, Auth, runConsumer, runAgent, createLangChainAdapter } from '@kalamdb/consumer';
import {
  useDevServer, setupTopic, createServiceUser, uniqueName, committedOffset, committedOffsets,
  waitFor, within, sleep, recordingFetch,
} from '../support/devserver.mjs';
import { insertRows } from '../support/consumer.mjs';
import { startRawServer, loginBody, wireMessage } from '../support/raw-server.mjs';
import { collectingLogger, keep, secret, secrets, shown, secretCatchingFetch, closedPort } from './support.mjs';

const ROOT_PASSWORD = secret('trap-root-Secret-71f3');
const server = await useDevServer({ rootPassword: ROOT_PASSWORD });
const workerCreds = await createServiceUser(server, { password: secret('trap-worker-Secret-5e2a') });
const rootCreds = { user: 'root', password: ROOT_PASSWORD };
// The app user whose writes produce the messages (a `user` account, as in the README).
const WRITER = uniqueName('writer');
await server.sql(`CREATE USER ${WRITER} WITH PASSWORD '${secret('trap-writer-Secret-0d9a')}' ROLE user`);

const fast = {
  start: 'earliest',
  batchSize: 100,
  retry: { maxAttempts: 3, initialBackoffMs: 5, maxBackoffMs: 20, multiplier: 2, jitterRatio: 0 },
  connectionRetry: { initialBackoffMs: 10, maxBackoffMs: 50, multiplier: 2 },
  idleBackoff: { initialMs: 5, maxMs: 50 },
  handlerTimeoutMs: 300,
  drainTimeoutMs: 2000,
};

/** A client logging in with `creds`; every Authorization header and token it sees is a secret. */
function clientAs(creds, { url = server.url, fetch = globalThis.fetch } = {}) {
  return createConsumerClient({
    url,
    authProvider: async () => Auth.basic(creds.user, creds.password),
    fetch: secretCatchingFetch(fetch),
  });
}
const worker = clientAs(workerCreds);
const root = clientAs(rootCreds);

/** Starts `run(signal)`, waits for `until()` (or for the worker to settle), stops it, returns its result. */
async function runUntil(run, until, { timeoutMs = 10_000, what = 'condition' } = {}) {
  const controller = new AbortController();
  let settled = false;
  const running = run(controller.signal);
  running.then(() => { settled = true; }, () => { settled = true; });
  try {
    await waitFor(async () => settled || (await until()), { timeoutMs, message: what });
  } finally {
    controller.abort();
  }
  return within(10_000, running, 'the worker after stopSignal');
}

/** The error `run(signal)` rejects with (kept for the leak check); fails if it resolves or hangs. */
async function rejectionOf(run, what) {
  const guard = AbortSignal.timeout(10_000);
  let outcome;
  try {
    await within(15_000, run(guard), what);
    outcome = { resolved: true };
  } catch (error) {
    outcome = { error: keep(error) };
  }
  assert.ok(!outcome.resolved, `${what} resolved (stopped by the 10 s guard?) instead of rejecting`);
  return outcome.error;
}

/** Messages per partition of a topic, read with throwaway groups (as root). */
async function messagesPerPartition(topic, partitions) {
  const counts = [];
  for (let p = 0; p < partitions; p += 1) {
    const batch = await root.consumeBatch({ topic, group_id: uniqueName('count'), start: 'earliest', batch_size: 100, partition_id: p });
    counts.push(batch.messages.length);
  }
  return counts;
}

describe('issue 11: a worker makes progress or says why not', { concurrency: true }, () => {
  test('(a) every partition by default: root reads the count; a service account is told to pass it; a partition the topic lacks is refused', async () => {
    const t = await setupTopic(server, { columns: 'id TEXT PRIMARY KEY, body TEXT', partitions: 3 });
    await insertRows(server, t.table, Array.from({ length: 12 }, (_, i) => ({ id: `key-${i}`, body: `row ${i}` })));
    const counts = await messagesPerPartition(t.topic, 3);
    assert.equal(counts.reduce((a, b) => a + b, 0), 12);
    assert.ok(counts.every((n) => n > 0), `the rows land in every partition (${counts})`);

    // As root, without `partitions`: all 12 messages, all three partitions committed.
    const group = uniqueName('g');
    const log = collectingLogger();
    const handled = new Set();
    await runUntil((signal) => runConsumer({
      ...fast, client: root, name: 'all-partitions', topic: t.topic, groupId: group, stopSignal: signal, logger: log.logger,
      onChange: async (_ctx, change) => { handled.add(`${change.partitionId}@${change.offset}`); },
    }), async () => {
      const offsets = await committedOffsets(server, t.topic, group);
      return counts.every((n, p) => offsets[p] === n - 1);
    }, { what: 'every partition committed' });
    assert.equal(handled.size, 12, `all 12 messages handled (${[...handled]})`);
    const started = log.matching(/^started: /, 'info');
    assert.equal(started.length, 1, log.text());
    assert.match(started[0], new RegExp(`topic ${t.topic}, group ${group}, partitions 0, 1, 2\\b`), started[0]);
    assert.equal(log.matching(/^stopped$/, 'info').length, 1, log.text());

    // As a service account, without `partitions`: rejected at once, saying what to pass.
    const serviceLog = collectingLogger();
    const serviceGroup = uniqueName('g');
    const error = await rejectionOf((signal) => runConsumer({
      ...fast, client: worker, name: 'service-default', topic: t.topic, groupId: serviceGroup, stopSignal: signal, logger: serviceLog.logger,
      onChange: async () => { assert.fail('no message may be handled'); },
    }), 'a service account without partitions');
    assert.equal(error.code, 'PARTITIONS_UNKNOWN');
    assert.match(error.message, /system\.topics/);
    assert.match(error.message, /partitions: \[0, 1, \.\.\.\]/);
    assert.match(error.message, /partitionCount/);
    assert.equal(serviceLog.matching(/^stopped with an error: .*partitionCount/, 'error').length, 1, serviceLog.text());
    assert.deepEqual(await committedOffsets(server, t.topic, serviceGroup), {}, 'nothing committed');

    // `partitions: [5]` on a one-partition topic, as root: the count is known, so it is refused.
    const single = await setupTopic(server);
    const bad = await rejectionOf((signal) => runConsumer({
      ...fast, client: root, name: 'no-such-partition', topic: single.topic, groupId: uniqueName('g'), partitions: [5], stopSignal: signal, logger: false,
      onChange: async () => {},
    }), 'partitions: [5] on a 1-partition topic');
    assert.equal(bad.code, 'INVALID_OPTION');
    assert.match(bad.message, /partitions names 5/);
    assert.match(bad.message, /has 1 partition\b/);
  });

  test('(b) a SHARED-table source: rejected as INVALID_METADATA naming requireUser: false, nothing committed; with requireUser: false every message arrives with user undefined', async () => {
    const t = await setupTopic(server, { kind: 'shared', columns: 'id TEXT PRIMARY KEY, body TEXT' });
    await insertRows(server, t.table, [{ id: 'a', body: 'first' }, { id: 'b', body: 'second' }]);
    const group = uniqueName('g');
    const log = collectingLogger();
    const delivered = [];
    const error = await rejectionOf((signal) => runConsumer({
      ...fast, client: worker, name: 'shared-default', topic: t.topic, groupId: group, partitions: [0], stopSignal: signal, logger: log.logger,
      onChange: async (_ctx, change) => { delivered.push(change); },
    }), 'a message without user');
    assert.equal(error.code, 'INVALID_METADATA');
    assert.match(error.message, /requireUser: false/);
    assert.ok(error.message.includes(`${t.topic}[0]@0`), error.message);
    assert.equal(delivered.length, 0, 'never handed over');
    assert.equal(log.matching(new RegExp(`^invalid message ${t.topic.replace('.', '\\.')}\\[0\\]@0: .*requireUser: false`), 'error').length, 1, log.text());
    assert.equal(await committedOffset(server, t.topic, group), undefined, 'nothing committed');

    // A fresh group: the stopped worker's claim on the batch holds until the visibility timeout.
    const users = [];
    const okGroup = uniqueName('g');
    await runUntil((signal) => runConsumer({
      ...fast, client: worker, name: 'shared-ok', topic: t.topic, groupId: okGroup, partitions: [0], stopSignal: signal, logger: false,
      requireUser: false,
      onChange: async (_ctx, change) => { users.push([change.data.body, change.user, 'user' in change.message]); },
    }), async () => (await committedOffset(server, t.topic, okGroup)) === 1, { what: 'both messages committed' });
    assert.deepEqual(users, [['first', undefined, false], ['second', undefined, false]]);
  });

  test('(c) a message failing every attempt without onFailed: RETRIES_EXHAUSTED naming topic[partition]@offset; what came before is committed, it is not', async () => {
    const t = await setupTopic(server);
    await insertRows(server, t.table, [1, 2, 3, 4].map((id) => ({ id, body: id === 3 ? 'poison' : `ok-${id}` })), { asUser: WRITER });
    const group = uniqueName('g');
    const log = collectingLogger();
    const seen = [];
    const error = await rejectionOf((signal) => runConsumer({
      ...fast, client: worker, name: 'exhausted', topic: t.topic, groupId: group, partitions: [0], stopSignal: signal, logger: log.logger,
      onChange: async (_ctx, change) => {
        seen.push(change.offset);
        if (change.data.body === 'poison') throw new Error('the payment API said no');
      },
    }), 'a message that always fails');
    const where = `${t.topic}[0]@2`;
    assert.equal(error.code, 'RETRIES_EXHAUSTED');
    assert.ok(error.message.includes(where), error.message);
    assert.match(error.message, /the payment API said no/, 'the last error is in the text');
    assert.match(error.message, /onFailed/, 'the way out is named');
    assert.deepEqual(seen, [0, 1, 2, 2, 2], 'three attempts, and offset 3 never delivered');
    assert.equal(await committedOffset(server, t.topic, group), 1, 'offsets 0 and 1 committed, offset 2 not');
    assert.equal(log.matching(/^attempt \d of 3 failed for .*the payment API said no; retrying in \d+ ms$/, 'warn').length, 2, log.text());
    assert.equal(log.matching(new RegExp(`^message ${where.replace(/[.[\]]/g, '\\$&')} failed 3 of 3 attempts: the payment API said no$`), 'error').length, 1, log.text());
    assert.equal(log.matching(/^stopped with an error: .*RETRIES|^stopped with an error: message .* failed 3 of 3 attempts/, 'error').length, 1, log.text());
  });

  test('(d) a wrong port: "connection lost: connection refused" once, not per retry, and stop still works', async () => {
    const port = await closedPort();
    for (const partitions of [[0], undefined]) {
      const log = collectingLogger();
      const failures = [];
      const controller = new AbortController();
      const running = runConsumer({
        ...fast, client: clientAs(workerCreds, { url: `http://127.0.0.1:${port}` }), name: 'wrong-port', topic: 'app.events', groupId: 'g',
        partitions, stopSignal: controller.signal, logger: log.logger,
        onChange: async () => {},
        onError: (info) => { failures.push(keep(info)); },
      });
      await waitFor(() => failures.length >= 8, { message: 'several failed connection attempts' });
      assert.ok(failures.every((f) => f.phase === 'connection'), failures.map((f) => f.phase).join());
      const lost = log.matching(/connection lost/);
      assert.equal(lost.length, 1, `one line for ${failures.length} failures:\n${log.text()}`);
      const request = partitions ? 'consume app\\.events\\[0\\]' : 'reading the topic';
      // The refusal names the address it was refused at, then the request.
      assert.match(lost[0], new RegExp(`^connection lost: connection refused \\(127\\.0\\.0\\.1:${port}\\) \\(${request}\\); retrying in \\d+ ms$`));
      assert.equal(log.matching(/still failing/).length, 0, 'the reminder comes once a minute, not sooner');
      const abortedAt = Date.now();
      controller.abort();
      await within(5_000, running, 'runConsumer after stop');
      assert.ok(Date.now() - abortedAt < 1000, `stopped ${Date.now() - abortedAt} ms after the abort`);
      assert.equal(log.lines.at(-1).message, 'stopped', `the stop is logged, also when it came while ${partitions ? 'polling' : 'reading the partition count'}`);
    }
  });

  test('(e) a handler that never resolves: HANDLER_TIMEOUT logged, ctx.signal aborted, a failed attempt, then dead-lettered', async () => {
    const t = await setupTopic(server);
    await insertRows(server, t.table, [{ id: 1, body: 'hangs' }, { id: 2, body: 'fine' }], { asUser: WRITER });
    const group = uniqueName('g');
    const log = collectingLogger();
    const attempts = [];
    const deadLetters = [];
    const handled = [];
    await runUntil((signal) => runConsumer({
      ...fast, client: worker, name: 'hangs', topic: t.topic, groupId: group, partitions: [0], stopSignal: signal, logger: log.logger,
      retry: { maxAttempts: 2, initialBackoffMs: 5, maxBackoffMs: 5 },
      onChange: (ctx, change) => {
        if (change.data.body !== 'hangs') { handled.push(change.offset); return undefined; }
        const attempt = { startedAt: Date.now(), signal: ctx.signal, abortedAt: undefined };
        ctx.signal.addEventListener('abort', () => { attempt.abortedAt = Date.now(); });
        attempts.push(attempt);
        return new Promise(() => {});   // never settles
      },
      onFailed: async (_ctx, change, error) => { deadLetters.push({ offset: change.offset, error: keep(error) }); },
    }), async () => (await committedOffset(server, t.topic, group)) === 1, { what: 'both messages committed' });
    assert.equal(attempts.length, 2, 'two attempts (maxAttempts 2), each timed out');
    for (const a of attempts) {
      assert.equal(a.signal.aborted, true, 'ctx.signal was aborted');
      const after = a.abortedAt - a.startedAt;
      assert.ok(after >= 290 && after < 2000, `aborted ${after} ms after the attempt started (handlerTimeoutMs 300)`);
    }
    assert.equal(deadLetters.length, 1);
    assert.equal(deadLetters[0].offset, 0);
    assert.equal(deadLetters[0].error.code, 'HANDLER_TIMEOUT');
    assert.deepEqual(handled, [1], 'the next message ran once the first was dead-lettered');
    const where = `${t.topic}[0]@0`.replace(/[.[\]]/g, '\\$&');
    for (const attempt of [1, 2]) {
      assert.equal(log.matching(new RegExp(`^handler for ${where} did not finish within handlerTimeoutMs \\(300 ms\\) on attempt ${attempt}; its ctx.signal was aborted`), 'warn').length, 1, log.text());
    }
    assert.equal(log.matching(new RegExp(`^message ${where} dead-lettered by onFailed$`), 'warn').length, 1, log.text());
  });

  test('(f) consumer().run: on_error receives the connection errors, the logger says it once, stop() ends it', async () => {
    const port = await closedPort();
    const log = collectingLogger();
    const infos = [];
    const handle = clientAs(workerCreds, { url: `http://127.0.0.1:${port}` }).consumer({
      topic: 'app.events', group_id: 'low-level', connection_retry: { initialBackoffMs: 10, maxBackoffMs: 50 },
      on_error: (info) => { infos.push(keep(info)); }, logger: log.logger,
    });
    const running = handle.run(async () => { assert.fail('nothing to handle'); });
    await waitFor(() => infos.length >= 3, { message: 'on_error calls' });
    for (const info of infos) {
      assert.equal(info.phase, 'connection');
      assert.equal(info.partitionId, 0);
      assert.equal(typeof info.retryInMs, 'number');
      assert.equal(info.error.kind, 'transient');
    }
    assert.deepEqual(log.matching(/connection lost/).map((l) => l.replace(/\d+ ms$/, 'N ms')), [`connection lost: connection refused (127.0.0.1:${port}) (consume app.events[0]); retrying in N ms`]);
    handle.stop();
    await within(1_000, running, 'consumer().run after stop()');
  });

  for (const kind of ['runConsumer', 'runAgent']) {
    test(`(g) ${kind}: zero backoff, an always-failing handler and an onFailed that throws never freeze the process`, async () => {
      const t = await setupTopic(server);
      await insertRows(server, t.table, [{ id: 1, body: 'always fails' }, { id: 2, body: 'after it' }], { asUser: WRITER });
      const group = uniqueName('g');
      const log = collectingLogger();
      let handlerCalls = 0;
      let deadLetterCalls = 0;
      let ticks = 0;
      const ticker = setInterval(() => { ticks += 1; }, 10);
      const controller = new AbortController();
      let abortedAt;
      const stopper = setTimeout(() => { abortedAt = Date.now(); controller.abort(); }, 500);
      const common = {
        ...fast, client: worker, name: `frozen-${kind}`, topic: t.topic, groupId: group, stopSignal: controller.signal, logger: log.logger,
        retry: { maxAttempts: 2, initialBackoffMs: 0, maxBackoffMs: 0 },
        onFailed: async () => { deadLetterCalls += 1; throw new Error('the dead-letter table is gone'); },
      };
      const running = kind === 'runConsumer'
        ? runConsumer({ ...common, partitions: [0], onChange: async () => { handlerCalls += 1; throw new Error('always'); } })
        : runAgent({ ...common, partitionId: 0, onRow: async () => { handlerCalls += 1; throw new Error('always'); } });
      try {
        await within(5_000, running, `${kind} stopped by a timer`);
      } finally {
        clearInterval(ticker);
        clearTimeout(stopper);
      }
      assert.ok(abortedAt !== undefined, 'the stop timer fired');
      assert.ok(Date.now() - abortedAt < 1000, `stopped ${Date.now() - abortedAt} ms after the timer aborted it`);
      assert.ok(ticks >= 10, `setInterval kept firing (${ticks} ticks in ~500 ms)`);
      assert.ok(deadLetterCalls >= 2, `the message went round again (${deadLetterCalls} onFailed calls)`);
      assert.ok(handlerCalls >= 2 * deadLetterCalls, `every round made its attempts (${handlerCalls} calls, ${deadLetterCalls} rounds)`);
      assert.equal(await committedOffset(server, t.topic, group), undefined, 'neither the failing message nor anything after it is committed');
      const rounds = log.matching(/^onFailed failed for .*: the dead-letter table is gone; the message is not committed and is tried again in (\d+) ms$/, 'error');
      assert.equal(rounds.length, deadLetterCalls, log.text().slice(0, 2000));
      for (const line of rounds) assert.ok(Number(/in (\d+) ms$/.exec(line)[1]) >= 1, `a real pause between rounds: ${line}`);
    });
  }

  test('(h) runAgent from 0.4.x: partitionId polls that partition, runKeyFactory makes ctx.runKey, createLangChainAdapter drives ctx.llm', async () => {
    const t = await setupTopic(server, { columns: 'id TEXT PRIMARY KEY, body TEXT', partitions: 2 });
    await insertRows(server, t.table, ['a', 'b', 'c', 'd', 'e', 'f'].map((id) => ({ id, body: `  body ${id}  ` })), { asUser: WRITER });
    const counts = await messagesPerPartition(t.topic, 2);
    assert.ok(counts[0] > 0 && counts[1] > 0, `both partitions hold messages (${counts})`);
    const group = uniqueName('g');
    const rec = recordingFetch();
    const invoked = [];
    const model = {
      invoke: async (messages) => { invoked.push(messages); return { content: `  summary of ${messages.at(-1).content}  ` }; },
      stream: async function* (messages) { for (const part of ['one ', '', 'two']) yield { content: part }; void messages; },
    };
    const rows = [];
    await runUntil((signal) => runAgent({
      ...fast, client: clientAs(workerCreds, { fetch: rec.fetch }), name: 'legacy', topic: t.topic, groupId: group, stopSignal: signal, logger: false,
      partitionId: 1,
      runKeyFactory: ({ name, message }) => `${name}/p${message.partition_id}/o${message.offset}`,
      llm: createLangChainAdapter(model),
      systemPrompt: '  Be brief.  ',
      onRow: async (ctx, row) => {
        const summary = await ctx.llm.complete(row.body);
        const chunks = [];
        for await (const chunk of ctx.llm.stream('stream it')) chunks.push(chunk);
        rows.push({ runKey: ctx.runKey, partition: ctx.message.partition_id, offset: ctx.message.offset, summary, chunks });
      },
    }), async () => (await committedOffset(server, t.topic, group, 1)) === counts[1] - 1, { what: 'partition 1 committed' });
    assert.equal(rows.length, counts[1], 'every message of partition 1');
    assert.ok(rows.every((r) => r.partition === 1), 'only partition 1 was handled');
    assert.ok(rec.consumes.length > 0 && rec.consumes.every((c) => c.body.partition_id === 1), 'only partition 1 was polled');
    assert.equal(await committedOffset(server, t.topic, group, 0), undefined, 'partition 0 untouched');
    for (const r of rows) {
      assert.equal(r.runKey, `legacy/p1/o${r.offset}`);
      assert.match(r.summary, /^summary of {3}body [a-f]$/, 'the model text, trimmed (the prompt goes as is)');
      assert.deepEqual(r.chunks, ['one ', 'two'], 'streamed chunks, empty ones dropped');
    }
    assert.deepEqual(invoked[0].map((m) => m.role), ['system', 'user']);
    assert.equal(invoked[0][0].content, 'Be brief.', 'the system prompt, trimmed');
    assert.match(invoked[0][1].content, /^ {2}body [a-f] {2}$/, 'the row body as the prompt');
  });

  test('(i) runConsumer({ onMessage }) from 0.4.x: INVALID_OPTION naming onChange, before any request', async () => {
    const rec = recordingFetch();
    const client = clientAs(workerCreds, { fetch: rec.fetch });
    const error = await runConsumer({ ...fast, client, name: 'old', topic: 'app.events', groupId: 'g', partitions: [0], onMessage: async () => {} }).then(
      () => assert.fail('resolved'),
      (e) => keep(e),
    );
    assert.equal(error.code, 'INVALID_OPTION');
    assert.match(error.message, /onChange/);
    assert.match(error.message, /onMessage/);
    assert.equal(rec.calls.length, 0, 'no request was made');
  });

  test('(j) retry and connectionRetry: the same bad values, the same words; jitter stays under maxBackoffMs', async () => {
    const bad = [
      [{ initialBackoffMs: 100, maxBackoffMs: 10 }, /maxBackoffMs must be >= initialBackoffMs/],
      [{ multiplier: 0.5 }, /multiplier must be a finite number >= 1/],
      [{ maxAttempts: 0 }, /maxAttempts must be a whole number >= 1 or Infinity/],
      [{ initialBackoffMs: -1 }, /initialBackoffMs must be a finite number >= 0/],
    ];
    const rec = recordingFetch();
    const client = clientAs(workerCreds, { fetch: rec.fetch });
    const base = { ...fast, client, name: 'options', topic: 'app.events', groupId: 'g', partitions: [0], logger: false, onChange: async () => {} };
    for (const [value, words] of bad) {
      const byRetry = await runConsumer({ ...base, retry: value }).then(() => assert.fail('resolved'), keep);
      const byConnection = await runConsumer({ ...base, connectionRetry: value }).then(() => assert.fail('resolved'), keep);
      for (const [option, error] of [['retry', byRetry], ['connectionRetry', byConnection]]) {
        assert.equal(error.code, 'INVALID_OPTION', `${option} ${JSON.stringify(value)}: ${error.message}`);
        assert.match(error.message, words);
        assert.ok(error.message.includes(option), `names ${option}: ${error.message}`);
      }
      const rule = (error) => error.message.slice(error.message.indexOf(': ') + 2);
      assert.equal(rule(byRetry), rule(byConnection), 'the same rule in the same words');
    }
    assert.equal(rec.calls.length, 0, 'rejected before any request');

    // Jitter: delays drawn with jitterRatio 1 never pass the cap.
    const t = await setupTopic(server);
    await insertRows(server, t.table, [1, 2, 3, 4, 5].map((id) => ({ id, body: `m${id}` })), { asUser: WRITER });
    const group = uniqueName('g');
    const delays = [];
    await runUntil((signal) => runConsumer({
      ...fast, client: worker, name: 'jitter', topic: t.topic, groupId: group, partitions: [0], stopSignal: signal, logger: false,
      retry: { maxAttempts: 4, initialBackoffMs: 20, maxBackoffMs: 30, multiplier: 2, jitterRatio: 1 },
      onChange: async () => { throw new Error('always'); },
      onRetry: (info) => { delays.push(info.backoffMs); },
      onFailed: async () => {},
    }), async () => (await committedOffset(server, t.topic, group)) === 4, { what: 'all five dead-lettered' });
    assert.equal(delays.length, 15, 'three retries for each of five messages');
    assert.ok(delays.every((d) => d >= 0 && d <= 30), `every delay within [0, 30]: ${delays.map((d) => d.toFixed(1))}`);
    assert.ok(new Set(delays.map((d) => d.toFixed(3))).size > 1, 'the delays are jittered');
  });

  test('(k) an op outside Insert | Update | Delete: INVALID_METADATA, never handed to onChange, never committed past', async (tc) => {
    const token = secret('raw-trap-token-94c1d7');
    const topic = 'app.events';
    const raw = await startRawServer((req, reply) => {
      if (req.path === '/v1/api/auth/login') return reply.json(200, loginBody('worker', token));
      if (req.path === '/v1/api/sql') {
        return reply.json(403, { status: 'error', results: [], took: 0.3, error: { code: 'PERMISSION_DENIED', message: "Role 'Service' cannot access table 'system.topics'. System tables require 'dba' or 'system' role." } });
      }
      if (req.path === '/v1/api/topics/ack') return reply.json(200, { success: true, acknowledged_offset: req.json?.upto_offset });
      if (req.path === '/v1/api/topics/consume') {
        // A `limit: 0` probe answers committed + 1, or the start position (0), like the server (§3.5).
        if (req.json?.limit === 0) return reply.json(200, { messages: [], next_offset: 0, has_more: true });
        const first = raw.to('/v1/api/topics/consume').filter((r) => r.json?.limit !== 0).length === 1;
        const messages = first
          ? [wireMessage({ topic, offset: 0, row: { id: '1' } }), wireMessage({ topic, offset: 1, row: { id: '2' }, op: 'Truncate' }), wireMessage({ topic, offset: 2, row: { id: '3' } })]
          : [];
        return reply.json(200, { messages, next_offset: 3, has_more: false });
      }
      return reply.json(404, { error: 'no route', code: 'NOT_FOUND' });
    });
    tc.after(() => raw.close());
    const log = collectingLogger();
    const delivered = [];
    const error = await rejectionOf((signal) => runConsumer({
      ...fast, client: clientAs({ user: 'worker', password: secret('raw-trap-password-3b8e') }, { url: raw.url }), name: 'odd-op', topic, groupId: 'g',
      partitions: [0], stopSignal: signal, logger: log.logger,
      onChange: async (_ctx, change) => { delivered.push([change.offset, change.op]); },
    }), 'an unknown op');
    assert.equal(error.code, 'INVALID_METADATA');
    assert.match(error.message, /unknown op 'Truncate'/);
    assert.ok(error.message.includes(`${topic}[0]@1`), error.message);
    assert.deepEqual(delivered, [[0, 'Insert']], 'offset 0 handled; offsets 1 and 2 never handed over');
    const acked = raw.to('/v1/api/topics/ack').map((r) => r.json.upto_offset);
    assert.ok(acked.includes(0), `offset 0 committed (acks ${acked})`);
    assert.ok(acked.every((o) => o < 1), `nothing committed from offset 1 on (acks ${acked})`);
    assert.equal(log.matching(/^invalid message app\.events\[0\]@1: .*unknown op 'Truncate'/, 'error').length, 1, log.text());
  });
});

test('the default logger is the console, prefixed with the worker name; logger: false prints nothing', async () => {
  const port = await closedPort();
  const printed = [];
  const original = { info: console.info, warn: console.warn, error: console.error };
  for (const level of Object.keys(original)) console[level] = (...args) => { printed.push({ level, text: args.join(' ') }); shown.push(args.join(' ')); };
  try {
    for (const logger of [undefined, false]) {
      const failures = [];
      const controller = new AbortController();
      const running = runConsumer({
        ...fast, client: clientAs(workerCreds, { url: `http://127.0.0.1:${port}` }), name: logger === false ? 'quiet' : 'loud', topic: 'app.events', groupId: 'g',
        partitions: [0], stopSignal: controller.signal, ...(logger === false ? { logger } : {}),
        onChange: async () => {}, onError: (info) => { failures.push(keep(info)); },
      });
      await waitFor(() => failures.length >= 3, { message: 'failed connection attempts' });
      controller.abort();
      await within(5_000, running, 'runConsumer after stop');
    }
  } finally {
    Object.assign(console, original);
  }
  assert.deepEqual(printed.map((p) => [p.level, p.text.replace(/\d+ ms$/, 'N ms').replace(/\(127\.0\.0\.1:\d+\)/, '(ADDRESS)')]), [
    ['info', '[@kalamdb/consumer] loud: started: topic app.events, group g, partition 0 (as given; the topic\'s partition count could not be read to check them)'],
    ['warn', '[@kalamdb/consumer] loud: connection lost: connection refused (ADDRESS) (consume app.events[0]); retrying in N ms'],
    ['info', '[@kalamdb/consumer] loud: stopped'],
  ], 'three lines from the default logger, none from logger: false');
});

test('(l) loud, but never leaking: no log line or error of these traps carries a password, token or Authorization value', () => {
  assert.ok(shown.length > 50, `the traps produced log lines and errors to check (${shown.length})`);
  assert.ok(secrets.size >= 6, `passwords, tokens and headers were collected (${secrets.size})`);
  assert.ok([...secrets].some((s) => s.startsWith('Bearer ')), 'the Bearer headers that went out are among them');
  for (const text of shown) {
    for (const value of secrets) {
      assert.ok(!text.includes(value), `a secret (${value.slice(0, 4)}...) appears in:\n${text.slice(0, 500)}`);
    }
  }
});
