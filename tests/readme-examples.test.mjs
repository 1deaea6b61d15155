// Every README example, run as written against the dev server.
//
// The README is written from this file: each test body below is one README snippet; only
// the server URL (`server.url` instead of http://127.0.0.1:2900) and the final assertions
// are test additions. If an example changes here, change the README with it.

import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { createConsumerClient, Auth, runConsumer, TopicOp, KalamConsumerError, isKalamConsumerError } from '@kalamdb/consumer';
import { useDevServer, committedOffset, committedOffsets, waitFor, within } from './support/devserver.mjs';

const server = await useDevServer();

// The set-up a README reader does once (as a dba/root), in SQL.
before(async () => {
  await server.sql('CREATE NAMESPACE app');
  await server.sql('CREATE USER TABLE app.messages (id BIGINT PRIMARY KEY DEFAULT SNOWFLAKE_ID(), body TEXT)');
  await server.sql('CREATE USER TABLE app.summary (id TEXT PRIMARY KEY, body TEXT)');
  await server.sql('CREATE TOPIC app.events');
  await server.sql("ALTER TOPIC app.events ADD SOURCE app.messages ON INSERT WITH (payload = 'full')");
  await server.sql("CREATE USER worker WITH PASSWORD 'secret' ROLE service");
  await server.sql("CREATE USER alice WITH PASSWORD 'alice-secret' ROLE user");
});

async function write(...bodies) {
  for (const body of bodies) {
    await server.sql("EXECUTE AS USER 'alice' (INSERT INTO app.messages (body) VALUES ($1))", [body]);
  }
}

test('README quick start: runConsumer projects every message into app.summary', async () => {
  await write('hello', 'world');

  // --- README ---
  const client = createConsumerClient({
    url: server.url,
    authProvider: async () => Auth.basic('worker', 'secret'),
  });

  const controller = new AbortController();
  const done = runConsumer({
    client,
    name: 'projector',
    topic: 'app.events',
    groupId: 'projector',
    start: 'earliest',
    stopSignal: controller.signal,
    onChange: async (ctx, change) => {
      await ctx.sql('INSERT INTO app.summary (id, body) VALUES ($1, $2)', [change.key, change.data.body]);
    },
  });
  // ... later: controller.abort(); await done;
  // --- end ---

  try {
    await waitFor(async () => (await client.queryAll('SELECT id FROM app.summary')).length === 2, { message: 'two summary rows', timeoutMs: 15_000 });
  } finally {
    controller.abort();
    await within(15_000, done, 'runConsumer after abort');
  }
  const rows = await client.queryAll('SELECT body FROM app.summary ORDER BY body');
  assert.deepEqual(rows.map((r) => r.body), ['hello', 'world']);
});

test('README one-shot polling: consumeBatch then ack the last offset', async () => {
  await write('poll-me');
  const client = createConsumerClient({ url: server.url, authProvider: async () => Auth.basic('worker', 'secret') });

  // --- README ---
  const batch = await client.consumeBatch({
    topic: 'app.events', group_id: 'poller', start: 'earliest', batch_size: 100, partition_id: 0, timeout_seconds: 5,
  });
  for (const message of batch.messages) {
    console.log(message.offset, message.op, message.user, message.payload);
  }
  if (batch.messages.length > 0) {
    const lastOffset = batch.messages[batch.messages.length - 1].offset;
    await client.ack('app.events', 'poller', 0, lastOffset);   // -> { success, acknowledged_offset }
  }
  // --- end ---

  assert.equal(batch.messages.length, 3, 'hello, world, poll-me');
  assert.ok(batch.messages.every((m) => m.op === TopicOp.Insert && m.user === 'alice'));
  assert.equal(await committedOffset(server, 'app.events', 'poller', 0), batch.messages.at(-1).offset);
});

test('README lower-level consumer: consumer().run with ctx.ack, ended by stop()', async () => {
  const client = createConsumerClient({ url: server.url, authProvider: async () => Auth.basic('worker', 'secret') });
  const seen = [];

  // --- README ---
  const handle = client.consumer({ topic: 'app.events', group_id: 'low-level', start: 'earliest', batch_size: 100, auto_ack: false, partition_id: 0 });
  const running = handle.run(async (ctx) => {
    seen.push(ctx.message.payload.body);
    await ctx.ack();
  });
  // ... later:
  // handle.stop(); await running;
  // --- end ---

  const expected = (await client.consumeBatch({ topic: 'app.events', group_id: 'low-level-count', start: 'earliest', batch_size: 100, partition_id: 0 })).messages.length;
  assert.equal(expected, 3, 'hello, world, poll-me');
  await waitFor(() => seen.length === expected, { message: `${expected} deliveries` });
  handle.stop();
  await within(10_000, running, 'run() after stop()');
  assert.equal(await committedOffset(server, 'app.events', 'low-level', 0), expected - 1);
});

