// A raw TCP server speaking just enough HTTP/1.1 to produce the responses that
// kalam-devserver cannot be made to produce: truncated bodies, an HTML 502 from a "proxy",
// a connection that never answers, garbage bytes, undecodable payloads.
//
// startRawServer(handler): handler(req, reply) is called once per request with
//   req = { method, path, headers, body (string), json (parsed body or undefined), index }
// and must call one of:
//   reply.json(status, obj)            complete JSON response
//   reply.send(status, body, headers)  complete response with a given body/content-type
//   reply.truncated(status, body, cut) announce the full length, send `cut` bytes, then reset
//   reply.stall()                      read the request, never answer (socket left open)
//   reply.garbage(bytes)               write raw non-HTTP bytes and close
//   reply.destroy()                    close the connection without any response
// Every response carries `Connection: close`, so each request uses a fresh connection.

import net from 'node:net';

export async function startRawServer(handler) {
  const sockets = new Set();
  const requests = [];
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let buf = Buffer.alloc(0);
    let handled = false;
    socket.on('data', (chunk) => {
      if (handled) return;
      buf = Buffer.concat([buf, chunk]);
      const headerEnd = buf.indexOf('\r\n\r\n');
      if (headerEnd === -1) return;
      const head = buf.subarray(0, headerEnd).toString('latin1');
      const [requestLine, ...headerLines] = head.split('\r\n');
      const headers = {};
      for (const line of headerLines) {
        const i = line.indexOf(':');
        if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
      }
      const length = Number(headers['content-length'] ?? 0);
      if (buf.length < headerEnd + 4 + length) return;
      handled = true;
      const body = buf.subarray(headerEnd + 4, headerEnd + 4 + length).toString('utf8');
      const [method, target] = requestLine.split(' ');
      let json;
      try { json = body ? JSON.parse(body) : undefined; } catch { json = undefined; }
      const req = { method, path: new URL(target, 'http://x').pathname, headers, body, json, index: requests.length };
      requests.push(req);
      handler(req, makeReply(socket));
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    to(path) { return requests.filter((r) => r.path === path); },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

function makeReply(socket) {
  const head = (status, headers, length) => {
    const reason = { 200: 'OK', 401: 'Unauthorized', 404: 'Not Found', 500: 'Internal Server Error', 502: 'Bad Gateway', 503: 'Service Unavailable' }[status] ?? 'Status';
    const lines = [`HTTP/1.1 ${status} ${reason}`, `Content-Length: ${length}`, 'Connection: close'];
    for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`);
    return `${lines.join('\r\n')}\r\n\r\n`;
  };
  return {
    send(status, body, headers = { 'Content-Type': 'text/plain' }) {
      const bytes = Buffer.from(body, 'utf8');
      socket.end(Buffer.concat([Buffer.from(head(status, headers, bytes.length), 'latin1'), bytes]));
    },
    json(status, obj) {
      this.send(status, JSON.stringify(obj), { 'Content-Type': 'application/json' });
    },
    truncated(status, body, cut) {
      const bytes = Buffer.from(body, 'utf8');
      socket.write(Buffer.concat([
        Buffer.from(head(status, { 'Content-Type': 'application/json' }, bytes.length), 'latin1'),
        bytes.subarray(0, cut),
      ]), () => setTimeout(() => socket.destroy(), 20));
    },
    stall() { /* keep the socket open and silent; closed by server.close() */ },
    garbage(bytes = Buffer.from([0x00, 0xff, 0x13, 0x37, 0x0a, 0x0d, 0x47, 0x41, 0x52, 0x42, 0x41, 0x47, 0x45])) {
      socket.end(bytes);
    },
    destroy() { socket.destroy(); },
  };
}

/** A login response body as the real server sends it (§1.1), with a far-future expiry. */
export function loginBody(user = 'worker', token = 'raw-access-token') {
  const now = new Date();
  const later = new Date(now.getTime() + 24 * 3600 * 1000).toISOString().replace('Z', '+00:00');
  const stamp = now.toISOString().replace('Z', '+00:00');
  return {
    user: { id: user, role: 'service', email: null, created_at: stamp, updated_at: stamp },
    admin_ui_access: false,
    expires_at: later,
    access_token: token,
    refresh_token: `${token}-refresh`,
    refresh_expires_at: later,
  };
}

/** One wire message (§3.2) with a base64 JSON payload (or a raw payload string). */
export function wireMessage({ topic, partition = 0, offset, row, rawPayload, key = null, user = 'alice', op = 'Insert' }) {
  return {
    topic_id: topic,
    partition_id: partition,
    offset,
    payload: rawPayload ?? Buffer.from(JSON.stringify(row), 'utf8').toString('base64'),
    key,
    timestamp_ms: Date.now(),
    ...(user === undefined ? {} : { user }),
    op,
  };
}
