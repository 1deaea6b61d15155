// End-to-end tests of the topic inspector page (examples/topic-inspector) in headless chromium,
// against a real kalam-devserver: log in, live rows in order, peek without acking, ack up to
// here, filters, error messages, a screenshot, and a Vite production build of the page.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { committedOffsets, createServiceUser, repoRoot, setupTopic, uniqueName, useDevServer } from '../support/devserver.mjs';
import { Auth, createConsumerClient } from '@kalamdb/consumer';
import { startStaticServer } from '../../examples/topic-inspector/static-server.mjs';
import { launchChromium } from './browser.mjs';
import { distinctPixelBytes } from './screenshot.mjs';

const server = await useDevServer({ args: ['--bcrypt-cost', '4', '--auth-rate-limit', '0'] });
const artifacts = join(repoRoot, 'tests', 'artifacts');
let browser;
let page;
let site;

before(async () => {
  browser = await launchChromium();
  site = await startStaticServer();
});
after(async () => {
  await browser?.close();
  await site?.close();
});

async function openPage(url = site.url) {
  page?.close().catch(() => {});
  page = await browser.newPage();
  await page.goto(`${url}/`);
  return page;
}

/** Fills the connect form and submits it. */
async function connect({ url = server.url, user = 'root', password = server.rootPassword, token = '', topic, group, partitions = '0', peek = false }) {
  await page.fill('#url', url);
  await page.fill('#user', user);
  await page.fill('#password', password);
  await page.fill('#token', token);
  await page.fill('#topic', topic);
  await page.fill('#group', group);
  await page.fill('#partitions', partitions);
  await page.setChecked('#peek', peek);
  await page.click('#connect');
}

async function shownOffsets() {
  return page.$$eval('#messages tbody tr:not(.hidden)', (rows) => rows.map((row) => Number(row.dataset.offset)));
}

async function waitForRows(count) {
  await page.waitForFunction((n) => document.querySelectorAll('#messages tbody tr').length >= n, count, { timeout: 15_000 });
}

/** The lag table's rows as text cells, e.g. [['0', '1', '2', '1']]. */
async function lagTable() {
  return page.$$eval('#lag tbody tr', (rows) => rows.map((row) => [...row.children].map((cell) => cell.textContent)));
}

/** Waits until the lag table reads `expected`: rows joined by '|', cells by spaces. */
async function waitForLag(expected) {
  try {
    await page.waitForFunction(
      (want) => [...document.querySelectorAll('#lag tbody tr')].map((row) => [...row.children].map((cell) => cell.textContent).join(' ')).join('|') === want,
      expected,
      { timeout: 10_000 },
    );
  } catch (error) {
    throw new Error(`lag table ${JSON.stringify(await lagTable())}, expected ${expected}: ${error.message}`);
  }
}

async function newTopic() {
  return setupTopic(server, { kind: 'shared', columns: 'id BIGINT PRIMARY KEY, name TEXT', ops: ['insert', 'update', 'delete'] });
}

