// Test harness: start and drive a kalam-devserver process for end-to-end tests.
//
// Every server gets its own temporary data directory, is stopped by the caller's `after` hook
// (see `useDevServer`), and is SIGKILLed when the test process exits for any reason.

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { readAllPages } from './paging.mjs';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

export function devServerBinary() {
  return process.env.KALAM_DEVSERVER_BIN || join(repoRoot, 'target', 'release', 'kalam-devserver');
}

export const DEFAULT_ROOT_PASSWORD = 'root-test-password';
const LISTENING = /^listening on (http:\/\/127\.0\.0\.1:(\d+))\s*$/;
const START_TIMEOUT_MS = 20_000;

// Every live child and every data dir, so nothing outlives the test process.
const liveChildren = new Set();
const dataDirs = new Set();
process.on('exit', () => {
  for (const child of liveChildren) {
    try { child.kill('SIGKILL'); } catch { /* already gone */ }
  }
  for (const dir of dataDirs) {
    try { rmSync(dir, { recursive: true, force: true }); } catch { /* best effort */ }
  }
});
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => process.exit(130));
}

// The 'exit' hook does not run when the process dies abruptly (SIGKILL, or node:test rethrowing
// a top-level error from its uncaughtException handler). A small watchdog process learns every
// server pid and data dir over a pipe and cleans them up when that pipe closes, however the
// test process ended.
const WATCHDOG = `
const fs = require('node:fs');
const pids = new Set(); const dirs = new Set(); let buf = '';
process.stdin.on('data', (d) => {
  buf += d;
  let i;
  while ((i = buf.indexOf('\\n')) >= 0) {
    const line = buf.slice(0, i); buf = buf.slice(i + 1);
    const [op, arg] = [line.slice(0, line.indexOf(' ')), line.slice(line.indexOf(' ') + 1)];
    if (op === 'pid') pids.add(Number(arg)); else if (op === 'unpid') pids.delete(Number(arg));
    else if (op === 'dir') dirs.add(arg); else if (op === 'undir') dirs.delete(arg);
  }
});
process.stdin.on('end', () => {
  for (const p of pids) { try { process.kill(p, 'SIGKILL'); } catch {} }
  setTimeout(() => {
    for (const d of dirs) { try { fs.rmSync(d, { recursive: true, force: true }); } catch {} }
    process.exit(0);
  }, 200);
});
process.on('SIGINT', () => {}); process.on('SIGTERM', () => {});
`;
let watchdog;
function tellWatchdog(line) {
  try {
    if (!watchdog) {
      watchdog = spawn(process.execPath, ['-e', WATCHDOG], { stdio: ['pipe', 'ignore', 'ignore'], detached: true });
      watchdog.on('error', () => {});
      watchdog.stdin.on('error', () => {});
      watchdog.unref();
      watchdog.stdin.unref?.();
    }
    watchdog.stdin.write(`${line}\n`);
  } catch { /* best effort: the exit hook still covers normal exits */ }
}

let nameCounter = 0;
/** A fresh identifier that is valid as a KalamDB namespace/table/group name. */
export function uniqueName(prefix = 't') {
  nameCounter += 1;
  const rand = Math.random().toString(36).slice(2, 7);
  return `${prefix}${nameCounter}x${rand}`.toLowerCase();
}

function hasFlag(args, flag) {
  return args.some((a) => a === flag || a.startsWith(`${flag}=`));
}

