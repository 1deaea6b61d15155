// Every code example of README.md, run as written against the dev server.
//
// How the examples are adapted, and nothing else:
//  - The README talks to http://127.0.0.1:8080. This file patches globalThis.fetch (which the
//    package and its wasm transport look up per request) so that URL reaches the dev server
//    started by the harness; the examples keep their literal URL.
//  - Imports are hoisted to the top of this file (each README import line is here verbatim).
//  - Lines ending in `// harness` are test additions inside an example: they stop a worker
//    once its messages are committed, or wait where the README says "later".
//  - The typed (TypeScript) example is type-checked with tsc, then transpiled and imported.
//  - The shell blocks: `kalam-devserver` and `npm run inspector` run with `--port 0` (and a
//    temporary data directory) instead of fixed ports. The two set-up commands
//    (scripts/demo.sh, scripts/test.sh: this file is part of the latter) and `npm i` are not
//    run here.
// The first test checks that every js/ts/sql block of README.md appears in this file, so the
// two cannot drift apart: change an example in both places.

import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import ts from 'typescript';
import { createConsumerClient, Auth, runConsumer, initConsumerWasm, isKalamConsumerError, TopicOp, KalamConsumerError, topicLag } from '@kalamdb/consumer';
import init, { KalamConsumerClient } from '@kalamdb/consumer/wasm';
import { useDevServer, committedOffset, devServerBinary, repoRoot, waitFor, within } from './support/devserver.mjs';

const server = await useDevServer();
const README_URL = 'http://127.0.0.1:8080';
const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
const thisFile = readFileSync(fileURLToPath(import.meta.url), 'utf8');

// --- harness: the README's URL goes to the dev server ---
const realFetch = globalThis.fetch;
globalThis.fetch = (input, init) => {
  const retarget = (url) => (url.startsWith(README_URL) ? server.url + url.slice(README_URL.length) : url);
  if (typeof input === 'string') return realFetch(retarget(input), init);
  if (input instanceof URL) return realFetch(retarget(input.href), init);
  if (input instanceof Request && input.url.startsWith(README_URL)) return realFetch(new Request(retarget(input.url), input), init);
  return realFetch(input, init);
};

/** Writes messages the way a user of the app would: as alice, into the source table. */
let written = 0;
async function write(...bodies) {
  for (const body of bodies) {
    await server.sql("EXECUTE AS USER 'alice' (INSERT INTO app.messages (body) VALUES ($1))", [body]);
    written += 1;
  }
}

/** Aborts `controller` once `group` committed every message written so far (offsets 0..written-1). */
function abortWhenCaughtUp(controller, group, timeoutMs = 15_000) {
  const target = written - 1;
  waitFor(async () => (await committedOffset(server, 'app.events', group)) === target, { timeoutMs, message: `${group} at offset ${target}` })
    .catch((error) => console.error(error))
    .finally(() => controller.abort());
}

/** The fenced code blocks of the README: [{ lang, code }]. */
function readmeBlocks() {
  const blocks = [];
  const fence = /^```(\w*)\n([\s\S]*?)^```$/gm;
  for (let m = fence.exec(readme); m; m = fence.exec(readme)) blocks.push({ lang: m[1], code: m[2] });
  return blocks;
}

/** `import a, { b, c } from 'm';` -> { names: ['default:a', 'b', 'c'], from: 'm' } */
function importedNames(line) {
  const m = /^import\s+(?:(\w+)\s*,?\s*)?(?:\{([^}]*)\})?\s*from\s+'([^']+)';$/.exec(line.trim());
  assert.ok(m, `cannot read import: ${line}`);
  const names = (m[2] ?? '').split(',').map((n) => n.trim()).filter(Boolean);
  if (m[1]) names.push(`default:${m[1]}`);
  return { names, from: m[3] };
}

