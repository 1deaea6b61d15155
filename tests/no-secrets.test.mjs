// Loud but never leaking (issue 11 item 12): no error (message, body, stack, any link of its
// cause chain, what util.inspect and JSON show) and no console line may carry a password, an
// access or refresh token or an Authorization header. This test walks many auth failure paths,
// collects everything the caller could see, and looks for every secret it used.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { inspect } from 'node:util';
import { createConsumerClient, Auth, runConsumer } from '@kalamdb/consumer';
import { useDevServer, startDevServer, setupTopic, createServiceUser, uniqueName, within, sleep, recordingFetch } from './support/devserver.mjs';
import { fastRunOptions } from './support/consumer.mjs';
import { startRawServer } from './support/raw-server.mjs';

const server = await useDevServer();
const password = `Pw-${Math.random().toString(36).slice(2, 10)}`;
const worker = await createServiceUser(server, { password });
const t = await setupTopic(server);
await server.sql(`INSERT INTO ${t.table} (id, body) VALUES (1, 'x')`);

const secrets = new Set([password]);
/** Every access/refresh token a login answered with, read off the wire, is a secret too. */
function secretCollectingFetch() {
  const rec = recordingFetch();
  const fetch = async (input, init) => {
    const response = await rec.fetch(input, init);
    const path = new URL(String(input instanceof Request ? input.url : input)).pathname;
    if (path.startsWith('/v1/api/auth/')) {
      const body = await response.clone().json().catch(() => ({}));
      for (const key of ['access_token', 'refresh_token']) if (typeof body[key] === 'string') secrets.add(body[key]);
    }
    return response;
  };
  return fetch;
}

// Everything written to the console while the failures happen (the runtime's logger, when it
// has one, writes there by default).
const consoleLines = [];
const originalConsole = {};
for (const level of ['log', 'info', 'warn', 'error', 'debug']) {
  originalConsole[level] = console[level];
  console[level] = (...args) => { consoleLines.push(args.map((a) => (typeof a === 'string' ? a : inspect(a, { depth: 5 }))).join(' ')); };
}
after(() => Object.assign(console, originalConsole));

/** What a caller can see of `error`: String, util.inspect, JSON, and each cause's message, stack and body. */
function everythingVisible(error) {
  const parts = [String(error), inspect(error, { depth: 8 })];
  try { parts.push(JSON.stringify(error)); } catch { /* cycles */ }
  const seen = new Set();
  for (let e = error; e && typeof e === 'object' && !seen.has(e); e = e.cause) {
    seen.add(e);
    parts.push(String(e.message), String(e.stack), String(e.body));
    for (const key of Object.getOwnPropertyNames(e)) {
      if (typeof e[key] === 'string') parts.push(e[key]);
    }
  }
  return parts.join('\n');
}

const collected = [];
/** Records the rejection of `promise` (which must reject) under `label`. */
async function failure(label, promise) {
  const error = await within(20_000, promise.then(() => assert.fail(`${label}: resolved`), (e) => e), label);
  assert.ok(error instanceof Error, `${label}: rejected with an Error`);
  collected.push({ label, error });
  return error;
}

/** runConsumer until it rejects; its onError reports are collected too. */
function runUntilRejected(label, client, topic = t.topic) {
  const stop = new AbortController();
  const promise = runConsumer({
    ...fastRunOptions(), client, name: label, topic, groupId: uniqueName('g'), stopSignal: stop.signal,
    onChange: async () => {},
    onError: (info) => { collected.push({ label: `${label} onError`, error: info.error }); },
  });
  return failure(label, promise.finally(() => stop.abort()));
}

const request = { topic: t.topic, group_id: 'g', start: 'earliest', batch_size: 1 };

