// Error bodies are read by the core's `parse_error_body` (crates/kalam-consumer-core/src/
// envelope.rs) for the topic endpoints, through the wasm transport, and by `readEnvelope`
// (js/src/http.ts) for the SQL and auth endpoints, whose code gets no wasm bindings. The core
// owns the rules; this holds the TS port to the wasm export `parseErrorBody` on the server's
// three envelopes, plain texts, and generated bodies.
//
// Known, accepted difference: a body that repeats `error`, `code` or `message` is plain text
// for the core's scanner and last-key-wins for JSON.parse; no server sends one, so none is
// generated here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseErrorBody } from '@kalamdb/consumer/wasm';

const tscOut = new URL('../../build/tsc/', import.meta.url);
if (!existsSync(fileURLToPath(new URL('http.js', tscOut)))) {
  throw new Error('build/tsc/http.js is missing: run node scripts/build.mjs first');
}
const { readEnvelope } = await import(new URL('http.js', tscOut).href);

const agree = (body) => assert.deepEqual(readEnvelope(body), parseErrorBody(body), JSON.stringify(body));

test('the three envelopes and plain text (docs/PROTOCOL.md §1.1, §1.7/§2.5, §3.8)', () => {
  const cases = [
    ['{"status":"error","error":{"code":"TOKEN_EXPIRED","message":"Invalid credentials"},"results":[],"took":0.42}',
      { code: 'TOKEN_EXPIRED', message: 'Invalid credentials' }],
    ['{"error":"unauthorized","message":"invalid credentials"}', { code: 'unauthorized', message: 'invalid credentials' }],
    ['{"error":"BODY_TOO_LARGE","message":"Request body too large"}', { code: 'BODY_TOO_LARGE', message: 'Request body too large' }],
    ['{"error":"Topic \'app.events\' does not exist","code":"NOT_FOUND"}', { code: 'NOT_FOUND', message: "Topic 'app.events' does not exist" }],
    ['Json deserialize error: missing field `topic_id`\n', { message: 'Json deserialize error: missing field `topic_id`' }],
    ['<html><body>502 Bad Gateway</body></html>', { message: '<html><body>502 Bad Gateway</body></html>' }],
    ['', {}],
    ['  \n', {}],
  ];
  for (const [body, expected] of cases) {
    assert.deepEqual(parseErrorBody(body), expected, body);
    agree(body);
  }
});

test('odd shapes: missing, blank, mistyped and extra fields', () => {
  for (const body of [
    '{"error":{"code":"X"}}',
    '{"error":{"code":"X","message":"  "}}',
    '{"error":{"code":5,"message":"m"}}',
    '{"error":{"message":"m"},"code":"TOP"}',
    '{"code":"BODY_TOO_LARGE"}',
    '{"error":"text","code":""}',
    '{"error":"text","code":"  "}',
    '{"error":"  ","message":"m"}',
    '{"error":null,"code":"C","message":"m"}',
    '{"error":5,"code":"C","message":"m"}',
    '{"error":[1],"code":"C"}',
    '{"error":true}',
    '{"error":"E","code":7}',
    '{"error":"E","message":{"a":1}}',
    '{"message":"only a message"}',
    '{}',
    '{not json',
    '{"error":"E"} trailing',
    '[{"error":"E"}]',
    '"a string"',
    '  {"error":"E","message":"padded"}  ',
    '{"error":"\\u00e9t\\u00e9 \\"quoted\\"","code":"C"}',
    '{"error":"E","message":"line\\nbreak"}',
  ]) agree(body);
});

/** A small deterministic PRNG (mulberry32), so a failure names a reproducible body. */
function prng(seed) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

test('generated bodies agree', () => {
  const random = prng(10);
  const pick = (items) => items[Math.floor(random() * items.length)];
  const texts = ['', ' ', 'NOT_FOUND', 'unauthorized', 'Invalid credentials', 'café ✓', 'a"b\\c', '\t x \n'];
  const scalar = () => pick([null, 0, 12.5, true, false, pick(texts), pick(texts)]);
  const value = (depth) => {
    const r = random();
    if (depth > 1 || r < 0.6) return scalar();
    if (r < 0.8) return [value(depth + 1)];
    return object(depth + 1);
  };
  const object = (depth) => {
    const o = {};
    for (const key of ['status', 'error', 'code', 'message', 'results', 'took']) {
      if (random() < 0.5) o[key] = key === 'error' && random() < 0.4 ? object(depth + 1) : value(depth);
    }
    return o;
  };
  for (let i = 0; i < 2_000; i++) {
    let body = JSON.stringify(object(0), null, random() < 0.3 ? 2 : undefined);
    if (random() < 0.1) body = ` ${body}\n`;
    if (random() < 0.05) body = body.slice(0, Math.floor(random() * body.length));
    agree(body);
  }
});
