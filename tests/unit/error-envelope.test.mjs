// Error bodies are read by the core's `parse_error_body` (crates/kalam-consumer-core/src/
// envelope.rs) for the topic endpoints, through the wasm transport, and by `readEnvelope`
// (js/src/http.ts) for the SQL and auth endpoints, whose code gets no wasm bindings. The core
// owns the rule; both are held to one corpus, tests/fixtures/error-envelopes.json (the core's
// tests/error_envelopes.rs checks the Rust side).
//
// Known, accepted difference, so no case has it: a body that repeats `error`, `code` or
// `message` is plain text for the core's scanner and last-key-wins for JSON.parse; no server
// sends one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const tscOut = new URL('../../build/tsc/', import.meta.url);
if (!existsSync(fileURLToPath(new URL('http.js', tscOut)))) {
  throw new Error('build/tsc/http.js is missing: run node scripts/build.mjs first');
}
const { readEnvelope, httpError } = await import(new URL('http.js', tscOut).href);
const { cases } = JSON.parse(readFileSync(new URL('../fixtures/error-envelopes.json', import.meta.url), 'utf8'));

test('readEnvelope reads every body of the corpus as the core does', () => {
  assert.ok(cases.length > 100);
  for (const { body, expected } of cases) assert.deepEqual(readEnvelope(body), expected, JSON.stringify(body));
});

test('httpError: envelope code and message; a body without one is cut to 200 characters', () => {
  const classify = (status, code) => (status === 401 || code === 'TOKEN_EXPIRED' ? 'auth' : 'permanent');
  const sql = httpError('SQL', { status: 401, text: '{"status":"error","error":{"code":"TOKEN_EXPIRED","message":"Invalid credentials"}}' }, classify);
  assert.deepEqual([sql.code, sql.status, sql.kind, sql.message], ['TOKEN_EXPIRED', 401, 'auth', 'SQL failed (HTTP 401 TOKEN_EXPIRED): Invalid credentials']);
  const page = `<html>${'x'.repeat(500)}</html>`;
  const proxy = httpError('login', { status: 502, text: `  ${page}\n` }, classify);
  assert.equal(proxy.code, 'HTTP_ERROR');
  assert.equal(proxy.message, `login failed (HTTP 502 HTTP_ERROR): ${page.slice(0, 200)}`);
  assert.equal(proxy.body, `  ${page}\n`.slice(0, 2048));
  const empty = httpError('SQL', { status: 500, text: '' }, classify);
  assert.equal(empty.message, 'SQL failed (HTTP 500 HTTP_ERROR): HTTP 500');
});
