// @ts-check
// Shared helpers for the production worker scenarios (issue 4, scenarios 1-11).
//
// The dev server is started through the shared harness tests/support/devserver.mjs. SQL used
// to set up and to check a scenario goes over plain HTTP (POST /v1/api/sql) with the scenario's
// own logins (root and the users it creates), so the checks never depend on the package under
// test.
import assert from 'node:assert/strict';
import { readAllPages } from '../support/paging.mjs';

export const ROOT_PASSWORD = 'scenario-root-pass-1';
export const USER_PASSWORD = 'scenario-user-pass-1';

/** Flags every scenario starts the server with (fast bcrypt, no login rate limit). */
export const SERVER_ARGS = ['--bcrypt-cost', '4', '--auth-rate-limit', '0'];

/**
 * @typedef {{ url: string, rootPassword: string, stop: () => Promise<void>, logs: () => string }} Server
 */

/**
 * Starts a dev server for one scenario file through the shared harness
 * (tests/support/devserver.mjs); stop() also removes its data directory.
 * @returns {Promise<Server>}
 */
export async function startServer() {
  const harness = await import('../support/devserver.mjs');
  const server = await harness.startDevServer({ args: [...SERVER_ARGS], rootPassword: ROOT_PASSWORD });
  return {
    get url() {
      return server.url;
    },
    rootPassword: server.rootPassword,
    logs: () => server.logs(),
    stop: () => server.stop({ removeData: true }),
  };
}

export const sleep = (/** @type {number} */ ms) => new Promise((r) => setTimeout(r, ms));

/** A sleep that does not keep the process alive (for deadlines raced against real work). */
const deadline = (/** @type {number} */ ms) => new Promise((r) => setTimeout(r, ms).unref());

/** A SQL error from the server, with its HTTP status and code. */
export class SqlError extends Error {
  /** @param {string} message @param {number} status @param {string | undefined} code */
  constructor(message, status, code) {
    super(message);
    this.name = 'SqlError';
    this.status = status;
    this.code = code;
  }
}

/**
 * A logged-in SQL session over plain HTTP (independent of the package under test).
 * @param {string} url
 * @param {string} user
 * @param {string} password
 */
export async function session(url, user, password) {
  let token = await login(url, user, password);
  /** @param {string} sql @param {unknown[]} [params] */
  async function raw(sql, params) {
    for (let attempt = 1; ; attempt++) {
      const res = await fetch(`${url}/v1/api/sql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify(params === undefined ? { sql } : { sql, params }),
      });
      const text = await res.text();
      let body;
      try {
        body = JSON.parse(text);
      } catch {
        throw new SqlError(`non-JSON SQL response ${res.status}: ${text.slice(0, 300)} for ${sql.slice(0, 200)}`, res.status, undefined);
      }
      if (res.status === 401 && attempt === 1) {
        token = await login(url, user, password);
        continue;
      }
      if (res.status === 429 && attempt < 50) {
        await sleep(100);
        continue;
      }
      if (res.status !== 200 || body.status !== 'success') {
        const err = body.error ?? {};
        throw new SqlError(
          `SQL failed (${res.status} ${err.code}): ${err.message ?? text.slice(0, 300)} -- as ${user}: ${sql.slice(0, 300)}`,
          res.status,
          err.code,
        );
      }
      return body;
    }
  }
  /**
   * Rows of the first result as objects. Like on the real server, at most 50 rows without
   * LIMIT and 1,000 with one: checks that need a whole table use allRows.
   * @param {string} sql @param {unknown[]} [params]
   * @returns {Promise<Record<string, any>[]>}
   */
  async function rows(sql, params) {
    const body = await raw(sql, params);
    return namedRows(body.results?.[0]);
  }
  return {
    user,
    raw,
    /** Runs a statement, returns the raw response. */
    sql: raw,
    rows,
    /**
     * Every row of an ordered SELECT without LIMIT, read in pages (tests/support/paging.mjs).
     * @param {string} sql @param {unknown[]} [params]
     * @returns {Promise<Record<string, any>[]>}
     */
    allRows: (sql, params) => readAllPages(rows, sql, params),
  };
}

/** @param {any} result */
export function namedRows(result) {
  if (!result) return [];
  if (Array.isArray(result.named_rows)) return result.named_rows;
  const schema = result.schema ?? [];
  return (result.rows ?? []).map((/** @type {unknown[]} */ row) => {
    /** @type {Record<string, any>} */
    const obj = {};
    schema.forEach((/** @type {{name: string, index?: number}} */ col, /** @type {number} */ i) => {
      obj[col.name] = row[col.index ?? i];
    });
    return obj;
  });
}

/** @param {string} url @param {string} user @param {string} password */
export async function login(url, user, password) {
  for (let attempt = 1; ; attempt++) {
    const res = await fetch(`${url}/v1/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ user, password }),
    });
    const text = await res.text();
    if (res.status === 429 && attempt < 50) {
      await sleep(100);
      continue;
    }
    if (res.status !== 200) throw new Error(`login of ${user} failed: ${res.status} ${text.slice(0, 300)}`);
    return JSON.parse(text).access_token;
  }
}

