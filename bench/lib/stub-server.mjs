// A stub KalamDB topic server for the memory figure: it serves synthetic consume responses
// from memory as fast as Node can (no SQLite, no CDC), so the measurement is of the worker.
// It speaks just enough of docs/PROTOCOL.md: login (§1.1), consume (§3.1/§3.2) with a per-group
// cursor, cumulative ack (§3.7). `total` messages exist; after that, consume returns none.
import http from 'node:http';
import { encodedPayloads } from './cdc.mjs';
import { fakeJwt } from './jwt.mjs';

export async function startStubServer({ topic, total, rowBytes = 300 }) {
  const payloads = encodedPayloads(1000, rowBytes, 99).map((p) => p.b64);
  const cursors = new Map();
  const stats = { consumes: 0, acks: 0, lastAck: -1 };
  const token = fakeJwt();
  const loginBody = JSON.stringify({
    user: { id: 'bench_worker', role: 'service', email: null, created_at: '2026-01-01T00:00:00.000+00:00', updated_at: '2026-01-01T00:00:00.000+00:00' },
    admin_ui_access: false,
    expires_at: new Date(Date.now() + 86400e3).toISOString(),
    access_token: token, refresh_token: token,
    refresh_expires_at: new Date(Date.now() + 7 * 86400e3).toISOString(),
  });
  const prefix = `{"topic_id":${JSON.stringify(topic)},"partition_id":0,"offset":`;

  const committed = new Map();
  const consumeBody = (req) => {
    const key = `${req.group_id}/${req.partition_id ?? 0}`;
    const limit = Math.max(0, Number(req.limit ?? 100));
    // A `limit: 0` probe claims nothing and answers committed + 1, or the start position (0:
    // the bench workers start at the earliest offset), never the cursor (PROTOCOL.md §3.5).
    if (limit === 0) return `{"messages":[],"next_offset":${(committed.get(key) ?? -1) + 1},"has_more":true}`;
    const from = cursors.get(key) ?? 0;
    const to = Math.min(total, from + limit);
    cursors.set(key, to);
    const parts = [];
    for (let off = from; off < to; off++) {
      parts.push(`${prefix}${off},"payload":"${payloads[off % payloads.length]}","key":"${off + 1}","timestamp_ms":${1730000000000 + off},"user":"alice","op":"Insert"}`);
    }
    const count = to - from;
    return `{"messages":[${parts.join(',')}],"next_offset":${count ? to : from},"has_more":${count === limit}}`;
  };

  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      let body;
      try { body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : {}; } catch { body = {}; }
      const send = (status, text) => {
        res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
        res.end(text);
      };
      switch (req.url) {
        case '/v1/api/auth/login': return send(200, loginBody);
        case '/v1/api/topics/consume': stats.consumes++; return send(200, consumeBody(body));
        case '/v1/api/topics/ack': {
          stats.acks++;
          stats.lastAck = Math.max(stats.lastAck, Number(body.upto_offset));
          const acked = `${body.group_id}/${body.partition_id ?? 0}`;
          committed.set(acked, Math.max(committed.get(acked) ?? -1, Number(body.upto_offset)));
          return send(200, JSON.stringify({ success: true, acknowledged_offset: body.upto_offset }));
        }
        default: return send(404, '{"error":"not found","code":"NOT_FOUND"}');
      }
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${server.address().port}`;
  return {
    url, stats,
    close: () => new Promise((resolve) => { server.closeAllConnections?.(); server.close(() => resolve()); }),
  };
}
