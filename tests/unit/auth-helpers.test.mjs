// The small pure helpers behind auth caching and error wording: jwt.ts (when to renew a JWT),
// redact.ts (secrets out of text) and failure-reason.ts (why a request failed, in words).
// Internal modules, so this imports the unbundled tsc output in build/tsc/.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const tscOut = new URL('../../build/tsc/', import.meta.url);
for (const file of ['jwt.js', 'redact.js', 'failure-reason.js']) {
  if (!existsSync(fileURLToPath(new URL(file, tscOut)))) throw new Error(`build/tsc/${file} is missing: run node scripts/build.mjs first`);
}
const { jwtExpiryMs, jwtRenewAt } = await import(new URL('jwt.js', tscOut).href);
const { redactSecrets, rememberSecret, scrubCause } = await import(new URL('redact.js', tscOut).href);
const { describeFailure, withReason } = await import(new URL('failure-reason.js', tscOut).href);

/** An unsigned JWT with `claims` (the helpers never verify signatures). */
function jwt(claims) {
  const part = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'HS256', typ: 'JWT' })}.${part(claims)}.c2lnbmF0dXJl`;
}

describe('jwt.ts', () => {
  test('jwtExpiryMs reads exp (seconds) from the payload, including base64url characters and UTF-8 claims', () => {
    const exp = 1_900_000_000;
    // The name makes the payload's base64url contain '-' / '_' and needs UTF-8 decoding.
    assert.equal(jwtExpiryMs(jwt({ sub: 'jürgen ~~~???>>>', exp })), exp * 1000);
  });

  test('jwtExpiryMs is undefined for a token without exp, an opaque token and a garbage payload', () => {
    assert.equal(jwtExpiryMs(jwt({ sub: 'x' })), undefined);
    assert.equal(jwtExpiryMs('opaque-token-without-dots'), undefined);
    assert.equal(jwtExpiryMs('a.!!!not-base64!!!.c'), undefined);
    assert.equal(jwtExpiryMs(jwt({ exp: 'tomorrow' })), undefined);
  });

  test('a one-hour token is renewed 30 s before exp; a 2 s token at 80% of its life', () => {
    const now = 1_700_000_000_000;
    const hour = jwt({ exp: now / 1000 + 3600 });
    assert.equal(jwtRenewAt(hour, now), now + 3600_000 - 30_000);
    const short = jwt({ exp: now / 1000 + 2 });
    assert.equal(jwtRenewAt(short, now), now + 1600);
  });

  test('no exp, and an exp already past by this clock, mean: reuse until the server says 401', () => {
    const now = 1_700_000_000_000;
    assert.equal(jwtRenewAt(jwt({ sub: 'x' }), now), Infinity);
    assert.equal(jwtRenewAt(jwt({ exp: now / 1000 - 10 }), now), Infinity);
    assert.equal(jwtRenewAt('opaque', now), Infinity);
  });
});

describe('redact.ts', () => {
  test('Bearer headers, JWTs, credential fields and URL user info are redacted by shape', () => {
    const token = jwt({ sub: 'worker', exp: 1 });
    const text = [
      `Authorization: Bearer opaque-abc123`,
      `token ${token} here`,
      `{"user":"w","password":"p@ss \\"quoted\\"","access_token":"aaa","refresh_token":"bbb"}`,
      `http://bob:hunter22@db.local:8080/x`,
    ].join('\n');
    const out = redactSecrets(text);
    for (const secret of ['opaque-abc123', token, 'p@ss', 'quoted', '"aaa"', '"bbb"', 'hunter22']) {
      assert.ok(!out.includes(secret), `${secret} survived: ${out}`);
    }
    assert.match(out, /Bearer \[redacted\]/);
    assert.match(out, /"user":"w"/, 'harmless fields stay');
    assert.match(out, /db\.local:8080/, 'the host stays');
  });

  test('a remembered secret is redacted wherever it appears, once remembered', () => {
    const password = `pw-${Math.random().toString(36).slice(2)}`;
    assert.equal(redactSecrets(`login as bob/${password} failed`), `login as bob/${password} failed`, 'unknown before');
    rememberSecret(password);
    assert.equal(redactSecrets(`login as bob/${password} failed`), 'login as bob/[redacted] failed');
  });

  test('prose is left alone and redaction is idempotent', () => {
    const prose = 'authProvider must return Auth.basic(user, password) or Auth.jwt(token); basic auth is fine';
    assert.equal(redactSecrets(prose), prose);
    const once = redactSecrets('Authorization: Bearer abcdef');
    assert.equal(redactSecrets(once), once);
  });

  test('scrubCause copies an error that holds a secret (message, stack, fields, its cause) and keeps a clean one', () => {
    const secret = `s3cret-${Math.random().toString(36).slice(2)}`;
    rememberSecret(secret);
    const inner = Object.assign(new Error(`inner ${secret}`), { code: 'E_INNER' });
    const outer = Object.assign(new Error('outer', { cause: inner }), { code: 'E_OUTER', detail: `x ${secret}` });
    const copy = scrubCause(outer);
    assert.notEqual(copy, outer);
    assert.equal(copy.code, 'E_OUTER');
    assert.equal(copy.message, 'outer');
    const everything = `${copy.stack} ${copy.detail} ${copy.cause.message} ${copy.cause.stack} ${copy.cause.code}`;
    assert.ok(!everything.includes(secret), everything);
    assert.equal(copy.cause.code, 'E_INNER');
    const clean = new Error('nothing to hide');
    assert.equal(scrubCause(clean), clean);
  });
});

