// Authentication: basic credentials exchanged at /auth/login, JWT providers, wrong
// passwords, and tokens that expire while a worker runs.

import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createConsumerClient, Auth, runConsumer, isKalamConsumerError, KalamConsumerError } from '@kalamdb/consumer';
import {
  useDevServer, startDevServer, setupTopic, createServiceUser, uniqueName, committedOffset,
  waitFor, within, sleep, recordingFetch,
} from './support/devserver.mjs';
import { clientFor, insertRows, fastRunOptions } from './support/consumer.mjs';

const server = await useDevServer();
const worker = await createServiceUser(server);
const t = await setupTopic(server);
await insertRows(server, t.table, [{ id: 1, body: 'a' }]);

describe('auth', { concurrency: true }, () => {
  test('basic credentials are exchanged at POST /v1/api/auth/login, then topic calls carry the Bearer token', async () => {
    const rec = recordingFetch();
    const client = clientFor(server, worker, { fetch: rec.fetch });
    const batch = await client.consumeBatch({ topic: t.topic, group_id: uniqueName('g'), start: 'earliest', batch_size: 10 });
    assert.equal(batch.messages.length, 1);
    assert.equal(rec.calls[0].path, '/v1/api/auth/login', 'the first request is the login');
    assert.deepEqual(rec.calls[0].body, { user: worker.user, password: worker.password });
    const [consume] = rec.consumes;
    assert.match(consume.authorization, /^Bearer \S+$/);
    assert.ok(rec.calls.every((c) => !/^Basic /i.test(c.authorization ?? '')), 'no Basic header is ever sent');
    await client.consumeBatch({ topic: t.topic, group_id: uniqueName('g'), start: 'earliest', batch_size: 10 });
    assert.equal(rec.logins.length, 1, 'the token is cached between requests');
  });

  test('Auth.jwt(token): topic calls use the given token and never log in', async () => {
    const { access_token: token } = await server.login(worker.user, worker.password);
    const rec = recordingFetch();
    const client = createConsumerClient({ url: server.url, authProvider: async () => Auth.jwt(token), fetch: rec.fetch });
    const batch = await client.consumeBatch({ topic: t.topic, group_id: uniqueName('g'), start: 'earliest', batch_size: 10 });
    assert.equal(batch.messages.length, 1);
    assert.equal(rec.logins.length, 0);
    assert.equal(rec.consumes[0].authorization, `Bearer ${token}`);
  });

  test('Auth.basic and Auth.jwt produce the @kalamdb/client credential shapes', () => {
    assert.deepEqual(Auth.basic('u', 'p'), { type: 'basic', user: 'u', password: 'p' });
    assert.deepEqual(Auth.jwt('tok'), { type: 'jwt', token: 'tok' });
  });

  test('authProvider may be a plain credentials object instead of a function', async () => {
    const client = createConsumerClient({ url: server.url, authProvider: { type: 'basic', user: worker.user, password: worker.password } });
    const batch = await client.consumeBatch({ topic: t.topic, group_id: uniqueName('g'), start: 'earliest', batch_size: 10 });
    assert.equal(batch.messages.length, 1);
  });

  test('an authProvider that resolves to something that is not credentials fails with a typed error and sends no topic request', async () => {
    const rec = recordingFetch();
    const client = createConsumerClient({ url: server.url, authProvider: async () => ({ username: 'x' }), fetch: rec.fetch });
    await assert.rejects(
      client.consumeBatch({ topic: t.topic, group_id: uniqueName('g'), start: 'earliest', batch_size: 10 }),
      (err) => isKalamConsumerError(err) && err.kind === 'permanent',
    );
    assert.equal(rec.consumes.length, 0);
  });

  test('a wrong password rejects consumeBatch with a typed auth error (401), not a string', async () => {
    const client = clientFor(server, { user: worker.user, password: 'wrong-password' });
    await assert.rejects(
      client.consumeBatch({ topic: t.topic, group_id: uniqueName('g'), start: 'earliest', batch_size: 10 }),
      (err) => {
        assert.ok(err instanceof Error, 'an Error, not a string');
        assert.ok(isKalamConsumerError(err));
        assert.ok(err instanceof KalamConsumerError);
        assert.equal(err.name, 'KalamConsumerError');
        assert.equal(err.status, 401);
        assert.ok(['auth', 'permanent'].includes(err.kind), `a bad password is not a transient failure (kind ${err.kind})`);
        assert.equal(err.code, 'unauthorized', 'the server code from the {error, message} envelope');
        return true;
      },
    );
  });

  test('runConsumer with a wrong password surfaces a typed 401 (rejection or onError) and delivers nothing', async () => {
    const client = clientFor(server, { user: worker.user, password: 'wrong-password' });
    const controller = new AbortController();
    let delivered = 0;
    const reported = [];
    const running = runConsumer({
      ...fastRunOptions(), client, name: 'badpw', topic: t.topic, groupId: uniqueName('g'), stopSignal: controller.signal,
      onChange: async () => { delivered += 1; },
      onError: (info) => { reported.push(info?.error ?? info); },
    });
    let rejected;
    running.catch((err) => { rejected = err; });
    try {
      await waitFor(() => rejected || reported.length > 0, { message: 'a rejection or an onError report' });
    } finally {
      controller.abort();
      await within(15_000, running.catch(() => {}), 'runConsumer after stopSignal');
    }
    const err = rejected ?? reported[0];
    assert.ok(isKalamConsumerError(err), `typed error, got ${err}`);
    assert.equal(err.status, 401);
    assert.ok(['auth', 'permanent'].includes(err.kind), `a bad password is not a transient failure (kind ${err.kind})`);
    assert.equal(delivered, 0);
  });

  test('a JWT provider is asked again after a 401: a stale token is replaced by a fresh one', async () => {
    const { access_token: fresh } = await server.login(worker.user, worker.password);
    let calls = 0;
    const client = createConsumerClient({
      url: server.url,
      authProvider: async () => { calls += 1; return Auth.jwt(calls === 1 ? 'not-a-valid-token' : fresh); },
    });
    const batch = await client.consumeBatch({ topic: t.topic, group_id: uniqueName('g'), start: 'earliest', batch_size: 10 });
    assert.equal(batch.messages.length, 1);
    assert.ok(calls >= 2, 'the provider was consulted again after the 401');
  });
});

