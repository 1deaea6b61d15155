// The SQL helpers say when a SELECT answer may have been cut by the server's caps
// (docs/PROTOCOL.md §11: 50 rows without LIMIT, 1,000 with one, nothing in the answer says so).
// kalam-devserver caps the same way (--default-query-limit, --max-query-limit).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createConsumerClient, Auth } from '@kalamdb/consumer';
import { useDevServer, uniqueName } from './support/devserver.mjs';

const server = await useDevServer();
const ns = uniqueName('caps');
await server.sql(`CREATE NAMESPACE ${ns}`);
await server.sql(`CREATE SHARED TABLE ${ns}.items (id BIGINT PRIMARY KEY, body TEXT)`);
const values = Array.from({ length: 60 }, (_, i) => `(${i}, 'row ${i}')`).join(', ');
await server.sql(`INSERT INTO ${ns}.items (id, body) VALUES ${values}`);

function clientWithLog() {
  const lines = [];
  const logger = { debug() {}, info() {}, warn: (m) => lines.push(m), error: (m) => lines.push(m) };
  const client = createConsumerClient({ url: server.url, authProvider: () => Auth.basic('root', server.rootPassword), logger });
  return { client, lines };
}

test('a SELECT without LIMIT answered with exactly 50 rows is warned about, with the way out', async () => {
  const { client, lines } = clientWithLog();
  const rows = await client.queryAll(`SELECT id FROM ${ns}.items`);
  assert.equal(rows.length, 50, 'the server capped the answer at default_query_limit');
  assert.equal(lines.length, 1);
  assert.match(lines[0], /exactly 50 rows/);
  assert.match(lines[0], /may be cut short/);
  assert.match(lines[0], /ORDER BY \+ LIMIT\/OFFSET/);
});

test('an answer below the cap, a LIMIT under 1,000 and a COUNT(*) are not warned about', async () => {
  const { client, lines } = clientWithLog();
  assert.equal((await client.queryAll(`SELECT id FROM ${ns}.items WHERE id < 10`)).length, 10);
  assert.equal((await client.queryAll(`SELECT id FROM ${ns}.items ORDER BY id LIMIT 55`)).length, 55);
  assert.deepEqual(await client.queryOne(`SELECT COUNT(*) AS n FROM ${ns}.items`), { n: '60' });
  assert.deepEqual(lines, []);
});

test('logger: false silences the warning, and ctx-style query() warns too', async () => {
  const silent = createConsumerClient({ url: server.url, authProvider: () => Auth.basic('root', server.rootPassword), logger: false });
  assert.equal((await silent.queryAll(`SELECT id FROM ${ns}.items`)).length, 50);
  const { client, lines } = clientWithLog();
  const response = await client.query(`SELECT body FROM ${ns}.items`);
  assert.equal(response.results[0].row_count, 50);
  assert.equal(lines.length, 1);
});