function readmeBlock(lang, marker) {
  const block = readmeBlocks().find((b) => b.lang === lang && b.code.includes(marker));
  assert.ok(block, `README has a ${lang} block containing ${marker}`);
  return block.code;
}

// README: every section with a code block (this test keeps README and this file in step).
test('README: every js/ts/sql example appears in this file', () => {
  const withoutHarness = thisFile
    .split('\n')
    .filter((line) => !line.trimEnd().endsWith('// harness'))
    .map((line) => line.replace(/^ {2}/, ''))
    .join('\n');
  const blocks = readmeBlocks();
  assert.ok(blocks.some((b) => b.lang === 'ts'), 'the typed example');
  assert.ok(blocks.length >= 14, `expected the README's examples, found ${blocks.length} blocks`);
  for (const { lang, code } of blocks) {
    if (!['js', 'sql'].includes(lang)) continue; // the ts block: see the Typed usage test
    const lines = code.split('\n');
    const imports = lang === 'js' ? lines.filter((l) => l.startsWith('import ')) : [];
    for (const line of imports) {
      const { names, from } = importedNames(line);
      const here = thisFile.split('\n').filter((l) => l.startsWith('import ') && l.endsWith(`from '${from}';`));
      for (const name of names) {
        assert.ok(here.some((l) => importedNames(l).names.includes(name)), `README imports ${name} from ${from}; this file does not`);
      }
    }
    const body = (lang === 'js' ? lines.filter((l) => !l.startsWith('import ')) : lines).join('\n').trim();
    assert.ok(withoutHarness.includes(body), `README ${lang} example not in this file (verbatim):\n${body}`);
  }
  const shell = blocks.filter((b) => b.lang === 'sh').map((b) => b.code.trim());
  assert.ok(shell.some((c) => c.startsWith('bash scripts/demo.sh')), 'the two commands');
  assert.ok(shell.includes('npm i @kalamdb/consumer'));
  assert.ok(shell.includes('npm run inspector'));
  assert.ok(shell.some((c) => c.includes('target/release/kalam-devserver --port 2900 --data-dir ./kalam-data')));
});

// README "Quick start": the schema, run once as root.
const SCHEMA = `CREATE NAMESPACE app;
CREATE USER TABLE app.messages (id BIGINT PRIMARY KEY DEFAULT SNOWFLAKE_ID(), body TEXT);
CREATE SHARED TABLE app.summary (id TEXT PRIMARY KEY, author TEXT, words INT);
CREATE SHARED TABLE app.dead_letters (id TEXT PRIMARY KEY, reason TEXT);
CREATE TOPIC app.events;
ALTER TOPIC app.events ADD SOURCE app.messages ON INSERT WITH (payload = 'full');
CREATE USER worker WITH PASSWORD 'secret' ROLE service;
CREATE USER alice WITH PASSWORD 'alice-secret' ROLE user;`;

before(async () => {
  for (const statement of SCHEMA.split(';\n')) await server.sql(statement.replace(/;$/, ''));
});

// README "Quick start": the worker.
test('README Quick start: runConsumer counts words into app.summary', async () => {
  await write('hello world', 'three small words');

  const client = createConsumerClient({
    url: 'http://127.0.0.1:8080',
    authProvider: async () => Auth.basic('worker', 'secret'),
  });

  const stop = new AbortController();
  process.once('SIGTERM', () => stop.abort());
  abortWhenCaughtUp(stop, 'word-count'); // harness

  await runConsumer({
    client,
    name: 'word-count',
    topic: 'app.events',
    groupId: 'word-count',
    start: 'earliest',
    partitionCount: 1,   // app.events has one partition; see Partitions
    stopSignal: stop.signal,
    onChange: async (ctx, change) => {
      // change.data is the row, change.user the user who wrote it, change.key its primary key
      const words = change.data.body.split(/\s+/).filter(Boolean).length;
      await ctx.sql('INSERT INTO app.summary (id, author, words) VALUES ($1, $2, $3)', [change.key, change.user, words]);
    },
  });

  const rows = await server.rows('SELECT author, words FROM app.summary ORDER BY words');
  assert.deepEqual(rows.map((r) => [r.author, Number(r.words)]), [['alice', 2], ['alice', 3]]);
});

