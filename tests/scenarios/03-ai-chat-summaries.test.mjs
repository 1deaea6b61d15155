// @ts-check
// Scenario 3: AI chat summaries through ctx.llm, written back as the producing user.
//
// Users store conversations in a USER table; the worker (role service) asks an LLM adapter for a
// summary and writes it into the user's own USER table `assist.summaries` with
// client.executeAsUser(sql, change.user). The adapter is a deterministic fake defined here; it
// fails once (rate limit) for some conversations to show the retry does not duplicate anything.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createConsumerClient, Auth, runConsumer, TopicOp } from '@kalamdb/consumer';
import {
  Ledger,
  USER_PASSWORD,
  assertCommittedAtEnd,
  cmp,
  committedCount,
  createUsers,
  isDuplicate,
  pool,
  rootSession,
  runWorkerUntil,
  session,
  startServer,
} from './support.mjs';

const server = await startServer();
after(() => server.stop());

const TOPIC = 'assist.conversation_events';
const GROUP = 'summariser';
const WORKER = 'summariser_svc';
const USERS = ['mia', 'noah', 'olga', 'pete'];
const PER_USER = 5;
const SYSTEM_PROMPT = 'You summarise support chats in one line. (scenario-3 system prompt)';
const MODEL = 'fake-llm-1';

/** @param {string} user @param {number} i */
function conversation(user, i) {
  const id = `conv-${user}-${i}`;
  const topics = ['billing', 'login trouble', 'export to csv', 'refund', 'dark mode'];
  const t = topics[(i + user.length) % topics.length];
  const transcript = [
    `${user}: hello, I need help with ${t}.`,
    `agent: sure, can you tell me more about the ${t} issue?`,
    `${user}: it started ${i + 1} days ago and happens every time.`,
    `agent: thanks, I have opened case ${id}.`,
  ].join('\n');
  return { id, title: `${t} (${user} #${i})`, transcript };
}

/** Deterministic "model": a hash and the first words of the prompt. @param {string} prompt */
function fakeSummary(prompt) {
  let h = 0x811c9dc5;
  for (let i = 0; i < prompt.length; i++) h = Math.imul(h ^ prompt.charCodeAt(i), 0x01000193) >>> 0;
  const words = prompt.split(/\s+/).filter(Boolean);
  return `[${h.toString(16).padStart(8, '0')}] ${words.slice(0, 8).join(' ')} (${words.length} words)`;
}

/** The prompt the worker sends for a conversation row. @param {{ id: string, title: string, transcript: string }} c */
const promptFor = (c) => `Summarise conversation ${c.id} titled "${c.title}":\n${c.transcript}`;

/** Conversations whose first LLM call fails with a rate limit. @param {string} id */
const flaky = (id) => id.endsWith('-2');

