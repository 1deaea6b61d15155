// @ts-check
// Scenario 1: chat CDC projection.
//
// Four users post into three rooms; a worker projects every message into a room projection and
// keeps per-room counts. Every third message fails once after its projection row is written,
// so the retry must be idempotent (by message id = topic key). Then the worker is stopped,
// users keep posting, and a fresh worker process (new client, same group) picks up exactly the
// messages posted while it was down.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createConsumerClient, Auth, runConsumer, TopicOp } from '@kalamdb/consumer';
import { Ledger, USER_PASSWORD, assertCommittedAtEnd, committedCount, committedOffsets, rootSession, runWorkerUntil, startServer } from './support.mjs';
import { TOPIC, TOTAL, PER_USER, USERS, assertChatProjection, bodyIndex, expectedChatState, postMessages, projectMessage, setupChat } from './chat-fixture.mjs';

const server = await startServer();
after(() => server.stop());

const WORKER = 'chat_projector';
const GROUP = 'chat-projector';
const MORE = 3; // messages per user posted while the worker is down

/** One worker process: its own client, hooks and ledger. */
function makeWorker() {
  const client = createConsumerClient({ url: server.url, authProvider: async () => Auth.basic(WORKER, USER_PASSWORD) });
  const w = {
    ledger: new Ledger(),
    /** @type {any[]} */
    retries: [],
    /** @type {any[]} */
    errors: [],
    /** @type {Map<string, Set<string>>} runKeys seen per message id */
    runKeysById: new Map(),
    forced: 0,
    /** @param {AbortSignal} signal */
    run(signal) {
      const { ledger } = w;
      return runConsumer({
        client,
        name: 'chat-projector',
        topic: TOPIC,
        groupId: GROUP,
        start: 'earliest',
        batchSize: 10,
        partitions: [0, 1, 2],
        retry: { maxAttempts: 3, initialBackoffMs: 5, maxBackoffMs: 20, multiplier: 2, jitterRatio: 0 },
        idleBackoff: { initialMs: 10, maxMs: 100 },
        stopSignal: signal,
        onRetry: (info) => w.retries.push(info),
        onError: (info) => w.errors.push(info),
        onChange: async (ctx, change) => {
          ledger.enter(ctx, change);
          try {
            ledger.check(() => {
              assert.equal(change.op, TopicOp.Insert);
              assert.equal(change.topic, TOPIC);
              assert.equal(change.groupId, GROUP);
              assert.ok(USERS.includes(change.user), `change.user is the posting user, got ${change.user}`);
              assert.equal(typeof change.data.id, 'string', 'BIGINT id arrives as a string');
              assert.equal(change.key, change.data.id, 'the topic key is the primary key');
              assert.equal(change.data._deleted, false);
              assert.equal(change.data._table, 'chat:messages');
              assert.ok(Number.isInteger(change.timestampMs) && Math.abs(Date.now() - change.timestampMs) < 600000, 'timestampMs is the publish time in ms');
              assert.equal(change.partitionId, change.message.partition_id);
              assert.equal(change.offset, change.message.offset);
              assert.ok(!('payload' in change.message) && !('value' in change.message), 'change.message carries metadata only');
              for (const k of ['message', 'change', 'user', 'op', 'offset']) assert.ok(!(k in ctx), `ctx has no ${k}`);
              assert.equal(ctx.name, 'chat-projector');
              assert.equal(ctx.maxAttempts, 3);
            });
            const ids = w.runKeysById.get(change.data.id) ?? new Set();
            ids.add(ctx.runKey);
            w.runKeysById.set(change.data.id, ids);
            const m = { id: change.data.id, room: change.data.room, body: change.data.body, author: change.user, runKey: ctx.runKey };
            await projectMessage(ctx, m, () => {
              // Crash after the projection row is written, before the summary, on the first attempt.
              if (bodyIndex(m.body) % 3 === 0 && ctx.attempt === 1) {
                w.forced++;
                throw new Error(`forced failure after projecting ${m.id}`);
              }
            });
          } finally {
            ledger.leave();
          }
        },
      });
    },
  };
  return w;
}