const client = createConsumerClient({ url: README_URL, authProvider: async () => Auth.basic('worker', 'secret') });

// README "Running several workers": one replica of a fleet, configured from the environment.
test('README Running several workers: fleet: true from environment variables', async () => {
  process.env.KALAMDB_URL = README_URL; // harness
  process.env.KALAMDB_USER = 'worker'; // harness
  process.env.KALAMDB_PASSWORD = 'secret'; // harness
  process.env.TOPIC_PARTITIONS = '1'; // harness
  await write('a fleet of one'); // harness

  // worker.mjs: run it N times (N replicas of one deployment)
  const replicaStop = new AbortController();
  process.once('SIGTERM', () => replicaStop.abort());
  abortWhenCaughtUp(replicaStop, 'projector'); // harness
  await runConsumer({
    client: createConsumerClient({ url: process.env.KALAMDB_URL, authProvider: () => Auth.basic(process.env.KALAMDB_USER, process.env.KALAMDB_PASSWORD) }),
    name: 'projector', topic: 'app.events', groupId: 'projector', start: 'earliest',
    partitionCount: Number(process.env.TOPIC_PARTITIONS),  // or omit it with a dba account
    fleet: true,                 // or { leaseMs: 15000, workerId, table }
    stopSignal: replicaStop.signal,
    onChange: async (ctx, change) => {
      await ctx.sql('INSERT INTO app.summary (id, author, words) VALUES ($1, $2, $3)', [`fleet-${change.key}`, change.user, 0]);
    },
  });

  // Every message so far went through the one replica, and its lease was given back on stop.
  const projected = await server.rows("SELECT COUNT(*) AS n FROM app.summary WHERE id LIKE 'fleet-%'");
  assert.equal(Number(projected[0].n), written);
  const leases = await server.rows("SELECT owner_id, released FROM app.consumer_leases WHERE group_id = 'projector' AND partition_id = 0 ORDER BY epoch DESC LIMIT 1");
  assert.equal(leases.length, 1, 'the lease table in the topic namespace holds the partition lease');
  assert.equal(leases[0].released, true, 'released on stop');
});

// README "Authentication": a JWT from your identity provider.
test('README Authentication: Auth.jwt from a provider', async () => {
  const fetchTokenFromYourIdentityProvider = async () => (await server.login('worker', 'secret')).access_token; // harness

  const jwtClient = createConsumerClient({
    url: 'http://127.0.0.1:8080',
    authProvider: async () => Auth.jwt(await fetchTokenFromYourIdentityProvider()),
  });

  const batch = await jwtClient.consumeBatch({ topic: 'app.events', group_id: 'jwt-check', start: 'earliest' });
  assert.equal(batch.messages.length, written);
});

// README "The change and the context": ctx.llm with an adapter.
test('README The change and the context: ctx.llm.complete through an adapter', async () => {
  const llmStop = new AbortController();
  abortWhenCaughtUp(llmStop, 'summariser'); // harness
  await runConsumer({
    client, name: 'summariser', topic: 'app.events', groupId: 'summariser', start: 'earliest', partitionCount: 1,
    stopSignal: llmStop.signal,
    llm: { complete: async (request) => `${request.systemPrompt} ${request.prompt}`.slice(0, 40) },   // your model here
    systemPrompt: 'Summarise in five words.',
    onChange: async (ctx, change) => {
      const summary = await ctx.llm.complete(change.data.body);
      console.log(ctx.runKey, summary);
    },
  });
  assert.equal(await committedOffset(server, 'app.events', 'summariser'), written - 1);
});

