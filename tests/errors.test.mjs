// Errors: bad options fail fast with typed errors, permanent server errors reject
// runConsumer, and broken responses (raw socket server) are retried instead of crashing.

import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { createConsumerClient, Auth, runConsumer, isKalamConsumerError } from '@kalamdb/consumer';
import { useDevServer, setupTopic, createServiceUser, uniqueName, within, waitFor } from './support/devserver.mjs';
import { clientFor, insertRows, fastRunOptions } from './support/consumer.mjs';
import { startRawServer, loginBody, wireMessage } from './support/raw-server.mjs';

const server = await useDevServer();
const worker = await createServiceUser(server);
const userRole = await createServiceUser(server, { role: 'user' });
const t = await setupTopic(server);
await insertRows(server, t.table, [{ id: 1, body: 'a' }]);

// A socket server that records every request: bad options must not reach it.
const witness = await startRawServer((req, reply) => {
  if (req.path === '/v1/api/auth/login') return reply.json(200, loginBody());
  return reply.json(200, { messages: [], next_offset: 0, has_more: false });
});
after(() => witness.close());

function isInvalid(code) {
  return (err) => {
    assert.ok(err instanceof Error, `an Error, got ${typeof err}: ${err}`);
    assert.ok(isKalamConsumerError(err), `a KalamConsumerError, got ${err?.name}: ${err?.message}`);
    assert.equal(err.code, code, `code (${err.message})`);
    assert.equal(err.kind, 'permanent');
    return true;
  };
}

describe('bad options throw typed errors before any request', () => {
  const client = clientFor(witness, { user: 'worker', password: 'x' });
  const good = { topic: 'app.events', group_id: 'g', start: 'earliest', batch_size: 10, partition_id: 0 };
  const cases = [
    ['consumeBatch with an empty topic', () => client.consumeBatch({ ...good, topic: '' })],
    ['consumeBatch with a blank topic', () => client.consumeBatch({ ...good, topic: '   ' })],
    ['consumeBatch with an empty group_id', () => client.consumeBatch({ ...good, group_id: '' })],
    ['consumeBatch with batch_size 0', () => client.consumeBatch({ ...good, batch_size: 0 })],
    ['consumeBatch with a negative batch_size', () => client.consumeBatch({ ...good, batch_size: -5 })],
    ['consumeBatch with an unknown start string', () => client.consumeBatch({ ...good, start: 'sometimes' })],
    ['consumeBatch with an unknown start object', () => client.consumeBatch({ ...good, start: { at: 3 } })],
    ['ack with an empty topic', () => client.ack('', 'g', 0, 1)],
    ['ack with an empty group', () => client.ack('app.events', '', 0, 1)],
    ['consumer() with an empty topic', async () => {
      const handle = client.consumer({ ...good, topic: '' });
      const timer = setTimeout(() => handle.stop(), 3000); // if validation is missing, do not hang
      try { await handle.run(async () => {}); } finally { clearTimeout(timer); }
    }],
    ['runConsumer with an empty topic', () => runConsumer({ ...fastRunOptions(), stopSignal: AbortSignal.timeout(3000), client, name: 'x', topic: '', groupId: 'g', onChange: async () => {} })],
    ['runConsumer with an empty groupId', () => runConsumer({ ...fastRunOptions(), stopSignal: AbortSignal.timeout(3000), client, name: 'x', topic: 'app.events', groupId: '', onChange: async () => {} })],
    ['runConsumer with batchSize 0', () => runConsumer({ ...fastRunOptions(), stopSignal: AbortSignal.timeout(3000), client, name: 'x', topic: 'app.events', groupId: 'g', batchSize: 0, onChange: async () => {} })],
    ['runConsumer with an unknown start', () => runConsumer({ ...fastRunOptions(), stopSignal: AbortSignal.timeout(3000), client, name: 'x', topic: 'app.events', groupId: 'g', start: 'yesterday', onChange: async () => {} })],
  ];
  for (const [name, call] of cases) {
    test(`${name} -> INVALID_OPTION, no request sent`, async () => {
      const before = witness.requests.length;
      await assert.rejects(async () => call(), isInvalid('INVALID_OPTION'));
      assert.equal(witness.requests.length, before, 'no request reached the server');
    });
  }

  test('a non-http URL -> INVALID_URL, no request sent', async () => {
    for (const url of ['ftp://127.0.0.1:1', 'ws://127.0.0.1:1', 'not a url']) {
      await assert.rejects(async () => {
        const c = createConsumerClient({ url, authProvider: async () => Auth.basic('u', 'p') });
        await c.consumeBatch(good);
      }, isInvalid('INVALID_URL'), url);
    }
  });
});