function spawnServer({ args, env, dataDir, rootPassword, port }) {
  const bin = devServerBinary();
  if (!existsSync(bin)) {
    throw new Error(
      `kalam-devserver binary not found at ${bin}; build it with ` +
        '`cargo build --release -p kalam-devserver` or set KALAM_DEVSERVER_BIN',
    );
  }
  const fullArgs = ['--port', String(port ?? 0), '--data-dir', dataDir];
  if (!hasFlag(args, '--root-password')) fullArgs.push('--root-password', rootPassword);
  // Fast defaults for tests; a test that is about these options passes its own.
  if (!hasFlag(args, '--bcrypt-cost')) fullArgs.push('--bcrypt-cost', '4');
  if (!hasFlag(args, '--auth-rate-limit')) fullArgs.push('--auth-rate-limit', '0');
  fullArgs.push(...args);

  const child = spawn(bin, fullArgs, {
    env: { ...process.env, RUST_LOG: process.env.RUST_LOG ?? 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  liveChildren.add(child);
  if (child.pid) tellWatchdog(`pid ${child.pid}`);
  child.once('exit', () => { if (child.pid) tellWatchdog(`unpid ${child.pid}`); });
  const logs = [];
  const keep = (chunk) => {
    logs.push(chunk.toString());
    if (logs.length > 200) logs.splice(0, logs.length - 200);
  };
  child.stderr.on('data', keep);

  const ready = new Promise((resolveReady, rejectReady) => {
    let buffered = '';
    let firstLineSeen = false;
    const timer = setTimeout(() => {
      rejectReady(new Error(`kalam-devserver did not print its URL within ${START_TIMEOUT_MS} ms\n${logs.join('')}`));
      child.kill('SIGKILL');
    }, START_TIMEOUT_MS);
    child.stdout.on('data', (chunk) => {
      if (firstLineSeen) { keep(chunk); return; }
      buffered += chunk.toString();
      const nl = buffered.indexOf('\n');
      if (nl === -1) return;
      firstLineSeen = true;
      const line = buffered.slice(0, nl);
      keep(buffered.slice(nl + 1));
      clearTimeout(timer);
      const m = LISTENING.exec(line);
      if (!m) {
        rejectReady(new Error(`unexpected first stdout line from kalam-devserver: ${JSON.stringify(line)}`));
        child.kill('SIGKILL');
        return;
      }
      // From now on the server must not keep the test process alive: a test that forgot to
      // stop it (or a file that failed) still lets the process end, and the exit hook kills it.
      child.unref();
      child.stdout.unref?.();
      child.stderr.unref?.();
      resolveReady({ url: m[1], port: Number(m[2]) });
    });
    child.once('exit', (code, signal) => {
      liveChildren.delete(child);
      clearTimeout(timer);
      rejectReady(new Error(`kalam-devserver exited before listening (code ${code}, signal ${signal})\n${logs.join('')}`));
    });
    child.once('error', (err) => { clearTimeout(timer); rejectReady(err); });
  });
  const exited = new Promise((r) => child.once('exit', (code, signal) => r({ code, signal })));
  return { child, ready, exited, logs };
}

/**
 * Start a dev server. Options:
 *  - args: extra CLI arguments (e.g. ['--jwt-expiry-secs', '2'])
 *  - env: extra environment variables
 *  - rootPassword: root's password (default DEFAULT_ROOT_PASSWORD)
 */
export async function startDevServer({ args = [], env = {}, rootPassword = DEFAULT_ROOT_PASSWORD } = {}) {
  const dataDir = mkdtempSync(join(tmpdir(), 'kalam-devserver-test-'));
  dataDirs.add(dataDir);
  tellWatchdog(`dir ${dataDir}`);

  let proc = spawnServer({ args, env, dataDir, rootPassword });
  let info = await proc.ready;
  let rootToken = null;

  const server = {
    dataDir,
    rootPassword,
    get url() { return info.url; },
    get port() { return info.port; },
    get pid() { return proc.child.pid; },
    /** Recent stdout/stderr of the server, for failure messages. */
    logs() { return proc.logs.join(''); },

    /** Graceful stop (SIGTERM, then SIGKILL after 5 s). Idempotent. */
    async stop({ removeData = false } = {}) {
      if (proc.child.exitCode === null && proc.child.signalCode === null) {
        proc.child.kill('SIGTERM');
        const t = setTimeout(() => proc.child.kill('SIGKILL'), 5000);
        await proc.exited;
        clearTimeout(t);
      }
      if (removeData) {
        rmSync(dataDir, { recursive: true, force: true });
        dataDirs.delete(dataDir);
        tellWatchdog(`undir ${dataDir}`);
      }
    },

    /** Hard kill (SIGKILL), as a crash would. */
    async kill() {
      if (proc.child.exitCode === null && proc.child.signalCode === null) {
        proc.child.kill('SIGKILL');
        const keepAlive = setInterval(() => {}, 1000); // the child is unref'd: hold the loop while waiting
        await proc.exited;
        clearInterval(keepAlive);
      }
    },

    /**
     * Start again on the same data directory. By default tries the same port (so running
     * clients reconnect); `{ samePort: false }` lets the OS choose.
     */
    async restart({ samePort = true, kill = false } = {}) {
      if (kill) await server.kill(); else await server.stop();
      rootToken = null;
      let lastErr;
      for (let i = 0; i < 20; i += 1) {
        proc = spawnServer({ args, env, dataDir, rootPassword, port: samePort ? info.port : 0 });
        try {
          info = await proc.ready;
          return server;
        } catch (err) {
          lastErr = err; // port may still be in TIME_WAIT/bound for a moment
          await sleep(250);
        }
      }
      throw lastErr;
    },

    /** Log in (root by default) and return the access token. */
    async login(user = 'root', password = rootPassword) {
      const res = await fetch(`${info.url}/v1/api/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ user, password }),
      });
      const text = await res.text();
      if (!res.ok) throw new Error(`login as ${user} failed: HTTP ${res.status} ${text}`);
      return JSON.parse(text);
    },

    /**
     * Run SQL over HTTP as root (or with the given access token). Resolves with the parsed
     * response; rejects with an Error carrying `status` and `body` on any non-success.
     */
    async sql(sql, params, asToken) {
      const attempt = async (token) => {
        const res = await fetch(`${info.url}/v1/api/sql`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
          body: JSON.stringify(params === undefined ? { sql } : { sql, params }),
        });
        return { res, text: await res.text() };
      };
      let token = asToken;
      if (!token) {
        if (!rootToken) rootToken = (await server.login()).access_token;
        token = rootToken;
      }
      let { res, text } = await attempt(token);
      if (res.status === 401 && !asToken) {
        rootToken = (await server.login()).access_token;
        ({ res, text } = await attempt(rootToken));
      }
      let body;
      try { body = JSON.parse(text); } catch { body = undefined; }
      if (!res.ok || !body || body.status !== 'success') {
        const err = new Error(`SQL failed (HTTP ${res.status}): ${sql}\n${text}`);
        err.status = res.status;
        err.body = body ?? text;
        throw err;
      }
      return body;
    },

    /**
     * Rows of the first result as objects { column: value }. Like on the real server, at most
     * 50 rows without LIMIT and 1,000 with one: use allRows to read a whole table.
     */
    async rows(sql, params, asToken) {
      return rowsOf(await server.sql(sql, params, asToken));
    },

    /** Every row of an ordered SELECT (no LIMIT of its own), read in pages (support/paging.mjs). */
    async allRows(sql, params, asToken) {
      return readAllPages((q, p) => server.rows(q, p, asToken), sql, params);
    },
  };
  return server;
}

/** Turn a SQL response's first result into an array of { column: value } objects. */
export function rowsOf(response, index = 0) {
  const result = response?.results?.[index];
  if (!result) return [];
  if (Array.isArray(result.named_rows)) return result.named_rows;
  const names = (result.schema ?? []).map((c) => c.name);
  return (result.rows ?? []).map((row) => Object.fromEntries(names.map((n, i) => [n, row[i]])));
}

/**
 * Start a server for a test file and register an `after` hook (on the file's root test)
 * that stops it and removes its data, whether the tests pass or fail. Use with top-level
 * await: `const server = await useDevServer();`
 */
export async function useDevServer(options = {}) {
  const { after } = await import('node:test');
  const server = await startDevServer(options);
  after(() => server.stop({ removeData: true }));
  return server;
}

/** Create a login-capable user (role service by default); returns { user, password, role }. */
export async function createServiceUser(server, { user = uniqueName('worker'), password = 'worker-pass-1', role = 'service' } = {}) {
  await server.sql(`CREATE USER ${user} WITH PASSWORD '${password}' ROLE ${role}`);
  return { user, password, role };
}

/**
 * Namespace + source table + topic + routes, in one call.
 * Options:
 *  - ns: namespace (created if missing); default a fresh name
 *  - table: table name inside ns (default 'items')
 *  - kind: 'user' | 'shared' | 'stream' (default 'user')
 *  - columns: column list SQL (default id BIGINT PRIMARY KEY, body TEXT)
 *  - topic: topic name inside ns (default 'events')
 *  - partitions: default 1
 *  - ops: route operations (default ['insert'])
 *  - payload: payload mode (default 'full')
 * Returns { ns, table: 'ns.table', topic: 'ns.topic', partitions }.
 */
export async function setupTopic(server, {
  ns = uniqueName('ns'),
  table = 'items',
  kind = 'user',
  columns = 'id BIGINT PRIMARY KEY, body TEXT',
  topic = 'events',
  partitions = 1,
  ops = ['insert'],
  payload = 'full',
  ttlSeconds = 3600,
} = {}) {
  await server.sql(`CREATE NAMESPACE IF NOT EXISTS ${ns}`);
  const fullTable = `${ns}.${table}`;
  const fullTopic = `${ns}.${topic}`;
  const kindWord = kind.toUpperCase();
  const withClause = kind === 'stream' ? ` WITH (TTL_SECONDS = ${ttlSeconds})` : '';
  await server.sql(`CREATE ${kindWord} TABLE ${fullTable} (${columns})${withClause}`);
  await server.sql(`CREATE TOPIC ${fullTopic} PARTITIONS ${partitions}`);
  for (const op of ops) {
    await server.sql(`ALTER TOPIC ${fullTopic} ADD SOURCE ${fullTable} ON ${op.toUpperCase()} WITH (payload = '${payload}')`);
  }
  return { ns, table: fullTable, topic: fullTopic, partitions };
}

/** Poll `fn` until it returns a truthy value; returns that value or throws after timeoutMs. */
export async function waitFor(fn, { timeoutMs = 10_000, intervalMs = 25, message = 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      const detail = last instanceof Error ? `: ${last.message}` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${message}${detail}`);
    }
    await sleep(intervalMs);
  }
}

/**
 * Committed offsets of a group on a topic, from system.topic_offsets:
 * { [partitionId]: lastAckedOffset } (numbers; BIGINT arrives as a string).
 */
export async function committedOffsets(server, topic, group) {
  const rows = await server.rows(
    `SELECT partition_id, last_acked_offset FROM system.topic_offsets WHERE topic_id = '${topic}' AND group_id = '${group}'`,
  );
  const out = {};
  for (const r of rows) out[Number(r.partition_id)] = Number(r.last_acked_offset);
  return out;
}

/** Committed offset of one partition, or undefined when the group never acked it. */
export async function committedOffset(server, topic, group, partition = 0) {
  return (await committedOffsets(server, topic, group))[partition];
}

/**
 * A fetch wrapper that records every request (for counting logins, acks, consumes) and can
 * be handed to createConsumerClient({ fetch }).
 * calls[i] = { method, url, path, body (parsed JSON or text), authorization }
 */
export function recordingFetch(base = globalThis.fetch) {
  const calls = [];
  async function wrapped(input, init) {
    const req = input instanceof Request ? input : null;
    const url = req ? req.url : String(input);
    const method = (init?.method ?? req?.method ?? 'GET').toUpperCase();
    const headers = new Headers(init?.headers ?? req?.headers ?? undefined);
    let bodyText;
    if (init && typeof init.body === 'string') bodyText = init.body;
    else if (init?.body instanceof Uint8Array) bodyText = Buffer.from(init.body).toString('utf8');
    else if (req && !init?.body) {
      try { bodyText = await req.clone().text(); } catch { bodyText = undefined; }
    }
    let body = bodyText;
    if (bodyText) { try { body = JSON.parse(bodyText); } catch { /* keep text */ } }
    calls.push({ method, url, path: new URL(url).pathname, body, authorization: headers.get('authorization') });
    return base(input, init);
  }
  return {
    fetch: wrapped,
    calls,
    to(path) { return calls.filter((c) => c.path === path); },
    get logins() { return calls.filter((c) => c.path === '/v1/api/auth/login'); },
    get refreshes() { return calls.filter((c) => c.path === '/v1/api/auth/refresh'); },
    get consumes() { return calls.filter((c) => c.path === '/v1/api/topics/consume'); },
    get acks() { return calls.filter((c) => c.path === '/v1/api/topics/ack'); },
    get sqls() { return calls.filter((c) => c.path === '/v1/api/sql'); },
  };
}

/** Reject if `promise` does not settle within ms (so a hang fails with a clear message). */
export async function within(ms, promise, what = 'operation') {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export { sleep };