// README "Retries and dead letters".
test('README Retries and dead letters: shouldRetry, onFailed writes a dead letter', async () => {
  await write('{"words": 2}', 'not json');
  const jsonOffset = written - 2;
  const badOffset = written - 1;

  const dlqStop = new AbortController();
  abortWhenCaughtUp(dlqStop, 'commands'); // harness
  await runConsumer({
    client, name: 'commands', topic: 'app.events', groupId: 'commands', start: 'earliest', partitionCount: 1,
    stopSignal: dlqStop.signal,
    retry: { maxAttempts: 3, initialBackoffMs: 100, shouldRetry: (error) => !(error instanceof SyntaxError) },
    onChange: async (ctx, change) => {
      const command = JSON.parse(change.data.body);   // a body that is not JSON is not retried
      await ctx.sql('INSERT INTO app.summary (id, author, words) VALUES ($1, $2, $3)', [ctx.runKey, change.user, command.words]);
    },
    onFailed: async (ctx, change, error) => {
      await ctx.sql('INSERT INTO app.dead_letters (id, reason) VALUES ($1, $2)', [ctx.runKey, String(error)]);
    },
    onRetry: (info) => console.warn(`retrying ${info.runKey} in ${info.backoffMs} ms`),
    onError: (info) => console.error(info.phase, info.error),
  });

  const dead = await server.rows('SELECT id, reason FROM app.dead_letters');
  assert.ok(dead.some((r) => r.id === `commands:app.events:0:${badOffset}` && /SyntaxError/.test(r.reason)), JSON.stringify(dead));
  assert.ok(!dead.some((r) => r.id === `commands:app.events:0:${jsonOffset}`));
  const ok = await server.rows('SELECT words FROM app.summary WHERE id = $1', [`commands:app.events:0:${jsonOffset}`]);
  assert.equal(Number(ok[0]?.words), 2);
});

// README "Lower-level consumer".
test('README Lower-level consumer: consumer().run with ctx.ack, then stop()', async () => {
  const handle = client.consumer({ topic: 'app.events', group_id: 'low-level', start: 'earliest', batch_size: 100, auto_ack: false });
  const running = handle.run(async (ctx) => {
    console.log(ctx.message.offset, ctx.user, ctx.message.payload.body);
    await ctx.ack();
  });
  // later:
  await waitFor(async () => (await committedOffset(server, 'app.events', 'low-level')) === written - 1); // harness
  handle.stop();
  await running;
  assert.equal(handle.running, false);
});

// README "One-shot polling".
test('README One-shot polling: consumeBatch, then ack the last offset', async () => {
  const batch = await client.consumeBatch({
    topic: 'app.events', group_id: 'poller', start: 'earliest', batch_size: 100, partition_id: 0, timeout_seconds: 5,
  });
  for (const message of batch.messages) {
    console.log(message.offset, message.op, message.user, message.payload);
  }
  if (batch.messages.length > 0) {
    const lastOffset = batch.messages[batch.messages.length - 1].offset;
    const { success, acknowledged_offset } = await client.ack('app.events', 'poller', 0, lastOffset);
    console.log(success, acknowledged_offset);
  }

  // README "Message shape": the fields as the table lists them.
  assert.equal(batch.messages.length, written);
  const m = batch.messages[0];
  assert.deepEqual(
    Object.keys(m).sort(),
    ['group_id', 'key', 'offset', 'op', 'partition_id', 'payload', 'timestamp_ms', 'topic', 'user', 'value'],
  );
  assert.equal(m.op, TopicOp.Insert);
  assert.equal(m.user, 'alice');
  assert.equal(typeof m.key, 'string');
  assert.equal(m.payload.id, m.key, 'BIGINT id arrives as a string, and key is that id');
  assert.equal(m.payload._table, 'app:messages');
  assert.equal(m.value, m.payload);
  assert.equal(await committedOffset(server, 'app.events', 'poller'), written - 1);
});

