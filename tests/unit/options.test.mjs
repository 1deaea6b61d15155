// Option validation that needs no server: typed errors thrown before any request.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createConsumerClient, Auth, runConsumer, runAgent, KalamConsumerError, isKalamConsumerError, TopicOp, VERSION } from '@kalamdb/consumer';

// Any fetch call is a test failure: validation must happen first.
const fetch = async (url) => { throw new Error(`unexpected request to ${url}`); };
const client = createConsumerClient({ url: 'http://127.0.0.1:1', authProvider: Auth.basic('w', 'p'), fetch });

function invalid(code = 'INVALID_OPTION') {
  return (e) => {
    assert.ok(e instanceof KalamConsumerError, `KalamConsumerError, got ${e}`);
    assert.equal(e.code, code, e.message);
    assert.equal(e.kind, 'permanent');
    return true;
  };
}

test('createConsumerClient rejects non-http URLs and a missing authProvider', () => {
  for (const url of ['ftp://h', 'ws://h:1', 'nope', '', undefined]) {
    assert.throws(() => createConsumerClient({ url, authProvider: Auth.basic('a', 'b') }), invalid('INVALID_URL'), String(url));
  }
  assert.throws(() => createConsumerClient({ url: 'http://h' }), invalid());
  assert.throws(() => createConsumerClient({ url: 'http://h', authProvider: Auth.basic('a', 'b'), requestTimeoutMs: 0 }), invalid());
});

test('the url keeps its path and loses trailing slashes', () => {
  const c = createConsumerClient({ url: 'https://db.example.com/kalam//', authProvider: Auth.jwt('t') });
  assert.equal(c.url, 'https://db.example.com/kalam');
});

test('consumeBatch and ack validate before any request', async () => {
  const good = { topic: 'app.t', group_id: 'g' };
  for (const bad of [{ topic: '' }, { topic: '  ' }, { group_id: '' }, { batch_size: 0 }, { batch_size: 1.5 }, { partition_id: -1 }, { start: 'soon' }, { start: { at: 1 } }, { timeout_seconds: -1 }]) {
    await assert.rejects(client.consumeBatch({ ...good, ...bad }), invalid(), JSON.stringify(bad));
  }
  await assert.rejects(client.ack('', 'g', 0, 1), invalid());
  await assert.rejects(client.ack('t', 'g', 0, -1), invalid());
  await assert.rejects(client.ack('t', 'g', 0), invalid());
});

test('consumer() validates at creation', () => {
  assert.throws(() => client.consumer({ topic: '', group_id: 'g' }), invalid());
  assert.throws(() => client.consumer({ topic: 't', group_id: 'g', batch_size: -1 }), invalid());
});

test('runConsumer / runAgent reject bad options before any request', async () => {
  const base = { client, name: 'n', topic: 'app.t', groupId: 'g', onChange: async () => {} };
  for (const bad of [{ name: '' }, { topic: '' }, { groupId: ' ' }, { batchSize: 0 }, { partitions: [] }, { partitions: [0, 0] }, { partitions: [-1] }, { start: 'yesterday' }, { onChange: undefined }, { client: {} }, { retry: { maxAttempts: 0 } }, { connectionRetry: { maxBackoffMs: 1, initialBackoffMs: 5 } }, { idleBackoff: { initialMs: 10, maxMs: 5 } }, { llm: {} }]) {
    await assert.rejects(runConsumer({ ...base, ...bad }), invalid(), JSON.stringify(Object.keys(bad)));
  }
  const origWarn = console.warn;
  console.warn = () => {};
  try {
    await assert.rejects(runAgent({ client, name: 'n', topic: 'app.t', groupId: 'g' }), invalid());
  } finally {
    console.warn = origWarn;
  }
});

test('an already aborted stopSignal resolves at once without requests', async () => {
  await runConsumer({ client, name: 'n', topic: 'app.t', groupId: 'g', stopSignal: AbortSignal.abort(), onChange: async () => {} });
});

test('a provider returning something that is not credentials is a typed error', async () => {
  const c = createConsumerClient({ url: 'http://127.0.0.1:1', authProvider: async () => ({ user: 'x' }), fetch });
  await assert.rejects(c.consumeBatch({ topic: 't', group_id: 'g' }), invalid());
});

test('exports: Auth shapes, TopicOp values, error guard, version', () => {
  assert.deepEqual(Auth.basic('u', 'p'), { type: 'basic', user: 'u', password: 'p' });
  assert.deepEqual(Auth.jwt('t'), { type: 'jwt', token: 't' });
  assert.deepEqual({ ...TopicOp }, { Insert: 'Insert', Update: 'Update', Delete: 'Delete' });
  const plain = Object.assign(new Error('x'), { name: 'KalamConsumerError', code: 'NETWORK_ERROR' });
  assert.equal(isKalamConsumerError(plain), true, 'a raw wasm error is recognised');
  assert.equal(isKalamConsumerError(new Error('x')), false);
  assert.equal(isKalamConsumerError('string'), false);
  assert.match(VERSION, /^\d+\.\d+\.\d+/);
});

test('the client is disposable', () => {
  const c = createConsumerClient({ url: 'http://127.0.0.1:1', authProvider: Auth.jwt('t') });
  assert.equal(typeof c[Symbol.dispose], 'function');
  c[Symbol.dispose]();
});
