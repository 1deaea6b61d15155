// The package in every TypeScript and module setup (issue 13 item 6). Each case is a small
// project in a temp directory whose node_modules/@kalamdb/consumer links to dist/; it is
// type-checked with the repo's TypeScript and, where it is a program, compiled and run
// against kalam-devserver. Measured before the fix: (a) failed with TS2550 (Symbol.dispose
// without the esnext.disposable lib) and (b) with TS1479 (a CommonJS file importing the
// ESM-only package).

import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { useDevServer, setupTopic, createServiceUser, uniqueName, repoRoot } from './support/devserver.mjs';

const TSC = join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc');
const DIST = join(repoRoot, 'dist');

const server = await useDevServer();
const root = mkdtempSync(join(tmpdir(), 'kalam-module-setups-'));
after(() => rmSync(root, { recursive: true, force: true }));

/** Writes `files` into a new project directory that depends on the built package. */
function project(name, files, { nodeTypes = false } = {}) {
  const dir = join(root, name);
  mkdirSync(join(dir, 'node_modules', '@kalamdb'), { recursive: true });
  symlinkSync(DIST, join(dir, 'node_modules', '@kalamdb', 'consumer'), 'dir');
  if (nodeTypes) {
    mkdirSync(join(dir, 'node_modules', '@types'), { recursive: true });
    symlinkSync(join(repoRoot, 'node_modules', '@types', 'node'), join(dir, 'node_modules', '@types', 'node'), 'dir');
  }
  for (const [file, text] of Object.entries(files)) writeFileSync(join(dir, file), typeof text === 'string' ? text : JSON.stringify(text, null, 2));
  return dir;
}

function tsc(dir) {
  const result = spawnSync(process.execPath, [TSC, '-p', dir], { cwd: dir, encoding: 'utf8' });
  assert.equal(result.status, 0, `tsc -p ${dir} reported:\n${result.stdout}${result.stderr}`);
}

function node(dir, args) {
  const result = spawnSync(process.execPath, args, { cwd: dir, encoding: 'utf8', timeout: 30_000 });
  assert.equal(result.status, 0, `node ${args.join(' ')} exited ${result.status}:\n${result.stdout}${result.stderr}`);
  return result.stdout.trim();
}

const strict = { strict: true, skipLibCheck: false, noEmitOnError: true };

// Uses every kind of export: functions, a class, a const object, generics and option types.
const typesOnly = `
import { createConsumerClient, runConsumer, Auth, KalamConsumerError, isKalamConsumerError, TopicOp,
         type ConsumerClient, type Change, type RunConsumerOptions, type KalamConsumerErrorCode } from '@kalamdb/consumer';

type Row = { id: number; body: string };
export const client: ConsumerClient = createConsumerClient({ url: 'http://127.0.0.1:2900', authProvider: async () => Auth.basic('u', 'p') });
export async function once(): Promise<string[]> {
  const batch = await client.consumeBatch<Row>({ topic: 'app.events', group_id: 'g', start: 'earliest' });
  return batch.messages.map((m) => m.payload.body + (m.op === TopicOp.Insert ? '+' : ''));
}
export const options: RunConsumerOptions<Row> = {
  client, name: 'n', topic: 'app.events', groupId: 'g',
  onChange: async (_ctx, change: Change<Row>) => { void change.data.body; },
};
export function run(): Promise<void> { return runConsumer(options); }
export function code(error: unknown): KalamConsumerErrorCode | undefined {
  if (error instanceof KalamConsumerError) return error.code;
  return isKalamConsumerError(error) ? error.code : undefined;
}
`;

// A program: consume and ack the row the test inserted, then ack against a closed port.
const program = `
import { createConsumerClient, Auth, isKalamConsumerError } from '@kalamdb/consumer';

async function main(): Promise<void> {
  const [url, user, password, topic, group, closedUrl] = process.argv.slice(2) as [string, string, string, string, string, string];
  const client = createConsumerClient({ url, authProvider: async () => Auth.basic(user, password) });
  const batch = await client.consumeBatch<{ id: number; body: string }>({ topic, group_id: group, start: 'earliest', batch_size: 10 });
  const last = batch.messages[batch.messages.length - 1];
  const acked = last ? (await client.ack(topic, group, 0, last.offset)).acknowledged_offset : -1;
  await client.disconnect();
  const closed = createConsumerClient({ url: closedUrl, authProvider: Auth.jwt('token-for-a-closed-port') });
  let failure = 'none';
  try {
    await closed.ack(topic, group, 0, 0);
  } catch (error) {
    failure = isKalamConsumerError(error) ? \`\${error.code}: \${error.message}\` : String(error);
  }
  console.log(JSON.stringify({ bodies: batch.messages.map((m) => m.payload.body), acked, failure }));
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
`;