// README "Lag": the quick start's group, measured by its service account (consume probes).
test('README Lag: topicLag per partition for the word-count group', async () => {
  await write('one more, not counted yet'); // harness
  const lag = await topicLag(client, 'app.events', 'word-count', { partitions: [0] });
  console.log(lag.totalLag, lag.partitions);   // [{ partitionId: 0, committedOffset: 41, newestOffset: 45, lag: 4 }]

  const committed = await committedOffset(server, 'app.events', 'word-count');
  assert.equal(lag.method, 'consume-probe');
  assert.deepEqual(lag.partitions, [{ partitionId: 0, committedOffset: committed, newestOffset: written - 1, lag: written - 1 - committed }]);
  assert.ok(lag.totalLag >= 1, 'the message written above is not handled by anyone');
});

// README "Health, metrics and traces": the handle of runConsumer.
test('README Health, metrics and traces: health() and metrics() of a running worker', async () => {
  const opsStop = new AbortController();
  abortWhenCaughtUp(opsStop, 'ops'); // harness
  const worker = runConsumer({
    client, name: 'ops', topic: 'app.events', groupId: 'ops', start: 'earliest', partitions: [0],
    stopSignal: opsStop.signal, stallTimeoutMs: 30000,
    onChange: async (ctx, change) => { /* ... */ },
  });
  const report = setInterval(() => {
    const { state, partitions } = worker.health();
    const { handled, failed, deadLettered, handlerMs } = worker.metrics();
    console.log(state, partitions.map((p) => `${p.partitionId}@${p.lastCommittedOffset}`), handled, failed, deadLettered, handlerMs.p99);
  }, 10000);
  try {
    await worker;
  } finally {
    clearInterval(report);
  }

  assert.equal(worker.health().state, 'stopped');
  assert.equal(worker.metrics().handled, written, 'every message written so far');
});

// README "Typed usage": type-checked, then run.
const TYPED_EXAMPLE = String.raw`import { createConsumerClient, Auth, runConsumer, TopicOp, type Change } from '@kalamdb/consumer';

interface Message {
  id: string;          // BIGINT arrives as a string
  body: string | null;
  _seq: string;
}

const client = createConsumerClient({ url: 'http://127.0.0.1:8080', authProvider: async () => Auth.basic('worker', 'secret') });

const batch = await client.consumeBatch<Message>({ topic: 'app.events', group_id: 'typed', start: 'earliest' });
for (const message of batch.messages) {
  if (message.op === TopicOp.Insert) console.log(message.payload.id, message.payload.body);
}

export function startTypedWorker(stopSignal: AbortSignal): Promise<void> {
  return runConsumer<Message>({
    client, name: 'typed', topic: 'app.events', groupId: 'typed-worker', start: 'earliest', partitionCount: 1, stopSignal,
    onChange: async (ctx, change: Change<Message>) => {
      console.log(change.data.id, change.data.body?.length ?? 0, ctx.attempt);
    },
  });
}`;

