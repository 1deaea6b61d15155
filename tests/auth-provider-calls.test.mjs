// How often the authProvider is asked (issue 11 item 7): a provider that mints tokens from an
// identity service must not be called per request. A JWT is reused until shortly before its
// `exp`, basic credentials for as long as their session's token is fresh, and concurrent
// requests share one call. End to end against kalam-devserver.

import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createConsumerClient, Auth, runConsumer } from '@kalamdb/consumer';
import {
  useDevServer, startDevServer, setupTopic, createServiceUser, uniqueName, committedOffset, waitFor, within, recordingFetch,
} from './support/devserver.mjs';
import { fastRunOptions } from './support/consumer.mjs';

// Access tokens live one hour, as a typical identity service issues them.
const server = await useDevServer({ args: ['--jwt-expiry-secs', '3600'] });
const worker = await createServiceUser(server);

/** `total` rows in 500-row INSERTs (one CDC message each). */
async function produce(target, table, total) {
  for (let start = 0; start < total; start += 500) {
    const values = [];
    for (let id = start; id < Math.min(total, start + 500); id++) values.push(`(${id}, 'm${id}')`);
    await target.sql(`INSERT INTO ${table} (id, body) VALUES ${values.join(', ')}`);
  }
}

/** A JWT provider that logs in at the server itself on every call, and counts the calls. */
function countingJwtProvider(target, creds) {
  const provider = async () => {
    provider.calls += 1;
    const { access_token: token } = await target.login(creds.user, creds.password);
    return Auth.jwt(token);
  };
  provider.calls = 0;
  return provider;
}

/** recordingFetch plus the status of every response, to count 401s. */
function statusFetch() {
  const rec = recordingFetch();
  const statuses = [];
  const fetch = async (input, init) => {
    const response = await rec.fetch(input, init);
    statuses.push({ path: new URL(String(input instanceof Request ? input.url : input)).pathname, status: response.status });
    return response;
  };
  return { rec, statuses, fetch };
}

/** Runs a worker until `done()` is true, then stops it; returns what it handled. */
async function runUntil(options, done, { timeoutMs = 60_000 } = {}) {
  const controller = new AbortController();
  let rejected;
  const running = runConsumer({ ...fastRunOptions(), ...options, stopSignal: controller.signal });
  running.catch((error) => { rejected = error; });
  try {
    await waitFor(async () => rejected !== undefined || (await done()), { timeoutMs, intervalMs: 100, message: 'the worker to finish' });
  } finally {
    controller.abort();
    await within(15_000, running.catch(() => {}), 'runConsumer after stopSignal');
  }
  assert.equal(rejected, undefined, `runConsumer rejected: ${rejected?.code} ${rejected?.message}`);
}