describe('failure-reason.ts describeFailure', () => {
  // The shape undici gives: TypeError('fetch failed') whose cause is the system error.
  const sys = (code, fields = {}) => Object.assign(new Error(`connect ${code}`), { code, ...fields });
  const fetchFailed = (cause) => new TypeError('fetch failed', { cause });
  // The wasm transport's error: a plain Error named KalamConsumerError around the rejection.
  const wrapped = (cause) => Object.assign(new Error('consume failed: fetch failed', { cause }), { name: 'KalamConsumerError', code: 'NETWORK_ERROR', status: 0 });

  test('system error codes deep in the cause chain become words, with the address', () => {
    assert.equal(describeFailure(wrapped(fetchFailed(sys('ECONNREFUSED', { address: '127.0.0.1', port: 1 })))), 'connection refused (127.0.0.1:1)');
    assert.equal(describeFailure(fetchFailed(sys('ECONNREFUSED', { address: '::1', port: 2900 }))), 'connection refused ([::1]:2900)');
    assert.equal(describeFailure(fetchFailed(sys('ENOTFOUND', { hostname: 'db.invalid' }))), 'host not found (db.invalid)');
    assert.match(describeFailure(fetchFailed(sys('EAI_AGAIN', { hostname: 'db.invalid' }))), /^host not found/);
    assert.equal(describeFailure(fetchFailed(sys('ECONNRESET'))), 'connection reset');
    assert.equal(describeFailure(fetchFailed(sys('UND_ERR_SOCKET'))), 'connection closed by the server');
    assert.equal(describeFailure(fetchFailed(sys('CERT_HAS_EXPIRED'))), 'TLS error (CERT_HAS_EXPIRED)');
  });

  test('an AggregateError (every address of a name refused) is looked into', () => {
    const all = Object.assign(new AggregateError([sys('ECONNREFUSED', { address: '::1', port: 5 }), sys('ECONNREFUSED')], ''), {});
    assert.equal(describeFailure(fetchFailed(all)), 'connection refused ([::1]:5)');
  });

  test('HTTP errors say status and code; HTTP_ERROR is not a code worth repeating', () => {
    const http = (status, code) => Object.assign(new Error('x'), { name: 'KalamConsumerError', status, code });
    assert.equal(describeFailure(http(401, 'TOKEN_EXPIRED')), 'HTTP 401 (TOKEN_EXPIRED)');
    assert.equal(describeFailure(http(502, 'HTTP_ERROR')), 'HTTP 502');
    assert.equal(describeFailure(http(200, 'INVALID_RESPONSE')), 'invalid response (HTTP 200)');
  });

  test('recorded words win, then timeouts and aborts; anything else falls back to the innermost message, redacted', () => {
    const abort = Object.assign(new Error('This operation was aborted'), { name: 'AbortError' });
    assert.equal(describeFailure(withReason(new Error('consume request timed out', { cause: abort }), 'timed out after 30000 ms')), 'timed out after 30000 ms');
    assert.equal(describeFailure(new Error('x', { cause: abort })), 'aborted');
    assert.equal(describeFailure(Object.assign(new Error('t'), { name: 'TimeoutError' })), 'timed out');
    assert.equal(describeFailure(new TypeError('Failed to fetch')), 'Failed to fetch');
    assert.equal(describeFailure(new Error('outer', { cause: new Error('Authorization: Bearer abc.def') })), 'Authorization: Bearer [redacted]');
    assert.equal(describeFailure('plain string'), 'plain string');
    const loop = new Error('loop');
    loop.cause = loop;
    assert.equal(describeFailure(loop), 'loop', 'a cause cycle ends the walk');
  });
});