describe('permanent server errors reject with typed errors', { concurrency: true }, () => {
  test('runConsumer on a topic that does not exist rejects with NOT_FOUND (404)', async () => {
    const client = clientFor(server, worker);
    let delivered = 0;
    await assert.rejects(
      within(20_000, runConsumer({
        ...fastRunOptions(), client, name: 'missing', topic: `${t.ns}.nope`, groupId: uniqueName('g'),
        onChange: async () => { delivered += 1; },
      }), 'runConsumer on a missing topic'),
      (err) => {
        assert.ok(isKalamConsumerError(err), `typed error, got ${err}`);
        assert.equal(err.status, 404);
        assert.equal(err.code, 'NOT_FOUND');
        assert.equal(err.kind, 'permanent');
        assert.match(err.message, /nope/, 'the message names the topic');
        return true;
      },
    );
    assert.equal(delivered, 0);
  });

  test('consumeBatch on a topic that does not exist rejects with NOT_FOUND (404)', async () => {
    const client = clientFor(server, worker);
    await assert.rejects(
      client.consumeBatch({ topic: `${t.ns}.nope`, group_id: 'g', start: 'earliest', batch_size: 1 }),
      (err) => isKalamConsumerError(err) && err.status === 404 && err.code === 'NOT_FOUND',
    );
  });

  test('runConsumer as a role-user account rejects with FORBIDDEN (403)', async () => {
    const client = clientFor(server, userRole);
    await assert.rejects(
      within(20_000, runConsumer({
        ...fastRunOptions(), client, name: 'forbidden', topic: t.topic, groupId: uniqueName('g'),
        onChange: async () => {},
      }), 'runConsumer as a role-user account'),
      (err) => {
        assert.ok(isKalamConsumerError(err), `typed error, got ${err}`);
        assert.equal(err.status, 403);
        assert.equal(err.code, 'FORBIDDEN');
        assert.equal(err.kind, 'permanent');
        return true;
      },
    );
  });

  test('ack as a role-user account rejects with FORBIDDEN (403)', async () => {
    const client = clientFor(server, userRole);
    await assert.rejects(client.ack(t.topic, 'g', 0, 0), (err) => isKalamConsumerError(err) && err.status === 403 && err.code === 'FORBIDDEN');
  });
});

// Each scenario: the first consume gets a broken response, the next one a real message.
const BROKEN = {
  'a truncated JSON body': (reply) => reply.truncated(200, JSON.stringify({ messages: [wireMessage({ topic: 'app.events', offset: 0, row: { id: '1' } })], next_offset: 1, has_more: false }), 25),
  'an HTML 502 from a proxy': (reply) => reply.send(502, '<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center></body></html>', { 'Content-Type': 'text/html' }),
  'a stalled connection': (reply) => reply.stall(),
  'garbage bytes instead of HTTP': (reply) => reply.garbage(),
};

async function brokenThenGood(breakIt) {
  let consumes = 0;
  return startRawServer((req, reply) => {
    if (req.path === '/v1/api/auth/login') return reply.json(200, loginBody());
    if (req.path === '/v1/api/topics/ack') return reply.json(200, { success: true, acknowledged_offset: req.json?.upto_offset });
    if (req.path === '/v1/api/topics/consume') {
      // A `limit: 0` probe answers the start position: the group never committed (§3.5).
      if (req.json?.limit === 0) return reply.json(200, { messages: [], next_offset: 0, has_more: true });
      consumes += 1;
      if (consumes === 1) return breakIt(reply);
      if (consumes === 2) {
        return reply.json(200, { messages: [wireMessage({ topic: 'app.events', offset: 0, row: { id: '1', body: 'survived' }, key: '1' })], next_offset: 1, has_more: false });
      }
      return reply.json(200, { messages: [], next_offset: 1, has_more: false });
    }
    return reply.json(404, { error: 'no route', code: 'NOT_FOUND' });
  });
}

describe('broken responses are transient: typed errors from consumeBatch, retried by runConsumer', { concurrency: true }, () => {
  for (const [what, breakIt] of Object.entries(BROKEN)) {
    test(`consumeBatch given ${what} rejects with a transient KalamConsumerError`, async (tc) => {
      const raw = await brokenThenGood(breakIt);
      tc.after(() => raw.close());
      const client = clientFor(raw, { user: 'worker', password: 'x' }, { requestTimeoutMs: what === 'a stalled connection' ? 300 : 10_000 });
      await assert.rejects(
        within(10_000, client.consumeBatch({ topic: 'app.events', group_id: 'g', start: 'earliest', batch_size: 10 }), 'consumeBatch'),
        (err) => {
          assert.ok(isKalamConsumerError(err), `typed error, got ${err}`);
          assert.equal(err.kind, 'transient');
          if (what.includes('502')) {
            assert.equal(err.status, 502);
            assert.match(err.body ?? '', /502 Bad Gateway/, 'the raw body is kept');
          }
          return true;
        },
      );
    });

    test(`runConsumer given ${what} retries and then processes the message`, async (tc) => {
      const raw = await brokenThenGood(breakIt);
      tc.after(() => raw.close());
      const client = clientFor(raw, { user: 'worker', password: 'x' }, { requestTimeoutMs: what === 'a stalled connection' ? 300 : 10_000 });
      const bodies = [];
      const controller = new AbortController();
      let rejected;
      const running = runConsumer({
        ...fastRunOptions(), client, name: 'survivor', topic: 'app.events', groupId: 'g', stopSignal: controller.signal,
        onChange: async (_ctx, change) => { bodies.push(change.data.body); },
        onError: () => {},
      });
      running.catch((err) => { rejected = err; });
      try {
        // A consume may be held for requestTimeoutMs + timeout_seconds (a long-polling server
        // is allowed that long; the runtime sends 10 s by default), so a stall costs ~10.3 s.
        await waitFor(() => rejected || raw.to('/v1/api/topics/ack').length > 0, { message: 'the ack after recovery', timeoutMs: 25_000 });
      } finally {
        controller.abort();
        await within(10_000, running.catch(() => {}), 'runConsumer after stopSignal');
      }
      assert.equal(rejected, undefined, `runConsumer must not reject on ${what}`);
      assert.deepEqual(bodies, ['survived']);
      assert.equal(raw.to('/v1/api/topics/ack')[0].json.upto_offset, 0);
    });
  }
});