test('README SQL helpers: query, queryOne, queryAll, executeAsUser', async () => {
  const client = createConsumerClient({ url: server.url, authProvider: async () => Auth.basic('worker', 'secret') });

  // --- README ---
  await client.query('INSERT INTO app.summary (id, body) VALUES ($1, $2)', ['s-1', 'first']);
  const one = await client.queryOne('SELECT id, body FROM app.summary WHERE id = $1', ['s-1']);   // { id: 's-1', body: 'first' }
  const all = await client.queryAll('SELECT id FROM app.summary');                               // [{ id: ... }, ...]
  await client.executeAsUser('INSERT INTO app.summary (id, body) VALUES ($1, $2)', 'alice', ['a-1', 'from alice']);
  // --- end ---

  assert.deepEqual(one, { id: 's-1', body: 'first' });
  assert.ok(all.some((r) => r.id === 's-1'));
  const alices = await client.executeAsUser('SELECT id, body FROM app.summary', 'alice');
  assert.deepEqual(alices.results[0].named_rows, [{ id: 'a-1', body: 'from alice' }]);
});

test('README full runConsumer options: retry, dead letter, partitions, llm adapter', async () => {
  await write('summarise me');
  const client = createConsumerClient({ url: server.url, authProvider: async () => Auth.basic('worker', 'secret') });
  const prompts = [];

  // --- README ---
  const adapter = {
    // Any LLM: receives the prompt plus the runtime's systemPrompt/runKey/row; returns text.
    complete: async (input) => { prompts.push(input); return 'a short summary'; },
  };
  const deadLetters = [];
  const controller = new AbortController();
  const done = runConsumer({
    client, name: 'summariser', topic: 'app.events', groupId: 'summariser',
    start: 'earliest', batchSize: 100, partitions: [0],   // [0, 1, ...] for a topic with more partitions
    retry: { maxAttempts: 3, initialBackoffMs: 300, maxBackoffMs: 5000, multiplier: 2, jitterRatio: 0 },
    connectionRetry: { initialBackoffMs: 250, maxBackoffMs: 30000, multiplier: 2, maxAttempts: Infinity },
    idleBackoff: { initialMs: 10, maxMs: 200 },
    stopSignal: controller.signal, drainTimeoutMs: 10000,
    llm: adapter, systemPrompt: 'You summarise chats.',
    onChange: async (ctx, change) => {
      const summary = await ctx.llm.complete(`Summarise: ${change.data.body}`);
      await ctx.sql('INSERT INTO app.summary (id, body) VALUES ($1, $2)', [`llm-${change.key}`, summary]);
    },
    onFailed: async (ctx, change, error) => { deadLetters.push({ offset: change.offset, error: String(error) }); },
    ackOnFailed: true,
    onRetry: (info) => console.warn('retrying', info.attempt),
    onError: (info) => console.error('consumer error', info.error ?? info),
  });
  // --- end ---

  try {
    await waitFor(async () => {
      const c = await committedOffsets(server, 'app.events', 'summariser');
      return c[0] === 3; // hello, world, poll-me, summarise me
    }, { message: 'all four messages committed', timeoutMs: 15_000 });
  } finally {
    controller.abort();
    await within(15_000, done, 'runConsumer after abort');
  }
  assert.equal(deadLetters.length, 0);
  assert.equal(prompts.length, 4);
  const text = JSON.stringify(prompts);
  assert.match(text, /Summarise: summarise me/, 'the prompt reached the adapter');
  assert.match(text, /You summarise chats\./, 'the systemPrompt reached the adapter');
  const rows = await client.queryAll("SELECT body FROM app.summary WHERE body = 'a short summary'");
  assert.equal(rows.length, 4);
});

test('README errors: failures are KalamConsumerError with code, status and kind', async () => {
  const client = createConsumerClient({ url: server.url, authProvider: async () => Auth.basic('worker', 'secret') });

  // --- README ---
  try {
    await client.consumeBatch({ topic: 'app.missing', group_id: 'g' });
  } catch (err) {
    if (isKalamConsumerError(err)) {
      console.error(err.code, err.status, err.kind);   // 'NOT_FOUND' 404 'permanent'
    }
  }
  // --- end ---

  const err = await client.consumeBatch({ topic: 'app.missing', group_id: 'g' }).catch((e) => e);
  assert.ok(err instanceof KalamConsumerError);
  assert.deepEqual([err.code, err.status, err.kind], ['NOT_FOUND', 404, 'permanent']);
});