test('AI chat summaries: a deterministic fake LLM through ctx.llm (complete and stream, system prompt and run key injected) summarises every conversation once, written back with executeAsUser into the producing user\'s own rows', async () => {
  const root = await rootSession(server);
  await root.sql('CREATE NAMESPACE IF NOT EXISTS assist');
  await root.sql('CREATE USER TABLE assist.conversations (id TEXT PRIMARY KEY, title TEXT NOT NULL, transcript TEXT NOT NULL)');
  await root.sql('CREATE USER TABLE assist.summaries (conversation_id TEXT PRIMARY KEY, summary TEXT NOT NULL, model TEXT NOT NULL, run_key TEXT NOT NULL)');
  await root.sql(`CREATE TOPIC ${TOPIC} PARTITIONS 2`);
  await root.sql(`ALTER TOPIC ${TOPIC} ADD SOURCE assist.conversations ON INSERT`);
  const users = await createUsers(root, server.url, USERS, 'user');
  await createUsers(root, server.url, [WORKER], 'service');

  /** @type {unknown[]} */
  const llmInputs = [];
  /** @type {Set<string>} */
  const failedOnce = new Set();
  let streamCalls = 0;
  /** The prompt the runtime handed to the adapter. @param {any} input */
  const promptOf = (input) =>
    typeof input === 'string'
      ? input
      : input.prompt ?? (input.messages ?? []).filter((/** @type {any} */ m) => m.role === 'user').map((/** @type {any} */ m) => m.content).join('\n');
  /** Fails the first call for a flaky conversation. @param {string} prompt */
  const maybeRateLimit = (prompt) => {
    const id = /conversation (conv-[\w-]+)/.exec(prompt)?.[1] ?? '';
    if (flaky(id) && !failedOnce.has(id)) {
      failedOnce.add(id);
      throw new Error(`fake LLM: 429 rate limited (${id})`);
    }
  };
  const adapter = {
    /** @param {any} input */
    async complete(input) {
      llmInputs.push(input);
      const prompt = promptOf(input);
      maybeRateLimit(prompt);
      await new Promise((r) => setTimeout(r, 2));
      return fakeSummary(prompt);
    },
    /** Streams the same text in three chunks. @param {any} input */
    async *stream(input) {
      llmInputs.push(input);
      streamCalls++;
      const prompt = promptOf(input);
      maybeRateLimit(prompt);
      const text = fakeSummary(prompt);
      const third = Math.ceil(text.length / 3);
      for (let i = 0; i < text.length; i += third) {
        await new Promise((r) => setTimeout(r, 1));
        yield text.slice(i, i + third);
      }
    },
  };

  const client = createConsumerClient({ url: server.url, authProvider: async () => Auth.basic(WORKER, USER_PASSWORD) });
  const ledger = new Ledger();
  /** @type {any[]} */
  const errors = [];
  /** @type {any[]} */
  const retries = [];
  /** @type {string[]} */
  const asUsers = [];
  const total = USERS.length * PER_USER;

  await runWorkerUntil({
    ledger,
    start: (signal) =>
      runConsumer({
        client,
        name: 'summariser',
        topic: TOPIC,
        groupId: GROUP,
        start: 'earliest',
        batchSize: 4,
        partitions: [0, 1],
        retry: { maxAttempts: 3, initialBackoffMs: 5, maxBackoffMs: 20 },
        idleBackoff: { initialMs: 10, maxMs: 100 },
        stopSignal: signal,
        llm: adapter,
        systemPrompt: SYSTEM_PROMPT,
        onRetry: (info) => retries.push(info),
        onError: (info) => errors.push(info),
        onChange: async (ctx, change) => {
          ledger.enter(ctx, change);
          try {
            const c = change.data;
            ledger.check(() => {
              assert.equal(change.op, TopicOp.Insert);
              assert.ok(USERS.includes(change.user), `user is the conversation owner, got ${change.user}`);
              assert.ok(ctx.llm, 'ctx.llm is present when an adapter is given');
            });
            if (!ctx.llm) throw new Error('ctx.llm missing');
            // Odd conversations stream their summary, the others use complete().
            let summary = '';
            if (Number(c.id.split('-').pop()) % 2 === 1) {
              for await (const chunk of ctx.llm.stream(promptFor(c))) summary += chunk;
            } else {
              summary = await ctx.llm.complete(promptFor(c));
            }
            const res = await client
              .executeAsUser('INSERT INTO assist.summaries (conversation_id, summary, model, run_key) VALUES ($1, $2, $3, $4)', change.user, [
                c.id,
                String(summary),
                MODEL,
                ctx.runKey,
              ])
              .catch((/** @type {unknown} */ e) => {
                if (isDuplicate(e)) return null; // written by an earlier attempt
                throw e;
              });
            if (res) asUsers.push(`${res.results?.[0]?.as_user}:${change.user}`);
          } finally {
            ledger.leave();
          }
        },
      }),
    during: () =>
      pool(USERS, USERS.length, async (user) => {
        for (let i = 0; i < PER_USER; i++) {
          const c = conversation(user, i);
          await users[user].sql('INSERT INTO assist.conversations (id, title, transcript) VALUES ($1, $2, $3)', [c.id, c.title, c.transcript]);
        }
      }),
    until: async () => (await committedCount(root, TOPIC, GROUP)) >= total,
    describe: async () => `committed ${await committedCount(root, TOPIC, GROUP)} of ${total}; errors ${errors.map((e) => e.error?.message).join('; ')}`,
    timeoutMs: 60000,
  });

  // Each user reads its own summaries: exactly its conversations, with the fake model's text.
  for (const user of USERS) {
    const rows = await users[user].allRows('SELECT conversation_id, summary, model FROM assist.summaries ORDER BY conversation_id');
    const expected = Array.from({ length: PER_USER }, (_, i) => conversation(user, i))
      .map((c) => ({ conversation_id: c.id, summary: fakeSummary(promptFor(c)), model: MODEL }))
      .sort((a, b) => cmp(a.conversation_id, b.conversation_id));
    assert.deepEqual(rows, expected, `${user} owns exactly one correct summary per conversation`);
  }
  // The summaries were written as the users, not as the worker: the worker's own scope is empty.
  const workerView = await session(server.url, WORKER, USER_PASSWORD);
  assert.deepEqual(await workerView.rows('SELECT conversation_id FROM assist.summaries'), [], 'no summary row is owned by the worker');
  for (const pair of asUsers) {
    const [asUser, owner] = pair.split(':');
    assert.equal(asUser, owner, 'executeAsUser ran the INSERT as the producing user (as_user)');
  }

  // The LLM: one successful call per conversation plus the one failed call per flaky conversation.
  const flakyCount = USERS.length; // one "-2" conversation per user
  assert.equal(failedOnce.size, flakyCount);
  assert.equal(llmInputs.length, total + flakyCount, 'the LLM was called once per conversation, plus once per rate-limited first try');
  assert.equal(retries.length, flakyCount, 'each rate-limited call was retried once');
  assert.equal(streamCalls, USERS.length * 2, 'the odd conversations went through ctx.llm.stream');
  const runKeys = [...new Set(ledger.calls.map((c) => c.runKey))];
  for (const input of llmInputs) {
    const text = JSON.stringify(input);
    assert.ok(text.includes(SYSTEM_PROMPT), `the runtime injects the system prompt into the adapter input: ${text.slice(0, 300)}`);
    assert.ok(
      runKeys.some((k) => text.includes(JSON.stringify(k))),
      `the runtime injects the message's run key into the adapter input: ${text.slice(0, 300)}`,
    );
  }
  assert.deepEqual(errors, []);
  await assertCommittedAtEnd(root, TOPIC, GROUP, ledger, total);
});
