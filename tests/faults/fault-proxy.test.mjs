// Quick self-test of tests/faults/support/fault-proxy.mjs against a plain node:http upstream.
import test from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startFaultProxy } from './support/fault-proxy.mjs';

async function startUpstream(tag) {
  const seen = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      seen.push(`${req.method} ${req.url}`);
      res.setHeader('content-type', 'text/plain');
      res.end(`${tag}:${req.url}:${body}`);
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { port: server.address().port, seen, close: () => new Promise((r) => server.close(r)) };
}

// One request on a fresh connection; resolves { status, body } or { error: code }.
function get(port, path, { method = 'GET', body = '', timeoutMs = 3000 } = {}) {
  return new Promise((resolve) => {
    const req = http.request({ host: '127.0.0.1', port, path, method, agent: false, timeout: timeoutMs }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { text += c; });
      res.on('end', () => resolve({ status: res.statusCode, body: text }));
      res.on('error', (err) => resolve({ error: err.code || err.message }));
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'TIMEOUT' })));
    req.on('error', (err) => resolve({ error: err.code || err.message }));
    req.end(body);
  });
}

test('fault proxy: forwards, adds latency, resets, blackholes, cuts off, retargets, aims rules at paths', async (t) => {
  const a = await startUpstream('A');
  const b = await startUpstream('B');
  const proxy = await startFaultProxy({ upstreamPort: a.port });
  t.after(async () => { await proxy.close(); await a.close(); await b.close(); });

  await t.test('passes requests through', async () => {
    assert.deepEqual(await get(proxy.port, '/x', { method: 'POST', body: 'hi' }), { status: 200, body: 'A:/x:hi' });
    assert.equal(proxy.countRequests('/x'), 1);
  });

  await t.test('latency delays the exchange', async () => {
    proxy.setLatency(150);
    const t0 = Date.now();
    const r = await get(proxy.port, '/slow');
    proxy.setLatency(0);
    assert.equal(r.body, 'A:/slow:');
    assert.ok(Date.now() - t0 >= 280, `took ${Date.now() - t0} ms`);
  });

  await t.test('resetNext(n) resets exactly the next n connections', async () => {
    proxy.resetNext(2);
    assert.ok((await get(proxy.port, '/r1')).error);
    assert.ok((await get(proxy.port, '/r2')).error);
    assert.equal((await get(proxy.port, '/r3')).body, 'A:/r3:');
  });

  await t.test('blackhole holds traffic for its duration, then drops the connection', async () => {
    proxy.blackhole(400);
    const t0 = Date.now();
    const r = await get(proxy.port, '/bh');
    assert.ok(r.error, `expected an error, got ${JSON.stringify(r)}`);
    assert.ok(Date.now() - t0 >= 350, `dropped after ${Date.now() - t0} ms`);
    assert.ok(!a.seen.includes('GET /bh'), 'upstream must not see blackholed requests');
    assert.equal((await get(proxy.port, '/after')).body, 'A:/after:');
  });

  await t.test('cutOff close and refuse, then restore', async () => {
    await proxy.cutOff('close');
    assert.ok((await get(proxy.port, '/c')).error);
    await proxy.cutOff('refuse');
    assert.equal((await get(proxy.port, '/c')).error, 'ECONNREFUSED');
    await proxy.restore();
    assert.equal((await get(proxy.port, '/c')).body, 'A:/c:');
  });

  await t.test('retarget sends new connections to the new upstream', async () => {
    proxy.retarget(b.port);
    assert.equal((await get(proxy.port, '/t')).body, 'B:/t:');
    proxy.retarget(a.port);
  });

  await t.test('rules: reset before forwarding, reset after forwarding, blackhole one request', async () => {
    const r1 = proxy.addRule({ match: '/ack', action: 'reset', phase: 'request', times: 1 });
    assert.ok((await get(proxy.port, '/ack?1', { method: 'POST' })).error);
    assert.ok(!a.seen.includes('POST /ack?1'), 'request-phase reset must not reach the upstream');
    assert.equal(r1.hits, 1);

    proxy.addRule({ match: '/ack', action: 'reset', phase: 'response', times: 1 });
    assert.ok((await get(proxy.port, '/ack?2', { method: 'POST' })).error);
    assert.ok(a.seen.includes('POST /ack?2'), 'response-phase reset lets the request reach the upstream');

    proxy.addRule({ match: '/consume', action: 'blackhole', phase: 'request', durationMs: 300 });
    const t0 = Date.now();
    assert.ok((await get(proxy.port, '/consume', { method: 'POST' })).error);
    assert.ok(Date.now() - t0 >= 250);
    assert.equal((await get(proxy.port, '/ack?3', { method: 'POST' })).body, 'A:/ack?3:');
    assert.equal((await get(proxy.port, '/other')).body, 'A:/other:');
  });

  await t.test('resetAll resets open connections', async () => {
    proxy.setLatency(300);
    const pending = get(proxy.port, '/held');
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(proxy.openConnections, 1);
    proxy.resetAll();
    proxy.setLatency(0);
    assert.ok((await pending).error);
  });

  await t.test('only loopback upstreams', async () => {
    await assert.rejects(startFaultProxy({ upstreamPort: 80, upstreamHost: '10.0.0.1' }), /loopback/);
  });
});