/** @typedef {Awaited<ReturnType<typeof session>>} Session */

/**
 * Logs in as root (the server was started with KALAMDB_ROOT_PASSWORD).
 * @param {Server} server
 */
export async function rootSession(server) {
  return session(server.url, 'root', server.rootPassword ?? ROOT_PASSWORD);
}

/**
 * Creates users and returns a logged-in session for each.
 * @param {Session} root @param {string} url @param {string[]} names @param {'user'|'service'|'dba'} role
 * @returns {Promise<Record<string, Session>>}
 */
export async function createUsers(root, url, names, role) {
  /** @type {Record<string, Session>} */
  const out = {};
  for (const name of names) {
    await root.sql(`CREATE USER ${name} WITH PASSWORD '${USER_PASSWORD}' ROLE ${role}`);
  }
  for (const name of names) out[name] = await session(url, name, USER_PASSWORD);
  return out;
}

/** SQL string literal. @param {string} s */
export const lit = (s) => `'${String(s).replace(/'/g, "''")}'`;

/**
 * Committed offsets of a group, as root: Map partition -> last_acked_offset.
 * @param {Session} root @param {string} topic @param {string} group
 */
export async function committedOffsets(root, topic, group) {
  const rows = await root.rows(
    `SELECT partition_id, last_acked_offset FROM system.topic_offsets WHERE topic_id = ${lit(topic)} AND group_id = ${lit(group)}`,
  );
  /** @type {Map<number, number>} */
  const out = new Map();
  for (const r of rows) out.set(Number(r.partition_id), Number(r.last_acked_offset));
  return out;
}

/** Number of messages covered by the committed offsets (offsets are gapless from 0). */
export async function committedCount(/** @type {Session} */ root, /** @type {string} */ topic, /** @type {string} */ group) {
  let n = 0;
  for (const off of (await committedOffsets(root, topic, group)).values()) n += off + 1;
  return n;
}

/**
 * Records every handler invocation so a scenario can check delivery and commits.
 */
export class Ledger {
  constructor() {
    /** @type {{ partition: number, offset: number, key: string | null, op: string, user: string, attempt: number, runKey: string }[]} */
    this.calls = [];
    this.startedAfterStop = 0;
    /** @type {AbortSignal | null} */
    this.signal = null;
    this.inFlight = 0;
    this.maxInFlight = 0;
    /** @type {string[]} contract violations seen inside handlers (reported, not thrown) */
    this.violations = [];
  }

  /**
   * Runs assertions about what the handler received without throwing into the runtime (a
   * thrown assertion would only look like a handler failure); they fail the test at the end.
   * @param {() => void} fn
   */
  check(fn) {
    try {
      fn();
    } catch (e) {
      if (this.violations.length < 20) this.violations.push(String(/** @type {any} */ (e)?.message ?? e));
    }
  }

  /** Call at the start of a handler. @param {any} ctx @param {any} change */
  enter(ctx, change) {
    if (this.signal?.aborted) this.startedAfterStop++;
    this.calls.push({
      partition: change.partitionId,
      offset: change.offset,
      key: change.key,
      op: change.op,
      user: change.user,
      attempt: ctx.attempt,
      runKey: ctx.runKey,
    });
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
  }

  leave() {
    this.inFlight--;
  }

  /** Distinct (partition, offset) pairs handled. */
  distinct() {
    return new Set(this.calls.map((c) => `${c.partition}:${c.offset}`)).size;
  }

  /** Highest offset handled per partition. */
  maxOffsets() {
    /** @type {Map<number, number>} */
    const out = new Map();
    for (const c of this.calls) out.set(c.partition, Math.max(out.get(c.partition) ?? -1, c.offset));
    return out;
  }

  /** Every partition's offsets 0..max were all handled (nothing skipped). */
  assertGapless() {
    /** @type {Map<number, Set<number>>} */
    const seen = new Map();
    for (const c of this.calls) {
      if (!seen.has(c.partition)) seen.set(c.partition, new Set());
      seen.get(c.partition)?.add(c.offset);
    }
    for (const [p, set] of seen) {
      const max = Math.max(...set);
      assert.equal(set.size, max + 1, `partition ${p}: handled ${set.size} distinct offsets but max offset is ${max}`);
    }
  }
}

/**
 * Runs a worker until `until()` holds, then stops it through its AbortSignal and waits for it to
 * resolve. `during()` (optional) runs alongside the worker (writes made while it consumes);
 * `until()` is only checked once it is done. Fails (after stopping the worker) when the state is
 * not reached within timeoutMs, when the worker ends on its own, or when it does not resolve
 * after the stop.
 * @template T
 * @param {{ start: (signal: AbortSignal) => Promise<T>, until: () => Promise<boolean>, during?: () => Promise<void>,
 *           timeoutMs?: number, describe?: () => Promise<string>, ledger?: Ledger, stopGraceMs?: number }} opts
 * @returns {Promise<T | undefined>}
 */