test('README Typed usage: tsc accepts it, and it runs', async () => {
  assert.equal(readmeBlock('ts', 'startTypedWorker').trim(), TYPED_EXAMPLE);
  // Under node_modules/, so '@kalamdb/consumer' resolves to the built package.
  const cacheDir = join(repoRoot, 'node_modules', '.cache');
  mkdirSync(cacheDir, { recursive: true });
  const dir = mkdtempSync(join(cacheDir, 'readme-typed-'));
  try {
    writeFileSync(join(dir, 'typed.mts'), TYPED_EXAMPLE);
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', lib: ['ES2022', 'DOM'],
          types: [], strict: true, noEmit: true, skipLibCheck: true,
        },
        files: ['typed.mts'],
      }),
    );
    const tsc = join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc');
    const checked = spawnSync(process.execPath, [tsc, '-p', join(dir, 'tsconfig.json')], { encoding: 'utf8' });
    assert.equal(checked.status, 0, `tsc:\n${checked.stdout}${checked.stderr}`);

    const js = ts.transpileModule(TYPED_EXAMPLE, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } }).outputText;
    writeFileSync(join(dir, 'typed.mjs'), js);
    const typed = await import(pathToFileURL(join(dir, 'typed.mjs')).href);
    const stop = new AbortController();
    abortWhenCaughtUp(stop, 'typed-worker');
    await within(20_000, typed.startTypedWorker(stop.signal), 'typed worker');
    assert.equal(await committedOffset(server, 'app.events', 'typed-worker'), written - 1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// README "SQL helpers": query, queryOne, queryAll, executeAsUser.
test('README SQL helpers: query, queryOne, queryAll, executeAsUser', async () => {
  await client.query('INSERT INTO app.summary (id, author, words) VALUES ($1, $2, $3)', ['s-1', 'worker', 3]);
  const one = await client.queryOne('SELECT id, words FROM app.summary WHERE id = $1', ['s-1']);   // { id: 's-1', words: 3 } or null
  const all = await client.queryAll('SELECT id FROM app.summary');                                // [{ id: ... }, ...]: at most 50 rows, no LIMIT
  const mine = await client.executeAsUser('SELECT id, body FROM app.messages', 'alice');          // runs as alice
  console.log(one, all.length, mine.results[0].named_rows);

  assert.deepEqual(one, { id: 's-1', words: 3 });
  assert.ok(all.some((r) => r.id === 's-1'));
  assert.equal(mine.results[0].named_rows.length, written);
  assert.equal(await client.queryOne('SELECT id FROM app.summary WHERE id = $1', ['nope']), null);
});

// README "SQL helpers": sharing an @kalamdb/client through sqlClient.
test('README SQL helpers: sqlClient shares an existing client', async () => {
  const sqlCalls = []; // harness
  const kalamClient = { query: async (sql, params) => { sqlCalls.push(sql); return server.sql(sql, params); } }; // harness: stands in for @kalamdb/client

  const shared = createConsumerClient({
    url: 'http://127.0.0.1:8080',
    authProvider: async () => Auth.basic('worker', 'secret'),
    sqlClient: kalamClient,   // e.g. createClient({ url, authProvider }) from @kalamdb/client
  });

  assert.deepEqual(await shared.queryOne('SELECT id, words FROM app.summary WHERE id = $1', ['s-1']), { id: 's-1', words: 3 });
  assert.deepEqual(sqlCalls, ['SELECT id, words FROM app.summary WHERE id = $1']);
});

// README "Errors".
test('README Errors: KalamConsumerError with code, status and kind', async () => {
  try {
    await client.consumeBatch({ topic: 'app.missing', group_id: 'g' });
  } catch (err) {
    if (isKalamConsumerError(err)) {
      console.error(err.code, err.status, err.kind);   // 'NOT_FOUND' 404 'permanent'
    }
  }

  const err = await client.consumeBatch({ topic: 'app.missing', group_id: 'g' }).catch((e) => e);
  assert.ok(err instanceof KalamConsumerError);
  assert.deepEqual([err.code, err.status, err.kind], ['NOT_FOUND', 404, 'permanent']);
  const sqlErr = await client.query('SELECT * FROM app.nothing_here').catch((e) => e);
  assert.ok(isKalamConsumerError(sqlErr));
  assert.deepEqual([sqlErr.code, sqlErr.kind], ['SQL_EXECUTION_ERROR', 'permanent']);
  const wrongPassword = createConsumerClient({ url: README_URL, authProvider: async () => Auth.basic('worker', 'wrong') });
  const authErr = await wrongPassword.consumeBatch({ topic: 'app.events', group_id: 'g' }).catch((e) => e);
  assert.deepEqual([authErr.code, authErr.status, authErr.kind], ['unauthorized', 401, 'permanent']);
});

// README "Browsers and bundlers": consumerWasmUrl / initConsumerWasm. In Node the module is
// already loaded at import, so both are accepted and do nothing; tests/browser covers browsers.
test('README Browsers and bundlers: initConsumerWasm and consumerWasmUrl', async () => {
  await initConsumerWasm('/static/kalam_consumer_wasm_bg.wasm');   // optional: load now, not on first use
  const browserClient = createConsumerClient({
    url: 'http://127.0.0.1:8080',
    authProvider: async () => Auth.basic('worker', 'secret'),
    consumerWasmUrl: '/static/kalam_consumer_wasm_bg.wasm',
  });

  const batch = await browserClient.consumeBatch({ topic: 'app.events', group_id: 'browser-check', start: 'earliest', batch_size: 100 });
  assert.equal(batch.messages.length, written);
});

// README "Browsers and bundlers": the raw bindings of @kalamdb/consumer/wasm.
test('README Browsers and bundlers: @kalamdb/consumer/wasm consume and ack', async () => {
  await init();   // instantiates the module (already done at import in Node)
  const { access_token } = await client.login();
  const raw = new KalamConsumerClient('http://127.0.0.1:8080');
  const wire = await raw.consume(`Bearer ${access_token}`, { topic_id: 'app.events', group_id: 'raw', start: 'Earliest', limit: 100, partition_id: 0 });
  if (wire.messages.length > 0) {
    await raw.ack(`Bearer ${access_token}`, { topic_id: 'app.events', group_id: 'raw', partition_id: 0, upto_offset: wire.messages.at(-1).offset });
  }
  raw.free();

  assert.equal(wire.messages.length, written);
  assert.equal(await committedOffset(server, 'app.events', 'raw'), written - 1);
  assert.equal(typeof KalamConsumerClient.prototype.query, 'undefined', 'consume and ack only');
});

/** Spawns a command in its own process group; resolves with the first stdout line matching `pattern`. */
function spawnUntil(command, args, { env = {}, pattern }) {
  const child = spawn(command, args, { cwd: repoRoot, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'], detached: true });
  const line = new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`${command} exited (code ${code}) before printing ${pattern}`)));
    createInterface({ input: child.stdout }).on('line', (l) => {
      if (pattern.test(l)) resolve(l);
    });
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const stop = async () => {
    try { process.kill(-child.pid, 'SIGTERM'); } catch { /* gone */ }
    await within(10_000, exited, `${command} after SIGTERM`);
  };
  return { line, stop };
}

