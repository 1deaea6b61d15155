// The package bundled into a Node app by a bundler that honours `"sideEffects": false`
// (esbuild here): nothing the package needs at runtime may be dropped. This once failed for
// `@kalamdb/consumer/wasm`, whose loader was a bare import that esbuild removed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);
const esbuild = require('esbuild');
const wasmFile = join(dirname(require.resolve('@kalamdb/consumer/package.json')), 'wasm', 'kalam_consumer_wasm_bg.wasm');

const BODY = JSON.stringify({
  messages: [{ topic_id: 'app.orders', partition_id: 0, offset: 7, payload: Buffer.from('{"id":"1"}').toString('base64'), key: '1', timestamp_ms: 5, op: 'Insert' }],
  next_offset: 8,
  has_more: false,
});

const b64url = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');
const JWT = `${b64url({ alg: 'HS256', typ: 'JWT' })}.${b64url({ sub: 'worker', role: 'service', exp: 4102444800 })}.c2ln`;

/** Bundles `source` for Node next to a copy of the .wasm (where the loader looks), runs it, returns stdout and esbuild's warnings. */
async function bundleAndRun(source) {
  const dir = mkdtempSync(join(tmpdir(), 'kalam-bundle-'));
  try {
    writeFileSync(join(dir, 'app.mjs'), source);
    const result = await esbuild.build({
      entryPoints: [join(dir, 'app.mjs')],
      outfile: join(dir, 'out', 'app.mjs'),
      bundle: true,
      platform: 'node',
      format: 'esm',
      nodePaths: [join(process.cwd(), 'node_modules')],
      logLevel: 'silent',
    });
    mkdirSync(join(dir, 'out', 'wasm'));
    copyFileSync(wasmFile, join(dir, 'out', 'wasm', 'kalam_consumer_wasm_bg.wasm'));
    const stdout = execFileSync(process.execPath, [join(dir, 'out', 'app.mjs')], { encoding: 'utf8' });
    return { stdout, warnings: result.warnings.map((w) => w.text) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('@kalamdb/consumer/wasm still loads its module when bundled for Node', async () => {
  const { stdout, warnings } = await bundleAndRun(`
    import { decodeConsumeResponse } from '@kalamdb/consumer/wasm';
    const batch = decodeConsumeResponse(${JSON.stringify(BODY)}, { topic_id: 'app.orders', group_id: 'g', partition_id: 0 });
    console.log(JSON.stringify(batch));
  `);
  assert.deepEqual(warnings, []);
  const batch = JSON.parse(stdout);
  assert.equal(batch.next_offset, 8);
  assert.deepEqual(batch.messages[0].payload, { id: '1' });
});

test('@kalamdb/consumer consumeBatch works when bundled for Node', async () => {
  const { stdout, warnings } = await bundleAndRun(`
    import { createConsumerClient, Auth } from '@kalamdb/consumer';
    const client = createConsumerClient({
      url: 'http://127.0.0.1:9',
      authProvider: async () => Auth.jwt(${JSON.stringify(JWT)}),
      fetch: async () => new Response(${JSON.stringify(BODY)}, { status: 200 }),
    });
    const batch = await client.consumeBatch({ topic: 'app.orders', group_id: 'g', start: 'earliest' });
    console.log(JSON.stringify(batch.messages.map((m) => [m.offset, m.payload])));
  `);
  assert.deepEqual(warnings, []);
  assert.deepEqual(JSON.parse(stdout), [[7, { id: '1' }]]);
});