describe('token expiry (--jwt-expiry-secs 2 --jwt-leeway-secs 0)', () => {
  test('consumeBatch after the token expired logs in again and succeeds', async (tc) => {
    const short = await startDevServer({ args: ['--jwt-expiry-secs', '2', '--jwt-leeway-secs', '0'] });
    tc.after(() => short.stop({ removeData: true }));
    const w = await createServiceUser(short);
    const st = await setupTopic(short);
    await insertRows(short, st.table, [{ id: 1, body: 'a' }, { id: 2, body: 'b' }]);
    const rec = recordingFetch();
    const client = clientFor(short, w, { fetch: rec.fetch });
    const group = uniqueName('g');
    const first = await client.consumeBatch({ topic: st.topic, group_id: group, start: 'earliest', batch_size: 1 });
    await client.ack(st.topic, group, 0, first.messages[0].offset);
    await sleep(3000);
    const second = await client.consumeBatch({ topic: st.topic, group_id: group, start: 'earliest', batch_size: 1 });
    assert.deepEqual(second.messages.map((m) => m.payload.body), ['b']);
    assert.ok(rec.logins.length + rec.refreshes.length >= 2, 'a fresh token was obtained');
  });

  test('runConsumer keeps going across token expiry: the client logs in again, nothing is lost', async (tc) => {
    const short = await startDevServer({ args: ['--jwt-expiry-secs', '2', '--jwt-leeway-secs', '0'] });
    tc.after(() => short.stop({ removeData: true }));
    const w = await createServiceUser(short);
    const st = await setupTopic(short);
    await insertRows(short, st.table, [{ id: 1, body: 'before' }]);
    const rec = recordingFetch();
    const client = clientFor(short, w, { fetch: rec.fetch });
    const group = uniqueName('g');
    const bodies = [];
    const errors = [];
    const controller = new AbortController();
    const running = runConsumer({
      ...fastRunOptions(), client, name: 'expiry', topic: st.topic, groupId: group, stopSignal: controller.signal,
      onChange: async (_ctx, change) => { bodies.push(change.data.body); },
      onError: (info) => { errors.push(info); },
    });
    let rejected;
    running.catch((err) => { rejected = err; });
    try {
      await waitFor(() => bodies.length === 1 || rejected, { message: 'first message' });
      await sleep(3000);
      await insertRows(short, st.table, [{ id: 2, body: 'after' }]);
      await waitFor(async () => rejected || (await committedOffset(short, st.topic, group)) === 1, { message: 'commit after expiry', timeoutMs: 15_000 });
      assert.equal(rejected, undefined, 'runConsumer did not fail on an expired token');
      assert.deepEqual(bodies, ['before', 'after']);
      assert.ok(rec.logins.length + rec.refreshes.length >= 2, `logged in again (${rec.logins.length} logins, ${rec.refreshes.length} refreshes)`);
    } finally {
      controller.abort();
      await within(15_000, running.catch(() => {}), 'runConsumer after stopSignal');
    }
  });
});

describe('login rate limit (--auth-rate-limit 2)', () => {
  test('workers that start together and hit 429 rate_limited on login retry and all get their messages', async (tc) => {
    const limited = await startDevServer({ args: ['--auth-rate-limit', '2'] });
    tc.after(() => limited.stop({ removeData: true }));
    const w = await createServiceUser(limited);
    const lt = await setupTopic(limited);
    await insertRows(limited, lt.table, [{ id: 1, body: 'for everyone' }]);
    await sleep(1100); // let the setup's own root login leave the rate window
    const workers = 6;
    const recs = Array.from({ length: workers }, () => recordingFetch());
    const got = new Array(workers).fill(0);
    const controller = new AbortController();
    const runs = recs.map((rec, i) => runConsumer({
      ...fastRunOptions(), client: clientFor(limited, w, { fetch: rec.fetch }), name: `w${i}`, topic: lt.topic, groupId: `group-${i}`,
      stopSignal: controller.signal,
      onChange: async () => { got[i] += 1; },
      onError: () => {},
    }));
    const failures = [];
    runs.forEach((r, i) => r.catch((err) => { failures[i] = err; }));
    try {
      await waitFor(() => failures.some(Boolean) || got.every((n) => n === 1), { message: 'every worker got the message', timeoutMs: 20_000 });
    } finally {
      controller.abort();
      await within(15_000, Promise.allSettled(runs), 'all runConsumers after stopSignal');
    }
    assert.deepEqual(failures.filter(Boolean).map((e) => `${e.code} ${e.message}`), [], 'no worker gave up on 429');
    assert.deepEqual(got, new Array(workers).fill(1));
    const statuses = recs.flatMap((r) => r.logins).length;
    assert.ok(statuses > workers, `the rate limit was actually hit (${statuses} login attempts for ${workers} workers)`);
  });
});