// README "The dev server": the binary with a root password (port 0 and a temp data dir here).
test('README The dev server: kalam-devserver prints its URL and accepts root', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'readme-devserver-'));
  const proc = spawnUntil(devServerBinary(), ['--port', '0', '--data-dir', dataDir], { env: { KALAMDB_ROOT_PASSWORD: 'secret' }, pattern: /^listening on / });
  try {
    const first = await within(20_000, proc.line, 'listening line');
    assert.match(first, /^listening on http:\/\/127\.0\.0\.1:\d+$/);
    const url = first.slice('listening on '.length);
    const res = await realFetch(`${url}/v1/api/auth/login`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ user: 'root', password: 'secret' }),
    });
    assert.equal(res.status, 200);
    assert.ok((await res.json()).access_token);
  } finally {
    await proc.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
});

// README "The topic inspector": `npm run inspector` (page on a free port here).
test('README The topic inspector: npm run inspector serves the page', async () => {
  const proc = spawnUntil('npm', ['run', 'inspector', '--', '--port', '0'], { pattern: /^topic inspector: / });
  try {
    const line = await within(30_000, proc.line, 'inspector URL');
    const page = await realFetch(line.slice('topic inspector: '.length));
    assert.equal(page.status, 200);
    assert.match(await page.text(), /KalamDB topic inspector/);
  } finally {
    await proc.stop();
  }
});