/** Checks the retry bookkeeping of one worker run over `messages` (bodies). @param {ReturnType<typeof makeWorker>} w @param {string[]} bodies */
function assertRetries(w, bodies) {
  const forcedIds = bodies.filter((b) => bodyIndex(b) % 3 === 0).length;
  assert.equal(w.forced, forcedIds, 'every third message failed once on purpose');
  assert.equal(w.retries.length, forcedIds, 'each forced failure was retried exactly once (onRetry)');
  assert.deepEqual(w.errors, [], 'no message ended in onError');
  for (const [id, keys] of w.runKeysById) assert.equal(keys.size, 1, `message ${id} kept one runKey across attempts`);
  assert.equal(w.ledger.calls.filter((c) => c.attempt === 2).length, forcedIds, 'the retried messages were handled again with ctx.attempt = 2');
  assert.equal(w.ledger.calls.length, bodies.length + forcedIds, 'no message was delivered more often than its retries explain');
}

test('chat CDC projection: messages from four users over three partitions land exactly once in the room projection, even when every third message fails after its write and is retried; a redeployed worker resumes from the committed offsets', async () => {
  const root = await rootSession(server);
  const posters = await setupChat(root, server.url, WORKER);

  // Half of the messages exist before the worker starts, the rest arrive while it runs.
  await postMessages(posters, 0, PER_USER / 2);
  const first = makeWorker();
  await runWorkerUntil({
    ledger: first.ledger,
    start: (signal) => first.run(signal),
    during: () => postMessages(posters, PER_USER / 2, PER_USER),
    until: async () => (await committedCount(root, TOPIC, GROUP)) >= TOTAL,
    describe: async () =>
      `committed ${await committedCount(root, TOPIC, GROUP)} of ${TOTAL}; handled ${first.ledger.distinct()}; errors ${first.errors.map((e) => e.error?.message).join('; ')}`,
    timeoutMs: 60000,
  });

  const expected = await expectedChatState(posters);
  await assertChatProjection(root, expected);
  assertRetries(first, expected.messages.map((m) => m.body));
  await assertCommittedAtEnd(root, TOPIC, GROUP, first.ledger, TOTAL);

  // Redeploy: users post while no worker runs; a new worker (new client, same group) handles
  // exactly those messages and nothing that was already committed.
  const committedBefore = await committedOffsets(root, TOPIC, GROUP);
  await postMessages(posters, PER_USER, PER_USER + MORE);
  const second = makeWorker();
  const total2 = TOTAL + USERS.length * MORE;
  await runWorkerUntil({
    ledger: second.ledger,
    start: (signal) => second.run(signal),
    until: async () => (await committedCount(root, TOPIC, GROUP)) >= total2,
    describe: async () =>
      `committed ${await committedCount(root, TOPIC, GROUP)} of ${total2}; handled ${second.ledger.distinct()}; errors ${second.errors.map((e) => e.error?.message).join('; ')}`,
    timeoutMs: 60000,
  });
  for (const c of second.ledger.calls) {
    assert.ok(c.offset > (committedBefore.get(c.partition) ?? -1), `the redeployed worker got only new messages (partition ${c.partition} offset ${c.offset})`);
  }
  const expected2 = await expectedChatState(posters, PER_USER + MORE);
  await assertChatProjection(root, expected2);
  const firstIds = new Set(expected.messages.map((m) => m.msg_id));
  assertRetries(
    second,
    expected2.messages.filter((m) => !firstIds.has(m.msg_id)).map((m) => m.body),
  );
  const both = new Ledger();
  both.calls = [...first.ledger.calls, ...second.ledger.calls];
  await assertCommittedAtEnd(root, TOPIC, GROUP, both, total2);
});