describe('topic inspector page', () => {
  test('shows rows inserted through SQL as they arrive, in offset order, with decoded payloads', async () => {
    const { table, topic } = await newTopic();
    await openPage();
    await connect({ topic, group: uniqueName('g') });
    await page.waitForFunction(() => document.querySelector('#status').textContent.startsWith('Watching'));
    await server.sql(`INSERT INTO ${table} (id, name) VALUES (1, 'one'), (2, 'two')`);
    await server.sql(`UPDATE ${table} SET name = 'two again' WHERE id = 2`);
    await server.sql(`DELETE FROM ${table} WHERE id = 1`);
    await waitForRows(4);
    assert.deepEqual(await shownOffsets(), [0, 1, 2, 3]);
    const ops = await page.$$eval('#messages tbody tr td:nth-child(3)', (cells) => cells.map((cell) => cell.textContent));
    assert.deepEqual(ops, ['Insert', 'Insert', 'Update', 'Delete']);
    const payload = JSON.parse(await page.textContent('#messages tbody tr:nth-child(3) pre'));
    assert.equal(payload.name, 'two again');
    assert.equal(payload.id, '2', 'BIGINT arrives as a string, as the server sends it');

    mkdirSync(artifacts, { recursive: true });
    const png = await page.screenshot({ fullPage: true });
    writeFileSync(join(artifacts, 'inspector.png'), png);
    assert.ok(distinctPixelBytes(png) > 20, 'the screenshot is not a blank page');
  });

  test('a pasted JWT logs in without a password', async () => {
    const { table, topic } = await newTopic();
    await server.sql(`INSERT INTO ${table} (id, name) VALUES (5, 'by token')`);
    const { access_token: token } = await server.login();
    await openPage();
    await connect({ topic, group: uniqueName('g'), user: '', password: '', token });
    await waitForRows(1);
    assert.equal(JSON.parse(await page.textContent('#messages tbody tr:nth-child(1) pre')).name, 'by token');
    assert.equal(await page.isHidden('#error'), true);
  });

  test('filters rows by op and by user without losing them', async () => {
    const { table, topic } = await newTopic();
    await server.sql(`INSERT INTO ${table} (id, name) VALUES (1, 'a'), (2, 'b')`);
    await server.sql(`DELETE FROM ${table} WHERE id = 2`);
    await openPage();
    await connect({ topic, group: uniqueName('g') });
    await waitForRows(3);
    await page.selectOption('#filter-op', 'Delete');
    assert.deepEqual(await shownOffsets(), [2]);
    await page.selectOption('#filter-op', '');
    await page.fill('#filter-user', 'nobody');
    assert.deepEqual(await shownOffsets(), [], 'shared-table messages carry no user');
    await page.fill('#filter-user', '');
    assert.deepEqual(await shownOffsets(), [0, 1, 2]);
  });

  test('peek mode reads with a throwaway group and never commits the watched group', async () => {
    const { table, topic } = await newTopic();
    const group = uniqueName('g');
    await server.sql(`INSERT INTO ${table} (id, name) VALUES (1, 'a'), (2, 'b'), (3, 'c')`);
    await openPage();
    await connect({ topic, group, peek: true });
    await waitForRows(3);
    assert.equal(await page.isDisabled('#messages tbody tr:nth-child(1) button.ack'), true);
    // The offsets refresh once a second (and a refresh now also measures lag): wait for one.
    await page.waitForFunction(() => document.querySelector('#committed').textContent === 'none yet', null, { timeout: 10_000 });
    assert.deepEqual(await committedOffsets(server, topic, group), {}, 'nothing committed for the watched group');
    const all = await server.rows('SELECT group_id FROM system.topic_offsets WHERE topic_id = $1', [topic]);
    assert.deepEqual(all, [], 'the throwaway group committed nothing either');
  });

  test('"ack up to here" commits that offset for the group, shown on the page and in system.topic_offsets', async () => {
    const { table, topic } = await newTopic();
    const group = uniqueName('g');
    await server.sql(`INSERT INTO ${table} (id, name) VALUES (1, 'a'), (2, 'b'), (3, 'c')`);
    await openPage();
    await connect({ topic, group });
    await waitForRows(3);
    await page.click('#messages tbody tr:nth-child(2) button.ack');
    await page.waitForFunction(() => document.querySelector('#committed').textContent === 'p0: 1', null, { timeout: 10_000 });
    const offsets = await committedOffsets(server, topic, group);
    assert.equal(Number(offsets[0]), 1);
  });

  test('shows lag per partition for the group, read from system tables by a system account', async () => {
    const { table, topic } = await newTopic();
    const group = uniqueName('g');
    await server.sql(`INSERT INTO ${table} (id, name) VALUES (1, 'a'), (2, 'b'), (3, 'c')`);
    await openPage();
    await connect({ topic, group });
    await waitForRows(3);
    await page.click('#messages tbody tr:nth-child(2) button.ack');
    await waitForLag('0 1 2 1');
    assert.match(await page.textContent('#lag-note'), /is 1 behind in total \(committed offsets read from system\.topic_offsets\)/);
    await server.sql(`INSERT INTO ${table} (id, name) VALUES (4, 'd'), (5, 'e')`);
    await waitForLag('0 1 4 3');
  });

  test('a service account sees lag on every listed partition through consume probes', async () => {
    const { table, topic } = await setupTopic(server, { kind: 'shared', columns: 'id TEXT PRIMARY KEY, name TEXT', partitions: 2 });
    const worker = await createServiceUser(server);
    const group = uniqueName('g');
    for (const id of ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h']) await server.sql(`INSERT INTO ${table} (id, name) VALUES ('${id}', '${id}')`);
    await openPage();
    await connect({ topic, group, user: worker.user, password: worker.password, partitions: '0, 1' });
    await waitForRows(8);
    // Partition 0 holds b, c, e, g and partition 1 a, d, f, h (docs/PROTOCOL.md §11): offsets 0..3 each.
    await page.click('#messages tbody tr[data-partition="1"][data-offset="0"] button.ack');
    await waitForLag('0 – 3 4|1 0 3 3');
    assert.match(await page.textContent('#lag-note'), /is 7 behind in total \(committed offsets probed with limit-0 consumes\)/);
    assert.equal(await page.textContent('#committed'), 'p1: 0');
  });

  test('in peek mode a service account is not shown the lag, and the watched group is left unseeded', async () => {
    const { table, topic } = await newTopic();
    const worker = await createServiceUser(server);
    const group = uniqueName('g');
    await server.sql(`INSERT INTO ${table} (id, name) VALUES (1, 'a'), (2, 'b')`);
    await openPage();
    await connect({ topic, group, user: worker.user, password: worker.password, peek: true });
    await waitForRows(2);
    await page.waitForFunction(() => /Peek mode leaves the watched group alone/.test(document.querySelector('#lag-note').textContent), null, { timeout: 10_000 });
    assert.deepEqual(await lagTable(), []);
    // Had the page probed the group with start 'earliest', this first 'latest' consume would get the history.
    const client = createConsumerClient({ url: server.url, authProvider: async () => Auth.basic(worker.user, worker.password) });
    const batch = await client.consumeBatch({ topic, group_id: group, start: 'latest', batch_size: 10 });
    assert.deepEqual(batch.messages, []);
  });

  test('wrong credentials, a missing topic, a user-role account and an unreachable server each get a clear error', async () => {
    const { topic } = await newTopic();
    await openPage();

    await connect({ topic, group: 'g', password: 'not-the-password' });
    await page.waitForSelector('#error:not([hidden])');
    assert.match(await page.textContent('#error'), /Wrong credentials/);

    await connect({ topic: `${topic}_missing`, group: 'g' });
    await page.waitForFunction(() => /does not exist/.test(document.querySelector('#error').textContent), null, { timeout: 10_000 });

    const plain = await createServiceUser(server, { role: 'user' });
    await connect({ topic, group: 'g', user: plain.user, password: plain.password });
    await page.waitForFunction(() => /may not read topics/.test(document.querySelector('#error').textContent), null, { timeout: 10_000 });

    const closedPort = await freePort();
    await connect({ topic, group: 'g', url: `http://127.0.0.1:${closedPort}` });
    await page.waitForFunction(() => /Cannot reach the server/.test(document.querySelector('#error').textContent), null, { timeout: 15_000 });
  });

  test('a Vite production build of the page loads the .wasm by URL and shows messages', async () => {
    execFileSync(process.execPath, [join(repoRoot, 'node_modules', 'vite', 'bin', 'vite.js'), 'build', '--config', 'examples/topic-inspector/vite.config.mjs'], {
      cwd: repoRoot,
      stdio: 'pipe',
    });
    const built = await startStaticServer({ pageDir: join(repoRoot, 'build', 'topic-inspector') });
    try {
      const { table, topic } = await newTopic();
      await server.sql(`INSERT INTO ${table} (id, name) VALUES (7, 'bundled')`);
      await openPage(built.url);
      const wasmResponses = [];
      page.on('response', (response) => {
        if (response.url().endsWith('.wasm')) wasmResponses.push(response.status());
      });
      await connect({ topic, group: uniqueName('g') });
      await waitForRows(1);
      assert.equal(JSON.parse(await page.textContent('#messages tbody tr:nth-child(1) pre')).name, 'bundled');
      assert.deepEqual(wasmResponses, [200], 'the bundled page fetched its .wasm asset once');
    } finally {
      await built.close();
    }
  });
});

/** A port nothing listens on: bind one, note it, release it. */
function freePort() {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}
