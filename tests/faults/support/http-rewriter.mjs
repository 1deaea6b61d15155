// An HTTP-level proxy in front of kalam-devserver that can replace or rewrite single responses:
// the ways a server (or what stands in front of it) misbehaves that the dev server itself never
// shows — an HTML 502 from a gateway, a JSON body cut short, a payload that is not base64, a
// message without `user`, hostile keys, a 5 MB payload.
//
// Everything else is forwarded unchanged, so the worker still runs against the real server and
// the tests can check real table state and committed offsets. Loopback only.
//
//   const rw = await startRewriter({ upstreamPort });
//   rw.addRule({ path: '/v1/api/topics/consume', phase: 'response', times: 1,
//                respond: ({ status, json }) => ({ json: {...json, messages: [...] } }) });
//
// phase 'request':  the request is NOT forwarded; respond() decides what the client gets.
// phase 'response': the request is forwarded, respond() sees the server's answer.
// respond(ctx) returns one of
//   undefined                          forward the original response unchanged
//   { status, headers, body }          a complete replacement (body: string | Buffer)
//   { json, status? }                  a JSON replacement
//   { truncateTo: n }                  announce the full length, send n bytes, then reset
//   { destroy: true }                  close the connection without an answer
// ctx = { method, path, requestJson, status, headers, body (Buffer), json (parsed or undefined) }

import http from 'node:http';

const MAX_BODY = 64 * 1024 * 1024;

export async function startRewriter({ upstreamPort, upstreamHost = '127.0.0.1' }) {
  if (!['127.0.0.1', '::1', 'localhost'].includes(upstreamHost)) throw new Error('rewriter: upstream must be loopback');
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const rules = [];
  const log = [];
  const sockets = new Set();

  const server = http.createServer(async (req, res) => {
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size > MAX_BODY) req.destroy();
      else chunks.push(c);
    });
    await new Promise((r) => req.on('end', r));
    const requestBody = Buffer.concat(chunks);
    const path = new URL(req.url, 'http://x').pathname;
    let requestJson;
    try { requestJson = JSON.parse(requestBody.toString('utf8')); } catch { requestJson = undefined; }
    const base = { method: req.method, path, requestJson };

    const rule = rules.find((r) => r.remaining > 0 && path === r.path && (!r.when || r.when(base)));
    try {
      if (rule && rule.phase === 'request') {
        rule.remaining--;
        const action = await rule.respond(base);
        rule.hits.push({ ...base, action: summarize(action) });
        log.push({ path, rewritten: true });
        return send(res, action, null);
      }
      const upstream = await forward(req, requestBody);
      const ctx = { ...base, status: upstream.status, headers: upstream.headers, body: upstream.body, json: parseJson(upstream.body) };
      if (rule && (!rule.whenResponse || rule.whenResponse(ctx))) {
        rule.remaining--;
        const action = await rule.respond(ctx);
        rule.hits.push({ ...base, status: upstream.status, action: summarize(action) });
        log.push({ path, rewritten: action !== undefined });
        return send(res, action, upstream);
      }
      log.push({ path, rewritten: false });
      return send(res, undefined, upstream);
    } catch (err) {
      // Upstream unreachable: behave like a dead gateway (connection closed).
      res.socket?.destroy();
    }
  });
  server.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
  server.keepAliveTimeout = 5000;
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const port = server.address().port;

  function forward(req, body) {
    return new Promise((resolve, reject) => {
      const headers = { ...req.headers, host: `${upstreamHost}:${upstreamPort}`, 'content-length': String(body.length) };
      delete headers.connection;
      const up = http.request({ host: upstreamHost, port: upstreamPort, method: req.method, path: req.url, headers, agent }, (res) => {
        const chunks = [];
        let size = 0;
        res.on('data', (c) => {
          size += c.length;
          if (size > MAX_BODY) up.destroy(new Error('response too large'));
          else chunks.push(c);
        });
        res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      });
      up.on('error', reject);
      up.end(body);
    });
  }

  function send(res, action, upstream) {
    if (action === undefined) {
      if (!upstream) throw new Error('rewriter: a request-phase rule must respond');
      const headers = { ...upstream.headers };
      delete headers['transfer-encoding'];
      delete headers.connection;
      headers['content-length'] = String(upstream.body.length);
      res.writeHead(upstream.status, headers);
      res.end(upstream.body);
      return;
    }
    if (action.destroy) { res.socket?.destroy(); return; }
    if (action.truncateTo !== undefined) {
      const full = upstream ? upstream.body : Buffer.from(action.body ?? '');
      res.writeHead(upstream?.status ?? 200, { 'content-type': 'application/json', 'content-length': String(full.length) });
      res.write(full.subarray(0, action.truncateTo));
      // Let the partial body leave, then cut the connection.
      setTimeout(() => res.socket?.destroy(), 20);
      return;
    }
    let status = action.status ?? 200;
    let body;
    let headers;
    if (action.json !== undefined) {
      body = Buffer.from(typeof action.json === 'string' ? action.json : JSON.stringify(action.json), 'utf8');
      headers = { 'content-type': 'application/json' };
    } else {
      body = Buffer.isBuffer(action.body) ? action.body : Buffer.from(String(action.body ?? ''), 'utf8');
      headers = { 'content-type': 'text/plain', ...(action.headers ?? {}) };
    }
    headers['content-length'] = String(body.length);
    res.writeHead(status, headers);
    res.end(body);
  }

  return {
    port,
    url: `http://127.0.0.1:${port}`,
    log,
    /** Adds a rule; returns it (rule.hits lists what it did). */
    addRule({ path, phase = 'response', times = 1, when, whenResponse, respond }) {
      const rule = { path, phase, remaining: times, when, whenResponse, respond, hits: [] };
      rules.push(rule);
      return rule;
    },
    async close() {
      for (const s of sockets) s.destroy();
      agent.destroy();
      await new Promise((r) => server.close(() => r()));
    },
  };
}

function parseJson(buf) {
  try { return JSON.parse(buf.toString('utf8')); } catch { return undefined; }
}

function summarize(action) {
  if (action === undefined) return 'forward';
  if (action.destroy) return 'destroy';
  if (action.truncateTo !== undefined) return `truncate:${action.truncateTo}`;
  return `status:${action.status ?? 200}`;
}

/** The HTML page a gateway sends when the upstream is down. */
export const HTML_502 = '<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n';

/** Base64 of a JSON text (the text is used as given, so it may hold keys JSON.stringify cannot write). */
export function base64Json(text) {
  return Buffer.from(text, 'utf8').toString('base64');
}