describe('type-checks', { concurrency: true }, () => {
  test('(a) ESM, moduleResolution bundler, lib ES2022 + DOM, no @types/node', () => {
    tsc(project('esm-bundler-dom', {
      'package.json': { type: 'module', private: true },
      'tsconfig.json': { compilerOptions: { ...strict, target: 'ES2022', module: 'ESNext', moduleResolution: 'Bundler', lib: ['ES2022', 'DOM'], types: [], noEmit: true }, files: ['main.ts'] },
      'main.ts': typesOnly,
    }));
  });

  test('(d) ESNext lib: `using` disposes a client', () => {
    tsc(project('esm-using', {
      'package.json': { type: 'module', private: true },
      'tsconfig.json': { compilerOptions: { ...strict, target: 'ES2022', module: 'ESNext', moduleResolution: 'Bundler', lib: ['ESNext', 'DOM'], types: [], noEmit: true }, files: ['main.ts'] },
      'main.ts': `${typesOnly}\nexport function scoped(): void {\n  using c = createConsumerClient({ url: 'http://127.0.0.1:2900', authProvider: Auth.jwt('t') });\n  void c.url;\n}\n`,
    }));
  });
});

describe('programs compiled by tsc and run against kalam-devserver', () => {
  /** A port nothing listens on. */
  async function closedPort() {
    const probe = net.createServer();
    await new Promise((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const { port } = probe.address();
    await new Promise((resolve) => probe.close(resolve));
    return port;
  }

  /** Server, user, a topic with one row, a fresh group and a closed URL: the program's arguments. */
  async function programArgs(worker) {
    const t = await setupTopic(server);
    await server.sql(`INSERT INTO ${t.table} (id, body) VALUES (1, 'hello from the test')`);
    return [server.url, worker.user, worker.password, t.topic, uniqueName('g'), `http://127.0.0.1:${await closedPort()}`];
  }

  function assertRan(output) {
    const result = JSON.parse(output.split('\n').pop());
    assert.deepEqual(result.bodies, ['hello from the test']);
    assert.equal(result.acked, 0);
    assert.match(result.failure, /^NETWORK_ERROR: ack failed: connection refused/);
  }

  test('(b) CommonJS: module Node16, "type": "commonjs", @types/node; require() loads the CJS entry', async () => {
    const worker = await createServiceUser(server);
    const dir = project('cjs-node16', {
      'package.json': { type: 'commonjs', private: true },
      'tsconfig.json': { compilerOptions: { ...strict, target: 'ES2022', module: 'Node16', moduleResolution: 'Node16', lib: ['ES2022'], types: ['node'], outDir: 'out' }, files: ['main.ts', 'types.ts'] },
      'main.ts': program,
      'types.ts': typesOnly,
    }, { nodeTypes: true });
    tsc(dir);
    assert.match(node(dir, ['-e', "process.stdout.write(require.resolve('@kalamdb/consumer'))"]), /entry\.node\.cjs$/, 'require() resolves to the CommonJS build');
    // The emitted file really is CommonJS: it requires the package.
    assert.match(node(dir, ['-e', "process.stdout.write(require('node:fs').readFileSync('out/main.js', 'utf8'))"]), /require\("@kalamdb\/consumer"\)/);
    assertRan(node(dir, ['out/main.js', ...(await programArgs(worker))]));
  });

  test('(c) ESM: module Node16, "type": "module", @types/node', async () => {
    const worker = await createServiceUser(server);
    const dir = project('esm-node16', {
      'package.json': { type: 'module', private: true },
      'tsconfig.json': { compilerOptions: { ...strict, target: 'ES2022', module: 'Node16', moduleResolution: 'Node16', lib: ['ES2022'], types: ['node'], outDir: 'out' }, files: ['main.ts', 'types.ts'] },
      'main.ts': program,
      'types.ts': typesOnly,
    }, { nodeTypes: true });
    tsc(dir);
    assertRan(node(dir, ['out/main.js', ...(await programArgs(worker))]));
  });

  test('plain CommonJS JavaScript: require, a typed error class shared with the ESM build by name', async () => {
    const worker = await createServiceUser(server);
    const dir = project('cjs-plain', {
      'package.json': { type: 'commonjs', private: true },
      'main.js': `
const { createConsumerClient, Auth, KalamConsumerError, isKalamConsumerError, VERSION } = require('@kalamdb/consumer');
const [url, user, password, topic, group, closedUrl] = process.argv.slice(2);
(async () => {
  const client = createConsumerClient({ url, authProvider: async () => Auth.basic(user, password) });
  const batch = await client.consumeBatch({ topic, group_id: group, start: 'earliest' });
  const acked = (await client.ack(topic, group, 0, batch.messages[0].offset)).acknowledged_offset;
  let failure = 'none';
  try { await createConsumerClient({ url: closedUrl, authProvider: Auth.jwt('t-closed') }).ack(topic, group, 0, 0); }
  catch (error) { failure = \`\${error instanceof KalamConsumerError && isKalamConsumerError(error) ? error.code : 'untyped'}: \${error.message}\`; }
  console.log(JSON.stringify({ version: VERSION, bodies: batch.messages.map((m) => m.payload.body), acked, failure }));
})().catch((error) => { console.error(error); process.exitCode = 1; });
`,
    });
    const output = node(dir, ['main.js', ...(await programArgs(worker))]);
    assertRan(output);
    const esm = node(dir, ['--input-type=module', '-e', "import { VERSION } from '@kalamdb/consumer'; process.stdout.write(VERSION)"]);
    assert.equal(JSON.parse(output).version, esm, 'the CJS and ESM builds are the same release');
  });
});