async function closedPort() {
  const probe = net.createServer();
  await new Promise((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address();
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

test('no secret in any error of the auth failure paths, nor on the console', async (tc) => {
  // A real token of the worker, used as a static JWT on paths that must fail for other reasons.
  const login = await server.login(worker.user, password);
  secrets.add(login.access_token).add(login.refresh_token);
  // A JWT with the right shape but a signature the server does not accept.
  const [head, body] = login.access_token.split('.');
  const forged = `${head}.${body}.${'A'.repeat(43)}`;
  secrets.add(forged);

  // 1. Wrong password: consumeBatch, SQL and runConsumer.
  const wrongPassword = `${password}-wrong`;
  secrets.add(wrongPassword);
  const wrong = createConsumerClient({ url: server.url, authProvider: async () => Auth.basic(worker.user, wrongPassword), fetch: secretCollectingFetch() });
  await failure('wrong password consumeBatch', wrong.consumeBatch(request));
  await failure('wrong password query', wrong.query('SELECT 1'));
  await runUntilRejected('wrong password runConsumer', wrong);

  // 2. Forged and garbage JWTs.
  await runUntilRejected('forged JWT runConsumer', createConsumerClient({ url: server.url, authProvider: async () => Auth.jwt(forged) }));
  await failure('forged JWT query', createConsumerClient({ url: server.url, authProvider: Auth.jwt(forged) }).query('SELECT 1'));

  // 3. An expired token (1 s tokens, no leeway).
  const short = await startDevServer({ args: ['--jwt-expiry-secs', '1', '--jwt-leeway-secs', '0'] });
  tc.after(() => short.stop({ removeData: true }));
  const shortWorker = await createServiceUser(short, { password });
  const st = await setupTopic(short);
  const expired = (await short.login(shortWorker.user, password)).access_token;
  secrets.add(expired);
  await sleep(2100);
  await runUntilRejected('expired JWT runConsumer', createConsumerClient({ url: short.url, authProvider: async () => Auth.jwt(expired) }), st.topic);

  // 4. Refused connections, with a password and with a token.
  const closed = `http://127.0.0.1:${await closedPort()}`;
  await failure('refused basic', createConsumerClient({ url: closed, authProvider: async () => Auth.basic(worker.user, password) }).consumeBatch(request));
  await failure('refused JWT', createConsumerClient({ url: closed, authProvider: Auth.jwt(login.access_token) }).consumeBatch(request));
  await failure('refused JWT ack', createConsumerClient({ url: closed, authProvider: Auth.jwt(login.access_token) }).ack(t.topic, 'g', 0, 0));

  // 5. A provider that worked once, then throws an error quoting the password.
  let providerCalls = 0;
  const throwing = createConsumerClient({
    url: server.url,
    authProvider: async () => {
      providerCalls += 1;
      if (providerCalls === 1) return Auth.basic(worker.user, password);
      throw Object.assign(new Error(`vault refused: password=${password} for ${worker.user}`), { detail: `pw ${password}` });
    },
    fetch: secretCollectingFetch(),
    authProviderMaxAttempts: 1,
  });
  await throwing.consumeBatch(request);
  const providerError = await failure('provider throws with the password', throwing.login());
  assert.equal(providerError.code, 'AUTH_PROVIDER_ERROR');

  // 6. A URL with user info.
  await failure('URL with a password', (async () => createConsumerClient({ url: `http://${worker.user}:${password}@127.0.0.1:1`, authProvider: Auth.jwt('x-token') }))());

  // 7. Servers that are not kalam-devserver: a login "success" without an access token but with
  //    a refresh token, and a login error that echoes the request.
  const refreshOnly = `rt-${Math.random().toString(36).slice(2)}`;
  secrets.add(refreshOnly);
  const raw = await startRawServer((req, reply) => {
    if (req.path === '/echo/v1/api/auth/login') return reply.json(401, { error: 'unauthorized', message: `bad login: ${req.body}` });
    if (req.path === '/v1/api/auth/login') return reply.json(200, { refresh_token: refreshOnly, expires_at: '2099-01-01T00:00:00Z' });
    return reply.json(401, { status: 'error', error: { code: 'INVALID_CREDENTIALS', message: `got ${req.headers.authorization}` }, results: [] });
  });
  tc.after(() => raw.close());
  await failure('login 200 without access_token', createConsumerClient({ url: raw.url, authProvider: async () => Auth.basic('w', password) }).consumeBatch(request));
  await failure('login error echoing the body', createConsumerClient({ url: `${raw.url}/echo`, authProvider: async () => Auth.basic('w', password) }).consumeBatch(request));
  await failure('consume error echoing the Authorization header', createConsumerClient({ url: raw.url, authProvider: Auth.jwt(login.access_token) }).consumeBatch(request));
  await failure('SQL error echoing the Authorization header', createConsumerClient({ url: raw.url, authProvider: Auth.jwt(login.access_token) }).query('SELECT 1'));

  // The collection must be real: many errors, each with some text, and the server's words kept.
  assert.ok(collected.length >= 15, `${collected.length} errors collected`);
  assert.ok(collected.some(({ error }) => /401/.test(error.message)), 'the 401s are still described');
  assert.ok(collected.some(({ error }) => /connection refused/.test(error.message)), 'refused connections are still described');

  const leaks = [];
  for (const { label, error } of collected) {
    const text = everythingVisible(error);
    for (const secret of secrets) if (text.includes(secret)) leaks.push(`${label}: ${secret.slice(0, 6)}... in ${text.slice(0, 300)}`);
    if (/Bearer\s+(?!\[redacted\])\S{8,}/.test(text)) leaks.push(`${label}: an Authorization header value`);
  }
  for (const line of consoleLines) {
    for (const secret of secrets) if (line.includes(secret)) leaks.push(`console: ${secret.slice(0, 6)}... in ${line.slice(0, 300)}`);
  }
  assert.deepEqual(leaks, []);
});
