// A token the server keeps refusing is a permanent failure the caller must see (issue 11: "a bad
// static JWT (401) also retries forever"). After a 401 the provider is asked once more; when it
// hands back the same token, or its new token is refused too, runConsumer rejects within
// seconds with a typed error that names HTTP 401 and the server's code.

import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createConsumerClient, Auth, runConsumer, isKalamConsumerError } from '@kalamdb/consumer';
import { useDevServer, startDevServer, setupTopic, createServiceUser, uniqueName, within, sleep, recordingFetch } from './support/devserver.mjs';
import { fastRunOptions } from './support/consumer.mjs';

const server = await useDevServer();
const t = await setupTopic(server);

/** Starts runConsumer and returns its rejection, failing if it resolves or takes over `ms`. */
async function rejectionOf(client, ms = 5000) {
  const stop = new AbortController();
  let delivered = 0;
  const running = runConsumer({
    ...fastRunOptions(), client, name: 'bad-token', topic: t.topic, groupId: uniqueName('g'), stopSignal: stop.signal,
    onChange: async () => { delivered += 1; },
  });
  try {
    const error = await within(ms, running.then(() => assert.fail('runConsumer resolved'), (e) => e), 'runConsumer with a refused token');
    return { error, delivered };
  } finally {
    stop.abort();
    await running.catch(() => {});
  }
}

/** The checks every "token refused" rejection must pass. */
function assertRefused(error, code) {
  assert.ok(isKalamConsumerError(error), `a typed error, got ${error}`);
  assert.equal(error.status, 401);
  assert.equal(error.code, code);
  assert.equal(error.kind, 'permanent', 'no retry helps: the connection backoff must not wait it out');
  assert.match(error.message, /rejected/);
  assert.match(error.message, /HTTP 401/);
  assert.ok(error.message.includes(code), `the server's code in: ${error.message}`);
}

describe('a refused JWT makes runConsumer reject', { concurrency: true }, () => {
  test('a garbage static token from a provider: asked twice, then INVALID_CREDENTIALS, within seconds', async () => {
    let calls = 0;
    const rec = recordingFetch();
    const client = createConsumerClient({
      url: server.url,
      authProvider: async () => { calls += 1; return Auth.jwt('not-a-jwt'); },
      fetch: rec.fetch,
    });
    const { error, delivered } = await rejectionOf(client);
    assertRefused(error, 'INVALID_CREDENTIALS');
    assert.match(error.message, /same token/);
    assert.equal(calls, 2, 'the provider was asked again after the 401, and only then');
    // The worker's first protected request is its read of system.topics (checking the given
    // partitions), not a consume: count every request that carried the token.
    assert.equal(rec.calls.filter((c) => c.authorization).length, 1, 'the same refused token is not sent twice');
    assert.equal(delivered, 0);
  });

  test('a garbage token given as a plain credentials object', async () => {
    const client = createConsumerClient({ url: server.url, authProvider: Auth.jwt('still-not-a-jwt') });
    assertRefused((await rejectionOf(client)).error, 'INVALID_CREDENTIALS');
  });

  test('a provider whose every new token is refused too: the second 401 is final', async () => {
    let calls = 0;
    const rec = recordingFetch();
    const client = createConsumerClient({
      url: server.url,
      authProvider: async () => { calls += 1; return Auth.jwt(`bad-token-${calls}`); },
      fetch: rec.fetch,
    });
    const { error } = await rejectionOf(client);
    assertRefused(error, 'INVALID_CREDENTIALS');
    assert.match(error.message, /new token from authProvider as well/);
    assert.equal(calls, 2);
    assert.deepEqual(rec.calls.filter((c) => c.authorization).map((c) => c.authorization), ['Bearer bad-token-1', 'Bearer bad-token-2']);
  });

  test('consumeBatch with a refused token rejects with the same permanent error', async () => {
    const client = createConsumerClient({ url: server.url, authProvider: async () => Auth.jwt('nope-nope') });
    await assert.rejects(
      client.consumeBatch({ topic: t.topic, group_id: uniqueName('g'), start: 'earliest', batch_size: 1 }),
      (error) => { assertRefused(error, 'INVALID_CREDENTIALS'); return true; },
    );
  });
});

test('an expired static JWT (--jwt-expiry-secs 1 --jwt-leeway-secs 0): runConsumer rejects with TOKEN_EXPIRED', async (tc) => {
  const short = await startDevServer({ args: ['--jwt-expiry-secs', '1', '--jwt-leeway-secs', '0'] });
  tc.after(() => short.stop({ removeData: true }));
  const w = await createServiceUser(short);
  const st = await setupTopic(short);
  const { access_token: token } = await short.login(w.user, w.password);
  await sleep(2100); // past exp, which has whole seconds
  const client = createConsumerClient({ url: short.url, authProvider: async () => Auth.jwt(token) });
  const stop = new AbortController();
  const running = runConsumer({ ...fastRunOptions(), client, name: 'expired', topic: st.topic, groupId: uniqueName('g'), stopSignal: stop.signal, onChange: async () => {} });
  try {
    const error = await within(5000, running.then(() => assert.fail('runConsumer resolved'), (e) => e), 'runConsumer with an expired token');
    assertRefused(error, 'TOKEN_EXPIRED');
  } finally {
    stop.abort();
    await running.catch(() => {});
  }
});
