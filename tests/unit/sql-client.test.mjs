// SQL helpers over an injected `sqlClient` (the @kalamdb/client sharing path): no server needed,
// the fake records the SQL it receives.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createConsumerClient, Auth, isKalamConsumerError } from '@kalamdb/consumer';

function fakeSqlClient(respond) {
  const calls = [];
  return {
    calls,
    async query(sql, params) {
      calls.push({ sql, params });
      return respond(sql, params);
    },
  };
}

const SELECT_RESPONSE = {
  status: 'success',
  results: [{ schema: [{ name: 'id', data_type: 'BigInt', index: 0 }, { name: 'body', data_type: 'Text', index: 1 }], rows: [['1', 'a'], ['2', 'b']], row_count: 2, as_user: 'w' }],
  took: 1,
};

function clientWith(sqlClient) {
  return createConsumerClient({ url: 'http://127.0.0.1:1', authProvider: Auth.basic('w', 'p'), sqlClient });
}

test('query adds named_rows built from schema + rows and keeps rows', async () => {
  const sql = fakeSqlClient(() => structuredClone(SELECT_RESPONSE));
  const response = await clientWith(sql).query('SELECT id, body FROM t', []);
  assert.deepEqual(response.results[0].named_rows, [{ id: '1', body: 'a' }, { id: '2', body: 'b' }]);
  assert.deepEqual(response.results[0].rows, [['1', 'a'], ['2', 'b']]);
  assert.equal(sql.calls[0].sql, 'SELECT id, body FROM t');
});

test('queryOne / queryAll return row objects (null / [] when there are none)', async () => {
  const client = clientWith(fakeSqlClient((s) => (s.includes('none') ? { status: 'success', results: [{ row_count: 0 }] } : structuredClone(SELECT_RESPONSE))));
  assert.deepEqual(await client.queryOne('SELECT 1'), { id: '1', body: 'a' });
  assert.deepEqual(await client.queryAll('SELECT 1'), [{ id: '1', body: 'a' }, { id: '2', body: 'b' }]);
  assert.equal(await client.queryOne('SELECT none'), null);
  assert.deepEqual(await client.queryAll('SELECT none'), []);
});

test('named_rows from an @kalamdb/client response (rows already removed) are used as they are', async () => {
  const client = clientWith(fakeSqlClient(() => ({ status: 'success', results: [{ named_rows: [{ n: '3' }], row_count: 1 }] })));
  assert.deepEqual(await client.queryOne('SELECT COUNT(*) AS n FROM t'), { n: '3' });
});

test("executeAsUser wraps the statement, doubles quotes and drops trailing semicolons", async () => {
  const sql = fakeSqlClient(() => ({ status: 'success', results: [{ row_count: 1 }] }));
  const client = clientWith(sql);
  await client.executeAsUser('INSERT INTO app.t (body) VALUES ($1);  ;', "o'brien", ['x']);
  assert.equal(sql.calls[0].sql, "EXECUTE AS USER 'o''brien' (INSERT INTO app.t (body) VALUES ($1))");
  assert.deepEqual(sql.calls[0].params, ['x']);
  await assert.rejects(client.executeAsUser('SELECT 1', ''), (e) => isKalamConsumerError(e) && e.code === 'INVALID_OPTION');
});

test('a string rejection (what @kalamdb/client throws) becomes a KalamConsumerError with the server code', async () => {
  const body = JSON.stringify({ status: 'error', results: [], error: { code: 'SQL_EXECUTION_ERROR', message: 'Statement 1 failed: Primary key violation' } });
  const client = clientWith({ query: async () => { throw body; } });
  await assert.rejects(client.query('INSERT ...'), (e) => {
    assert.ok(e instanceof Error, 'an Error, not a string');
    assert.ok(isKalamConsumerError(e));
    assert.equal(e.code, 'SQL_EXECUTION_ERROR');
    assert.match(e.message, /Primary key violation/);
    assert.equal(e.body, body);
    return true;
  });
});

test('a resolved status:"error" response is an error too', async () => {
  const client = clientWith(fakeSqlClient(() => ({ status: 'error', results: [], error: { code: 'INVALID_SQL', message: 'bad' } })));
  await assert.rejects(client.query('SELEC'), (e) => isKalamConsumerError(e) && e.code === 'INVALID_SQL');
});

test('bad sqlClient and params are typed INVALID_OPTION errors', async () => {
  assert.throws(() => clientWith({}), (e) => isKalamConsumerError(e) && e.code === 'INVALID_OPTION');
  const client = clientWith(fakeSqlClient(() => SELECT_RESPONSE));
  await assert.rejects(client.query(''), (e) => e.code === 'INVALID_OPTION');
  await assert.rejects(client.query('SELECT 1', 'x'), (e) => e.code === 'INVALID_OPTION');
});
