// A small TCP fault proxy for the fault tests: it sits between a worker and kalam-devserver and
// can add latency, reset connections, blackhole traffic, cut the server off and be pointed at a
// new upstream port after a server restart.
//
// Loopback only (it listens on 127.0.0.1 and refuses non-loopback upstreams) and bounded (a cap on
// open connections and on bytes held back by the latency queue).
//
// Request rules look at the first bytes of what the client sends on a connection ("POST
// /v1/api/topics/ack ..."), so a fault can be aimed at one kind of HTTP request:
//   proxy.addRule({ match: '/v1/api/topics/ack', action: 'reset', phase: 'response', times: 2 })
//   phase 'request'  : the request is not forwarded (the server never sees it)
//   phase 'response' : the request reaches the server, its response is dropped
//   action 'reset'     : both sockets are destroyed (RST to the client)
//   action 'blackhole' : traffic on that connection is dropped for durationMs, then it is destroyed

import net from 'node:net';

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);
const HTTP_METHODS = /^(GET|POST|PUT|DELETE|PATCH|HEAD|OPTIONS) (\S+) HTTP\/1\.[01]/;

export async function startFaultProxy({
  upstreamPort,
  upstreamHost = '127.0.0.1',
  maxConnections = 256,
  maxQueuedBytes = 64 * 1024 * 1024,
  requestLogSize = 20000,
} = {}) {
  if (!LOOPBACK.has(upstreamHost)) throw new Error(`fault proxy: upstream must be loopback, got ${upstreamHost}`);
  checkPort(upstreamPort);

  const state = {
    upstreamPort,
    latencyMs: 0,
    resetNextConnections: 0,
    blackholeUntil: 0,
    cutOff: null, // null | 'close' | 'refuse'
    rules: [],
  };
  const conns = new Set();
  const requestLog = []; // { at, method, path }
  let blackholeTimer = null;
  let port = 0;

  const server = net.createServer({ pauseOnConnect: false }, onConnection);
  server.maxConnections = maxConnections;
  await listen(server, 0);
  port = server.address().port;

  function onConnection(client) {
    client.on('error', () => {});
    if (state.cutOff === 'close' || state.resetNextConnections > 0) {
      if (state.resetNextConnections > 0) state.resetNextConnections--;
      hardDestroy(client);
      return;
    }
    const conn = {
      client,
      upstream: net.connect({ host: upstreamHost, port: state.upstreamPort }),
      dropUntil: 0,           // blackhole for this connection only
      dropResponse: null,     // { action, durationMs } applied to the next upstream bytes
      queued: 0,
      lastDue: [0, 0],        // per direction, keeps chunk order under changing latency
      closed: false,
    };
    conn.upstream.setNoDelay(true);
    client.setNoDelay(true);
    conns.add(conn);
    if (Date.now() < state.blackholeUntil) conn.dropUntil = state.blackholeUntil;

    conn.upstream.on('error', () => close(conn));
    client.on('close', () => close(conn));
    conn.upstream.on('close', () => later(conn, 1, () => close(conn)));
    client.on('data', (chunk) => fromClient(conn, chunk));
    conn.upstream.on('data', (chunk) => fromUpstream(conn, chunk));
    client.on('end', () => later(conn, 0, () => conn.upstream.end()));
    conn.upstream.on('end', () => later(conn, 1, () => client.end()));
  }

  function fromClient(conn, chunk) {
    if (dropping(conn)) return;
    const head = chunk.toString('latin1', 0, Math.min(chunk.length, 512));
    const m = HTTP_METHODS.exec(head);
    if (m) {
      requestLog.push({ at: Date.now(), method: m[1], path: m[2] });
      if (requestLog.length > requestLogSize) requestLog.splice(0, requestLog.length - requestLogSize);
      const rule = state.rules.find((r) => r.remaining > 0 && m[2].includes(r.match));
      if (rule) {
        rule.remaining--;
        rule.hits++;
        if (rule.phase === 'request') {
          if (rule.action === 'reset') return close(conn, true);
          blackholeConn(conn, rule.durationMs);
          return;
        }
        conn.dropResponse = { action: rule.action, durationMs: rule.durationMs };
      }
    }
    later(conn, 0, () => conn.upstream.write(chunk), chunk.length);
  }

  function fromUpstream(conn, chunk) {
    if (dropping(conn)) return;
    if (conn.dropResponse) {
      const { action, durationMs } = conn.dropResponse;
      conn.dropResponse = null;
      if (action === 'reset') return close(conn, true);
      blackholeConn(conn, durationMs);
      return;
    }
    later(conn, 1, () => conn.client.write(chunk), chunk.length);
  }

  function dropping(conn) {
    if (conn.closed) return true;
    if (state.cutOff) { close(conn, true); return true; }
    if (Date.now() < state.blackholeUntil && conn.dropUntil < state.blackholeUntil) conn.dropUntil = state.blackholeUntil;
    return Date.now() < conn.dropUntil;
  }

  function blackholeConn(conn, durationMs) {
    conn.dropUntil = Date.now() + durationMs;
    const t = setTimeout(() => close(conn, true), durationMs);
    t.unref();
  }

  // Runs fn after the configured latency, keeping order per direction; bounded queue.
  function later(conn, dir, fn, bytes = 0) {
    if (state.latencyMs <= 0 && conn.lastDue[dir] <= Date.now()) {
      if (!conn.closed) fn();
      return;
    }
    conn.queued += bytes;
    if (conn.queued > maxQueuedBytes) return close(conn, true);
    const due = Math.max(Date.now() + state.latencyMs, conn.lastDue[dir]);
    conn.lastDue[dir] = due;
    setTimeout(() => {
      conn.queued -= bytes;
      if (!conn.closed && !dropping(conn)) fn();
    }, due - Date.now());
  }

  function close(conn, reset = false) {
    if (conn.closed) return;
    conn.closed = true;
    conns.delete(conn);
    if (reset) {
      hardDestroy(conn.client);
      conn.upstream.destroy();
    } else {
      conn.client.destroy();
      conn.upstream.destroy();
    }
  }

  function destroyAll() {
    for (const conn of [...conns]) close(conn, true);
  }

  const proxy = {
    get port() { return port; },
    get url() { return `http://127.0.0.1:${port}`; },
    get upstreamPort() { return state.upstreamPort; },
    get openConnections() { return conns.size; },

    /** Delay every chunk, both ways, by ms (0 turns it off). */
    setLatency(ms) { state.latencyMs = Math.max(0, ms | 0); },

    /** Destroy every open connection now (the clients see a reset). */
    resetAll() { destroyAll(); },

    /** Destroy the next n accepted connections right after accepting them. */
    resetNext(n) { state.resetNextConnections = Math.max(0, n | 0); },

    /** Accept connections but forward nothing, either way, for ms; then destroy what was held. */
    blackhole(ms) {
      state.blackholeUntil = Date.now() + ms;
      clearTimeout(blackholeTimer);
      blackholeTimer = setTimeout(() => {
        for (const conn of [...conns]) if (conn.dropUntil && conn.dropUntil <= Date.now()) close(conn, true);
      }, ms + 5);
      blackholeTimer.unref();
    },

    /** 'close': accept and close at once; 'refuse': stop listening (connection refused). */
    async cutOff(mode = 'close') {
      if (mode !== 'close' && mode !== 'refuse') throw new Error(`fault proxy: unknown cut-off mode ${mode}`);
      state.cutOff = mode;
      destroyAll();
      if (mode === 'refuse' && server.listening) await new Promise((r) => server.close(() => r()));
    },

    /** Undo cutOff(); listens again on the same port if it was refusing. */
    async restore() {
      const wasRefusing = state.cutOff === 'refuse';
      state.cutOff = null;
      if (wasRefusing && !server.listening) await listen(server, port);
    },

    /** Point at a new upstream port (after a restart); open connections are reset. */
    retarget(newPort) {
      checkPort(newPort);
      state.upstreamPort = newPort;
      destroyAll();
    },

    /** Fault aimed at HTTP requests whose path contains `match`; see the header comment. */
    addRule({ match, action = 'reset', phase = 'request', times = 1, durationMs = 2000 }) {
      if (!['reset', 'blackhole'].includes(action)) throw new Error(`fault proxy: unknown action ${action}`);
      if (!['request', 'response'].includes(phase)) throw new Error(`fault proxy: unknown phase ${phase}`);
      const rule = { match, action, phase, remaining: times, hits: 0, durationMs };
      state.rules.push(rule);
      return rule;
    },

    clearRules() { state.rules.length = 0; },

    /** Requests seen whose path contains `match` (from the bounded log). */
    countRequests(match) { return requestLog.filter((r) => r.path.includes(match)).length; },
    requests() { return requestLog.slice(); },

    async close() {
      state.cutOff = 'close';
      destroyAll();
      clearTimeout(blackholeTimer);
      if (server.listening) await new Promise((r) => server.close(() => r()));
    },
  };
  return proxy;
}

// An RST where it is safe: on Node 20, resetAndDestroy() on a socket that already saw the
// peer's FIN can leave libuv spinning, so half-closed sockets just get destroy().
function hardDestroy(socket) {
  const open = !socket.destroyed && socket._handle && socket.readyState === 'open' && !socket.readableEnded && !socket.writableEnded;
  if (open && typeof socket.resetAndDestroy === 'function') socket.resetAndDestroy();
  else socket.destroy();
}

function checkPort(p) {
  if (!Number.isInteger(p) || p <= 0 || p > 65535) throw new Error(`fault proxy: bad upstream port ${p}`);
}

function listen(server, port) {
  return new Promise((resolve, reject) => {
    const onError = (err) => reject(err);
    server.once('error', onError);
    server.listen({ host: '127.0.0.1', port, exclusive: true }, () => {
      server.off('error', onError);
      resolve();
    });
  });
}