describe('the authProvider is not called per request', { concurrency: true }, () => {
  test('10,000 messages through runConsumer with a one-hour JWT: at most 2 provider calls', async (tc) => {
    const t = await setupTopic(server);
    const total = 10_000;
    await produce(server, t.table, total);
    const provider = countingJwtProvider(server, worker);
    const { rec, fetch } = statusFetch();
    const client = createConsumerClient({ url: server.url, authProvider: provider, fetch });
    const group = uniqueName('g');
    let handled = 0;
    await runUntil(
      { client, name: 'jwt-10k', topic: t.topic, groupId: group, batchSize: 100, onChange: async () => { handled += 1; } },
      async () => handled >= total && (await committedOffset(server, t.topic, group)) === total - 1,
      { timeoutMs: 120_000 },
    );
    tc.diagnostic(`${provider.calls} provider calls, ${rec.consumes.length} consumes, ${rec.acks.length} acks`);
    assert.equal(handled, total);
    // The assertion below only means something if there were many requests to authorise.
    assert.ok(rec.consumes.length >= total / 100, `${rec.consumes.length} consume requests`);
    assert.ok(rec.acks.length >= 1, 'acks were sent');
    assert.ok(provider.calls >= 1 && provider.calls <= 2, `the provider was called ${provider.calls} times for ${rec.calls.length} requests`);
    assert.ok(rec.consumes.every((c) => c.authorization === rec.consumes[0].authorization), 'every consume carried the same token');
  });

  test('an idle worker (5 s of empty polls) asks a JWT provider once', async () => {
    const t = await setupTopic(server);
    const provider = countingJwtProvider(server, worker);
    const rec = recordingFetch();
    const client = createConsumerClient({ url: server.url, authProvider: provider, fetch: rec.fetch });
    const startedAt = Date.now();
    await runUntil(
      { client, name: 'idle', topic: t.topic, groupId: uniqueName('g'), onChange: async () => {} },
      async () => Date.now() - startedAt >= 5000,
    );
    assert.ok(rec.consumes.length >= 10, `the worker kept polling (${rec.consumes.length} consumes)`);
    assert.equal(provider.calls, 1, `${provider.calls} provider calls for ${rec.consumes.length} polls`);
  });

  test('concurrent requests share one provider call', async () => {
    const t = await setupTopic(server);
    const provider = countingJwtProvider(server, worker);
    const rec = recordingFetch();
    const client = createConsumerClient({ url: server.url, authProvider: provider, fetch: rec.fetch });
    await Promise.all(
      Array.from({ length: 20 }, () => client.consumeBatch({ topic: t.topic, group_id: uniqueName('g'), start: 'earliest', batch_size: 1 })),
    );
    assert.equal(rec.consumes.length, 20);
    assert.equal(provider.calls, 1);
  });

  test('a provider returning Auth.basic is asked once per session, not per request, and logs in once', async () => {
    const t = await setupTopic(server);
    await produce(server, t.table, 300);
    let calls = 0;
    const rec = recordingFetch();
    const client = createConsumerClient({
      url: server.url,
      authProvider: async () => { calls += 1; return Auth.basic(worker.user, worker.password); },
      fetch: rec.fetch,
    });
    const group = uniqueName('g');
    let handled = 0;
    await runUntil(
      { client, name: 'basic-300', topic: t.topic, groupId: group, batchSize: 10, onChange: async (ctx) => { handled += 1; await ctx.queryOne('SELECT 1 AS one'); } },
      async () => handled >= 300 && (await committedOffset(server, t.topic, group)) === 299,
    );
    assert.ok(rec.consumes.length >= 30 && rec.sqls.length >= 300, `${rec.consumes.length} consumes, ${rec.sqls.length} SQL calls`);
    assert.equal(calls, 1, `${calls} provider calls`);
    assert.equal(rec.logins.length, 1);
  });
});

describe('short-lived tokens (--jwt-expiry-secs 2 --jwt-leeway-secs 0)', () => {
  test('a JWT is renewed before its exp: the provider is asked about once per token life, and no request gets a 401', async (tc) => {
    const short = await startDevServer({ args: ['--jwt-expiry-secs', '2', '--jwt-leeway-secs', '0'] });
    tc.after(() => short.stop({ removeData: true }));
    const w = await createServiceUser(short);
    const t = await setupTopic(short);
    const provider = countingJwtProvider(short, w);
    const { rec, statuses, fetch } = statusFetch();
    const client = createConsumerClient({ url: short.url, authProvider: provider, fetch });
    const startedAt = Date.now();
    await runUntil(
      { client, name: 'short', topic: t.topic, groupId: uniqueName('g'), onChange: async () => {} },
      async () => Date.now() - startedAt >= 5000,
    );
    const ranMs = Date.now() - startedAt;
    tc.diagnostic(`${provider.calls} provider calls in ${ranMs} ms, ${rec.consumes.length} polls`);
    // Renewed at 80% of the life left: exp has whole seconds, so a token is received with 1 to
    // 2 s left and used for at least 0.8 s.
    const atMost = Math.ceil(ranMs / 800) + 1;
    assert.ok(provider.calls >= 3, `renewed while running (${provider.calls} calls in ${ranMs} ms)`);
    assert.ok(provider.calls <= atMost, `${provider.calls} calls in ${ranMs} ms, expected at most ${atMost}`);
    assert.ok(rec.consumes.length > provider.calls * 3, `${rec.consumes.length} polls`);
    assert.deepEqual(statuses.filter((s) => s.status === 401), [], 'no request went out with an expired token');
  });
});
