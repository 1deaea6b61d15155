// @ts-check
// Scenario 11: the deprecated runAgent() with onRow, on scenario 1's data.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createConsumerClient, Auth, runAgent } from '@kalamdb/consumer';
import { Ledger, USER_PASSWORD, assertCommittedAtEnd, committedCount, rootSession, runWorkerUntil, startServer } from './support.mjs';
import { TOPIC, TOTAL, PER_USER, USERS, assertChatProjection, bodyIndex, expectedChatState, postMessages, projectMessage, setupChat } from './chat-fixture.mjs';

const server = await startServer();
after(() => server.stop());

test('deprecated runAgent() with onRow (ctx.row, ctx.user, ctx.message) projects scenario 1\'s chat data to the same result as runConsumer, retries included, and warns once', async () => {
  /** @type {string[]} */
  const warnings = [];
  const onWarning = (/** @type {Error} */ w) => warnings.push(`${w.name}: ${w.message}`);
  process.on('warning', onWarning);
  const originalWarn = console.warn;
  console.warn = (...args) => {
    warnings.push(args.map(String).join(' '));
  };
  try {
    const root = await rootSession(server);
    const WORKER = 'chat_legacy';
    const GROUP = 'chat-legacy-agent';
    const posters = await setupChat(root, server.url, WORKER);
    await postMessages(posters, 0, PER_USER / 2);

    const client = createConsumerClient({ url: server.url, authProvider: async () => Auth.basic(WORKER, USER_PASSWORD) });
    const ledger = new Ledger();
    /** @type {any[]} */
    const retries = [];
    /** @type {any[]} */
    const errors = [];
    let forced = 0;

    await runWorkerUntil({
      ledger,
      start: (signal) =>
        runAgent({
          client,
          name: 'chat-projector',
          topic: TOPIC,
          groupId: GROUP,
          start: 'earliest',
          batchSize: 10,
          partitions: [0, 1, 2],
          retry: { maxAttempts: 3, initialBackoffMs: 5, maxBackoffMs: 20, multiplier: 2, jitterRatio: 0 },
          stopSignal: signal,
          onRetry: (/** @type {any} */ info) => retries.push(info),
          onError: (/** @type {any} */ info) => errors.push(info),
          onRow: async (/** @type {any} */ ctx, /** @type {any} */ row) => {
            const msg = ctx.message;
            ledger.enter(ctx, { partitionId: msg?.partition_id, offset: msg?.offset, key: msg?.key, op: msg?.op, user: ctx.user });
            try {
              ledger.check(() => {
                assert.equal(ctx.row, row, 'ctx.row is the row passed to onRow');
                assert.ok(USERS.includes(ctx.user), `ctx.user is the posting user, got ${ctx.user}`);
                assert.equal(msg.topic, TOPIC);
                assert.equal(msg.key, row.id, 'the message key is the primary key');
                assert.equal(typeof row.id, 'string');
                assert.equal(row._deleted, false);
              });
              const m = { id: row.id, room: row.room, body: row.body, author: ctx.user, runKey: ctx.runKey };
              await projectMessage(ctx, m, () => {
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

    // The same checks as scenario 1, on the same data.
    const expected = await expectedChatState(posters);
    await assertChatProjection(root, expected);
    const forcedIds = expected.messages.filter((m) => bodyIndex(m.body) % 3 === 0).length;
    assert.equal(forced, forcedIds);
    assert.equal(retries.length, forcedIds, 'each forced failure was retried exactly once');
    assert.deepEqual(errors, []);
    assert.equal(ledger.calls.length, TOTAL + forcedIds);
    await assertCommittedAtEnd(root, TOPIC, GROUP, ledger, TOTAL);

    await new Promise((r) => setImmediate(r));
    const deprecations = warnings.filter((w) => /runAgent/.test(w) && /deprecat/i.test(w));
    assert.equal(deprecations.length, 1, `exactly one deprecation warning for runAgent, got: ${JSON.stringify(warnings)}`);
  } finally {
    process.off('warning', onWarning);
    console.warn = originalWarn;
  }
});
