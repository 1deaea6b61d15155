// Errors carry their cause in words (issue 11 item 2): a refused connection used to surface as
// NETWORK_ERROR "fetch failed", with ECONNREFUSED only in err.cause.cause.code. Every request
// path (consume and ack through the wasm transport, login and SQL from TypeScript) must now
// say what happened in its message. No dev server needed: a closed port, an unresolvable
// name and a raw socket server stand in for the broken network.

import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { createConsumerClient, Auth, isKalamConsumerError } from '@kalamdb/consumer';
import { startRawServer } from './support/raw-server.mjs';

/** A port nothing listens on: bound by the OS, then released. */
async function closedPort() {
  const probe = net.createServer();
  await new Promise((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address();
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

const port = await closedPort();
const closedUrl = `http://127.0.0.1:${port}`;
// RFC 2606 reserves .invalid: it never resolves (or, offline, the lookup itself fails).
const invalidUrl = 'http://no-such-host.invalid:2900';
const request = { topic: 'app.events', group_id: 'g', start: 'earliest', batch_size: 1 };
// Paths under /drop lose their connection; everything else is read and never answered.
const raw = await startRawServer((req, reply) => (req.path.startsWith('/drop') ? reply.destroy() : reply.stall()));
after(() => raw.close());

function networkError(words) {
  return (error) => {
    assert.ok(isKalamConsumerError(error), `a typed error, got ${error}`);
    assert.equal(error.code, 'NETWORK_ERROR');
    assert.equal(error.kind, 'transient');
    assert.match(error.message, words);
    return true;
  };
}

describe('a closed port says "connection refused"', { concurrency: true }, () => {
  const jwtClient = createConsumerClient({ url: closedUrl, authProvider: Auth.jwt('token-for-a-closed-port') });

  test('consumeBatch (wasm transport) names the reason and the address', async () => {
    await assert.rejects(jwtClient.consumeBatch(request), networkError(new RegExp(`^consume failed: connection refused \\(127\\.0\\.0\\.1:${port}\\)$`)));
  });

  test('ack (wasm transport)', async () => {
    await assert.rejects(jwtClient.ack('app.events', 'g', 0, 3), networkError(/^ack failed: connection refused/));
  });

  test('the login of basic credentials (TypeScript fetch) names the endpoint and the reason', async () => {
    const basic = createConsumerClient({ url: closedUrl, authProvider: async () => Auth.basic('worker', 'pw-closed-port') });
    await assert.rejects(basic.consumeBatch(request), networkError(/\/v1\/api\/auth\/login failed: connection refused/));
  });

  test('SQL', async () => {
    await assert.rejects(jwtClient.query('SELECT 1'), networkError(/\/v1\/api\/sql failed: connection refused/));
  });
});

test('an unresolvable host says "host not found"', async () => {
  const client = createConsumerClient({ url: invalidUrl, authProvider: Auth.jwt('token-for-no-host') });
  await assert.rejects(client.consumeBatch(request), networkError(/^consume failed: host not found/));
  const basic = createConsumerClient({ url: invalidUrl, authProvider: Auth.basic('worker', 'pw-no-host') });
  await assert.rejects(basic.consumeBatch(request), networkError(/login failed: host not found/));
});

describe('a server that never answers, or drops the connection', { concurrency: true }, () => {

  test('a request past requestTimeoutMs says "timed out after N ms"', async () => {
    const client = createConsumerClient({ url: raw.url, authProvider: Auth.jwt('token-stall'), requestTimeoutMs: 300 });
    await assert.rejects(client.consumeBatch(request), networkError(/^consume request timed out after 300 ms$/));
    await assert.rejects(client.query('SELECT 1'), networkError(/timed out after 300 ms$/));
  });

  test('a connection closed without an answer says so', async () => {
    const drop = createConsumerClient({ url: `${raw.url}/drop`, authProvider: Auth.jwt('token-drop') });
    await assert.rejects(drop.consumeBatch(request), networkError(/^consume failed: (connection closed by the server|connection reset)/));
  });
});
