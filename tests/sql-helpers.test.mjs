// SQL helpers on the consumer client: query, queryOne, queryAll, executeAsUser, login,
// refreshToken, disconnect, and the sqlClient option.

import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createConsumerClient, Auth, isKalamConsumerError } from '@kalamdb/consumer';
import { useDevServer, createServiceUser, uniqueName, recordingFetch } from './support/devserver.mjs';
import { clientFor } from './support/consumer.mjs';

const server = await useDevServer();
const ns = uniqueName('ns');
await server.sql(`CREATE NAMESPACE ${ns}`);
await server.sql(`CREATE USER TABLE ${ns}.notes (id BIGINT PRIMARY KEY, body TEXT)`);
const root = clientFor(server, { user: 'root', password: server.rootPassword });

describe('SQL helpers', { concurrency: true }, () => {
  test('query returns the raw response: status, results[0] with schema, rows, named_rows, row_count, as_user', async () => {
    const res = await root.query('SELECT 1 AS one, $1 AS word', ['hi']);
    assert.equal(res.status, 'success');
    const [r] = res.results;
    assert.deepEqual(r.schema.map((c) => c.name), ['one', 'word']);
    assert.equal(r.row_count, 1);
    assert.deepEqual(r.named_rows, [{ one: '1', word: 'hi' }], 'BIGINT literal stays a string');
    assert.deepEqual(r.rows, [['1', 'hi']]);
    assert.equal(r.as_user, 'root');
  });

  test('queryOne returns the first row as an object, or null when there is none', async () => {
    const id = Date.now();
    await root.query(`INSERT INTO ${ns}.notes (id, body) VALUES ($1, $2)`, [id, 'one']);
    assert.deepEqual(await root.queryOne(`SELECT id, body FROM ${ns}.notes WHERE id = $1`, [id]), { id: String(id), body: 'one' });
    assert.equal(await root.queryOne(`SELECT id FROM ${ns}.notes WHERE id = $1`, [-1]), null);
  });

  test('queryAll returns every row of the first result as objects', async () => {
    const base = Date.now() * 10;
    for (let i = 0; i < 3; i += 1) await root.query(`INSERT INTO ${ns}.notes (id, body) VALUES ($1, $2)`, [base + i, `all-${i}`]);
    const rows = await root.queryAll(`SELECT body FROM ${ns}.notes WHERE id >= $1 ORDER BY id`, [base]);
    assert.deepEqual(rows, [{ body: 'all-0' }, { body: 'all-1' }, { body: 'all-2' }]);
    assert.deepEqual(await root.queryAll(`SELECT body FROM ${ns}.notes WHERE id = -1`), []);
  });

  test("executeAsUser quotes a user name containing a quote (o'brien) and runs as that user", async () => {
    const who = "o'brien";
    const ins = await root.executeAsUser(`INSERT INTO ${ns}.notes (id, body) VALUES ($1, $2)`, who, [42, 'irish']);
    assert.equal(ins.results[0].as_user, who);
    const theirs = await root.executeAsUser(`SELECT id, body FROM ${ns}.notes`, who);
    assert.deepEqual(theirs.results[0].named_rows, [{ id: '42', body: 'irish' }], "o'brien sees their own row");
    assert.equal(await root.queryOne(`SELECT id FROM ${ns}.notes WHERE id = 42`), null, "root does not see o'brien's USER-table row");
  });

  test('executeAsUser cannot be escaped by a crafted user name', async () => {
    const who = "x') (SELECT 1";
    const res = await root.executeAsUser('SELECT 1 AS one', who);
    assert.equal(res.results[0].as_user, who, 'the whole name is one quoted literal');
  });

  test('executeAsUser strips a trailing semicolon', async () => {
    const res = await root.executeAsUser('SELECT 2 AS two;', 'semi');
    assert.equal(res.results[0].as_user, 'semi');
    assert.deepEqual(res.results[0].named_rows, [{ two: '2' }]);
  });

  test('a SQL error rejects with a typed Error carrying the server code, not a string', async () => {
    await assert.rejects(root.query('SELEC nonsense'), (err) => {
      assert.ok(err instanceof Error, `an Error, got ${typeof err}`);
      assert.ok(isKalamConsumerError(err));
      assert.equal(err.code, 'INVALID_SQL');
      assert.equal(err.status, 400);
      return true;
    });
  });

  test('SQL runs with the client identity: a service worker writes its own USER-table rows', async () => {
    const w = await createServiceUser(server);
    const wc = clientFor(server, w);
    await wc.query(`INSERT INTO ${ns}.notes (id, body) VALUES ($1, $2)`, [7, 'mine']);
    assert.deepEqual(await wc.queryAll(`SELECT id, body FROM ${ns}.notes`), [{ id: '7', body: 'mine' }]);
    const res = await wc.query('SELECT 1 AS one');
    assert.equal(res.results[0].as_user, w.user);
  });

  test('login() posts to /auth/login; refreshToken() and disconnect() resolve; SQL still works after login', async () => {
    const rec = recordingFetch();
    const c = clientFor(server, { user: 'root', password: server.rootPassword }, { fetch: rec.fetch });
    await c.login();
    assert.ok(rec.logins.length >= 1, 'login() logged in');
    await c.refreshToken();
    assert.ok(rec.refreshes.length + rec.logins.length >= 2, 'refreshToken() obtained a new token');
    assert.equal((await c.queryOne('SELECT 3 AS three')).three, '3');
    await c.disconnect();
  });

  test('sqlClient option: SQL goes through the given client (an @kalamdb/client look-alike), never through /v1/api/sql', async () => {
    const rec = recordingFetch();
    const calls = [];
    // What @kalamdb/client's query() resolves with: named_rows per result (§8).
    const response = (sql) => ({
      status: 'success',
      results: [{ schema: [{ name: 'from', data_type: 'Text', index: 0 }], named_rows: [{ from: 'shared' }], row_count: 1, as_user: 'x', sql }],
      took: 0.1,
    });
    const sqlClient = {
      query: async (sql, params) => { calls.push(['query', sql, params]); return response(sql); },
      queryOne: async (sql, params) => { calls.push(['queryOne', sql, params]); return { from: 'shared' }; },
      queryAll: async (sql, params) => { calls.push(['queryAll', sql, params]); return [{ from: 'shared' }]; },
      executeAsUser: async (sql, user, params) => { calls.push(['executeAsUser', sql, user, params]); return response(sql); },
    };
    const c = createConsumerClient({ url: server.url, authProvider: async () => Auth.basic('root', server.rootPassword), sqlClient, fetch: rec.fetch });
    assert.deepEqual(await c.queryOne('SELECT 1', [1]), { from: 'shared' });
    assert.deepEqual(await c.queryAll('SELECT 2'), [{ from: 'shared' }]);
    assert.equal((await c.query('SELECT 3')).status, 'success');
    await c.executeAsUser("SELECT 4", "o'brien", [4]);
    const sqls = calls.map((x) => x[1]);
    assert.ok(sqls.includes('SELECT 1') && sqls.includes('SELECT 2') && sqls.includes('SELECT 3'), `every helper used the sqlClient: ${JSON.stringify(calls)}`);
    const viaWrapper = calls.some((x) => x[0] === 'query' && x[1] === "EXECUTE AS USER 'o''brien' (SELECT 4)");
    const viaMethod = calls.some((x) => x[0] === 'executeAsUser' && x[1] === 'SELECT 4' && x[2] === "o'brien");
    assert.ok(viaWrapper || viaMethod, `executeAsUser reached the sqlClient, safely quoted: ${JSON.stringify(calls)}`);
    assert.equal(rec.sqls.length, 0, 'no /v1/api/sql request from the consumer client');
    assert.equal(rec.logins.length, 0, 'no login just for SQL');
  });
});
