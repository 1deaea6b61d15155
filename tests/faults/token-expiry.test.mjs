// Fault: access tokens expire every 2 s while the worker runs (--jwt-expiry-secs 2
// --jwt-leeway-secs 0). The worker must log in again (or refresh) and go on, for topic requests
// and for the SQL its handler runs, without losing or dead-lettering anything.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createConsumerClient, Auth, runConsumer } from '@kalamdb/consumer';
import { startFaultProxy } from './support/fault-proxy.mjs';
import {
  startServer, setupFaultTopic, produce, projectIdempotently, Ledger, assertSinkExactly, committedOffset,
  supervise, waitUntil, sleep, describe, errorSummary, ranges, FAST_RETRY, FAST_CONNECTION_RETRY, FAST_IDLE, WORKER_PASSWORD,
} from './support/fault-kit.mjs';

const server = await startServer(['--jwt-expiry-secs', '2', '--jwt-leeway-secs', '0']);
after(() => server.stop({ removeData: true }));

const LOGIN = '/v1/api/auth/login';
const REFRESH = '/v1/api/auth/refresh';

/** Writes `total` events in small bursts over ~runMs while the worker consumes them. */
async function produceOverTime(s, total, runMs) {
  const bursts = 20;
  const per = Math.ceil(total / bursts);
  for (let b = 0; b < bursts; b++) {
    await produce(server, s.events, b * per, Math.min(total, (b + 1) * per));
    await sleep(runMs / bursts);
  }
}

async function runWithExpiringTokens(t, { authProvider, name, total = 400, runMs = 7000 }) {
  const s = await setupFaultTopic(server);
  const proxy = await startFaultProxy({ upstreamPort: server.port });
  t.after(() => proxy.close());
  const client = createConsumerClient({ url: proxy.url, authProvider: authProvider(s) });
  const ledger = new Ledger();
  const errors = [];
  const failed = [];
  const worker = supervise((signal) => runConsumer({
    client,
    name,
    topic: s.topic,
    groupId: s.group,
    start: 'earliest',
    partitions: [0],
    batchSize: 10,
    retry: FAST_RETRY,
    connectionRetry: FAST_CONNECTION_RETRY,
    idleBackoff: FAST_IDLE,
    stopSignal: signal,
    onError: (info) => { if (errors.length < 10_000) errors.push(info); },
    onFailed: async (ctx, change, error) => { failed.push({ offset: change.offset, error }); },
    onChange: async (ctx, change) => {
      await projectIdempotently(ctx, s.sink, change);
      ledger.record(change);
    },
  }));

  const startedAt = Date.now();
  await produceOverTime(s, total, runMs);
  const done = await waitUntil(async () => worker.outcome.settled
    || (ledger.distinct >= total && (await committedOffset(server, s.topic, s.group)) === total - 1), { timeoutMs: 30_000, intervalMs: 100 });
  const ranForMs = Date.now() - startedAt;
  const outcome = await worker.stop();
  const committed = await committedOffset(server, s.topic, s.group);
  const logins = proxy.countRequests(LOGIN);
  const refreshes = proxy.countRequests(REFRESH);
  t.diagnostic(`ran ${ranForMs} ms; logins ${logins}, refreshes ${refreshes}; ${ledger.distinct}/${total} handled; committed ${committed}; errors ${JSON.stringify(errorSummary(errors))}`);

  assert.equal(outcome.rejected, false, `runConsumer rejected: ${describe(outcome.error)}`);
  assert.ok(done, `not finished: ${ledger.distinct}/${total}, committed ${committed}`);
  assert.deepEqual(failed.map((f) => `${f.offset}: ${describe(f.error)}`), [], 'no message dead-lettered because of an expired token');
  assert.deepEqual(ranges(ledger.missing(total)), [], 'offsets never handled (lost)');
  await assertSinkExactly(server, s.sink, Array.from({ length: total }, (_, i) => i));
  assert.equal(committed, total - 1, 'committed offset is the last event');
  return { logins, refreshes, tokensNeeded: Math.floor(ranForMs / 2000) };
}

test('tokens expiring every 2 s mid-run (basic auth): the worker logs in again and goes on; all events processed, sink exact, committed offset is the last', { timeout: 90_000 }, async (t) => {
  const { logins, refreshes, tokensNeeded } = await runWithExpiringTokens(t, {
    name: 'expiry-basic',
    authProvider: (s) => async () => Auth.basic(s.worker.user, WORKER_PASSWORD),
  });
  // A run of ~7 s with 2 s tokens needs at least three tokens: it logged in (or refreshed) again.
  assert.ok(logins + refreshes >= tokensNeeded, `only ${logins} logins + ${refreshes} refreshes with 2 s tokens, ${tokensNeeded} needed`);
});

test('tokens expiring every 2 s mid-run (JWT provider): after a 401 the provider is asked again and its fresh token is used; nothing lost', { timeout: 90_000 }, async (t) => {
  let provided = 0;
  const { tokensNeeded } = await runWithExpiringTokens(t, {
    name: 'expiry-jwt',
    // The app's own token source: a login straight at the server whenever asked.
    authProvider: (s) => async () => {
      provided++;
      const res = await fetch(`${server.url}${LOGIN}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ user: s.worker.user, password: WORKER_PASSWORD }),
      });
      if (!res.ok) throw new Error(`login failed: HTTP ${res.status}`);
      return Auth.jwt((await res.json()).access_token);
    },
  });
  assert.ok(provided >= tokensNeeded, `the JWT provider was asked ${provided} times, ${tokensNeeded} tokens needed`);
});
