// @ts-check
// Scenario 1: chat CDC projection.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createConsumerClient, Auth, runConsumer, TopicOp } from '@kalamdb/consumer';
import { Ledger, USER_PASSWORD, assertCommittedAtEnd, committedCount, rootSession, runWorkerUntil, startServer } from './support.mjs';
import { TOPIC, TOTAL, PER_USER, USERS, assertChatProjection, bodyIndex, expectedChatState, postMessages, projectMessage, setupChat } from './chat-fixture.mjs';

const server = await startServer();
after(() => server.stop());

test('chat CDC projection: messages from four users over three partitions land exactly once in the room projection, even when every third message fails after its write and is retried', async () => {
  const root = await rootSession(server);
  const WORKER = 'chat_projector';
  const GROUP = 'chat-projector';
  const posters = await setupChat(root, server.url, WORKER);

  // Half of the messages exist before the worker starts, the rest arrive while it runs.
  await postMessages(posters, 0, PER_USER / 2);

  const client = createConsumerClient({ url: server.url, authProvider: async () => Auth.basic(WORKER, USER_PASSWORD) });
  const ledger = new Ledger();
  /** @type {any[]} */
  const retries = [];
  /** @type {any[]} */
  const errors = [];
  /** @type {Map<string, Set<string>>} runKeys seen per message id */
  const runKeysById = new Map();
  let forced = 0;

  await runWorkerUntil({
    ledger,
    start: (signal) =>
      runConsumer({
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
        onRetry: (info) => retries.push(info),
        onError: (info) => errors.push(info),
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
              assert.ok(!('payload' in change.message) && !('value' in change.message), 'change.message carries metadata only');
              for (const k of ['message', 'change', 'user', 'op', 'offset']) assert.ok(!(k in ctx), `ctx has no ${k}`);
              assert.equal(ctx.name, 'chat-projector');
              assert.equal(ctx.maxAttempts, 3);
            });
            const ids = runKeysById.get(change.data.id) ?? new Set();
            ids.add(ctx.runKey);
            runKeysById.set(change.data.id, ids);
            const m = { id: change.data.id, room: change.data.room, body: change.data.body, author: change.user, runKey: ctx.runKey };
            await projectMessage(ctx, m, () => {
              // Crash after the projection row is written, before the summary, on the first attempt.
              if (bodyIndex(m.body) % 3 === 0 && ctx.attempt === 1) {
                forced++;
                throw new Error(`forced failure after projecting ${m.id}`);
              }
            });
          } finally {
            ledger.leave();
          }
        },
      }),
    during: () => postMessages(posters, PER_USER / 2, PER_USER),
    until: async () => (await committedCount(root, TOPIC, GROUP)) >= TOTAL,
    describe: async () => `committed ${await committedCount(root, TOPIC, GROUP)} of ${TOTAL}; handled ${ledger.distinct()}; errors ${errors.map((e) => e.error?.message).join('; ')}`,
    timeoutMs: 60000,
  });

  const expected = await expectedChatState(posters);
  await assertChatProjection(root, expected);

  const forcedIds = expected.messages.filter((m) => bodyIndex(m.body) % 3 === 0).length;
  assert.equal(forced, forcedIds, 'every third message failed once on purpose');
  assert.equal(retries.length, forcedIds, 'each forced failure was retried exactly once (onRetry)');
  assert.deepEqual(errors, [], 'no message ended in onError');
  for (const [id, keys] of runKeysById) assert.equal(keys.size, 1, `message ${id} kept one runKey across attempts`);
  const secondAttempts = ledger.calls.filter((c) => c.attempt === 2).length;
  assert.equal(secondAttempts, forcedIds, 'the retried messages were handled again with ctx.attempt = 2');
  assert.equal(ledger.calls.length, TOTAL + forcedIds, 'no message was delivered more often than its retries explain');

  await assertCommittedAtEnd(root, TOPIC, GROUP, ledger, TOTAL);
});