export async function runWorkerUntil({ start, until, during, timeoutMs = 60000, describe, ledger, stopGraceMs = 20000 }) {
  const controller = new AbortController();
  if (ledger) ledger.signal = controller.signal;
  let settled = false;
  /** @type {unknown} */
  let failure;
  const started = Date.now();
  const running = start(controller.signal).then(
    (v) => {
      settled = true;
      return v;
    },
    (e) => {
      settled = true;
      failure = e;
      throw e;
    },
  );
  running.catch(() => {});
  let duringDone = !during;
  /** @type {unknown} */
  let duringError;
  if (during) {
    during().then(
      () => {
        duringDone = true;
      },
      (e) => {
        duringDone = true;
        duringError = e ?? new Error('during() failed');
      },
    );
  }
  let reached = false;
  while (Date.now() - started < timeoutMs) {
    if (settled || duringError) break;
    if (!duringDone) {
      await sleep(20);
      continue;
    }
    try {
      if (await until()) {
        reached = true;
        break;
      }
    } catch (e) {
      // the check itself may fail transiently (e.g. a projection table not created yet)
      if (!(e instanceof SqlError)) throw e;
    }
    await sleep(50);
  }
  if (duringError) {
    controller.abort();
    await Promise.race([running.catch(() => {}), deadline(stopGraceMs)]);
    throw duringError;
  }
  if (settled && !reached) {
    throw new Error(`worker ended before the expected state was reached: ${failure instanceof Error ? failure.stack : String(failure)}`);
  }
  controller.abort();
  const resolved = await Promise.race([
    running.then(
      (v) => ({ ok: true, v }),
      (e) => ({ ok: false, e }),
    ),
    deadline(stopGraceMs).then(() => null),
  ]);
  if (!reached) {
    let extra = describe ? await describe().catch((e) => `describe failed: ${e}`) : '';
    if (ledger?.violations.length) extra += ` handler contract violations: ${ledger.violations.join(' | ')}`;
    throw new Error(`expected state not reached within ${timeoutMs} ms. ${extra}`);
  }
  if (resolved === null) throw new Error(`worker did not resolve within ${stopGraceMs} ms after stopSignal aborted`);
  if (!resolved.ok) throw resolved.e;
  if (ledger) assert.deepEqual(ledger.violations, [], 'what the handler received matches the contract');
  return resolved.v;
}

/** Deterministic PRNG (mulberry32). @param {number} seed */
export function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Row count of a write result, from the package's ctx.sql/query (raw response) or this file's
 * session.sql.
 * @param {any} res
 */
export function affected(res) {
  return Number(res?.results?.[0]?.row_count ?? res?.row_count ?? 0);
}

/** True for the server's duplicate-primary-key error. @param {unknown} e */
export function isDuplicate(e) {
  const msg = String(/** @type {any} */ (e)?.message ?? e);
  return /already exists|duplicate|primary key|unique/i.test(msg);
}

/**
 * Checks the committed offsets of a group against what the handler saw: every partition that
 * delivered messages has its committed offset at the highest delivered offset, no other
 * partition has one, and the total equals `expectedMessages`.
 * @param {Session} root @param {string} topic @param {string} group @param {Ledger} ledger @param {number} expectedMessages
 */
export async function assertCommittedAtEnd(root, topic, group, ledger, expectedMessages) {
  const committed = await committedOffsets(root, topic, group);
  const maxSeen = ledger.maxOffsets();
  assert.deepEqual(
    [...committed.entries()].sort((a, b) => a[0] - b[0]),
    [...maxSeen.entries()].sort((a, b) => a[0] - b[0]),
    'system.topic_offsets.last_acked_offset per partition equals the last delivered offset of that partition',
  );
  let total = 0;
  for (const off of committed.values()) total += off + 1;
  assert.equal(total, expectedMessages, 'committed offsets cover exactly the messages produced');
  assert.equal(ledger.distinct(), expectedMessages, 'every produced message was delivered');
  ledger.assertGapless();
  assert.equal(ledger.startedAfterStop, 0, 'no handler started after stopSignal aborted');
}

/**
 * Runs `fn` over items with at most `limit` at once.
 * @template T @param {T[]} items @param {number} limit @param {(item: T, i: number) => Promise<void>} fn
 */
export async function pool(items, limit, fn) {
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i], i);
    }
  });
  await Promise.all(workers);
}

/**
 * In-process lock per key: what a single worker instance uses to serialise read-modify-write
 * steps on one projection row while partitions run side by side.
 */
export class KeyedMutex {
  constructor() {
    /** @type {Map<string, Promise<void>>} */
    this.tails = new Map();
  }

  /**
   * @template T @param {string} key @param {() => Promise<T>} fn @returns {Promise<T>}
   */
  async run(key, fn) {
    const prev = this.tails.get(key) ?? Promise.resolve();
    /** @type {() => void} */
    let release = () => {};
    const mine = new Promise((r) => {
      release = () => r(undefined);
    });
    const tail = prev.then(() => mine);
    this.tails.set(key, tail);
    await prev;
    try {
      return await fn();
    } finally {
      release();
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }
}

/** Binary string order (what SQL ORDER BY on TEXT gives), unlike localeCompare. @param {string} a @param {string} b */
export const cmp = (a, b) => (a < b ? -1 : a > b ? 1 : 0);
