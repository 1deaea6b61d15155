// `npm run inspector`: serves the topic inspector page next to a running kalam-devserver.
//
//   node examples/topic-inspector/serve.mjs [--port 5173] [--server-url http://127.0.0.1:2900]
//
// Without --server-url it starts kalam-devserver on a temporary data directory (root password
// printed below) with a demo topic, so the page has something to show. Ctrl-C stops both.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { startStaticServer } from './static-server.mjs';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '5173' },
    'server-url': { type: 'string' },
  },
});

const ROOT_PASSWORD = 'inspector-root';
let devServer = null;
let dataDir = null;
let serverUrl = values['server-url'];
if (!serverUrl) {
  dataDir = mkdtempSync(join(tmpdir(), 'kalam-inspector-'));
  devServer = spawn(process.env.KALAM_DEVSERVER_BIN ?? join(repoRoot, 'target/release/kalam-devserver'), ['--port', '0', '--data-dir', dataDir], {
    env: { ...process.env, KALAMDB_ROOT_PASSWORD: ROOT_PASSWORD },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  serverUrl = await new Promise((resolve, reject) => {
    devServer.once('exit', (code) => reject(new Error(`kalam-devserver exited (code ${code})`)));
    createInterface({ input: devServer.stdout }).once('line', (line) => resolve(line.replace(/^listening on /, '').trim()));
  });
  await seedDemoTopic(serverUrl);
}

const page = await startStaticServer({ port: Number(values.port) });
console.log(`topic inspector: ${page.url}/`);
console.log(`kalam-devserver: ${serverUrl}${devServer ? ` (user root, password ${ROOT_PASSWORD}, topic demo.events)` : ''}`);

const shutdown = async () => {
  await page.close();
  devServer?.kill('SIGTERM');
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  process.exit(0);
};
process.once('SIGINT', shutdown);
process.once('SIGTERM', shutdown);

/** A namespace, a table and a topic with a few changes, through the SQL endpoint. */
async function seedDemoTopic(url) {
  const login = await fetch(`${url}/v1/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ user: 'root', password: ROOT_PASSWORD }),
  }).then((response) => response.json());
  const sql = (text) =>
    fetch(`${url}/v1/api/sql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${login.access_token}` },
      body: JSON.stringify({ sql: text }),
    });
  for (const statement of [
    'CREATE NAMESPACE IF NOT EXISTS demo',
    'CREATE SHARED TABLE demo.items (id BIGINT PRIMARY KEY, name TEXT)',
    'CREATE TOPIC demo.events',
    "ALTER TOPIC demo.events ADD SOURCE demo.items ON INSERT WITH (payload = 'full')",
    "ALTER TOPIC demo.events ADD SOURCE demo.items ON UPDATE WITH (payload = 'full')",
    "ALTER TOPIC demo.events ADD SOURCE demo.items ON DELETE WITH (payload = 'full')",
    "INSERT INTO demo.items (id, name) VALUES (1, 'first'), (2, 'second')",
    "UPDATE demo.items SET name = 'second, renamed' WHERE id = 2",
    'DELETE FROM demo.items WHERE id = 1',
  ]) {
    await sql(statement);
  }
}
