// Shared pieces of the fault tests: a source table + topic written by a real producing user, a
// SHARED sink table the worker writes into idempotently, a ledger of what the handler finished,
// and checks on the final table state and the committed offset (system.topic_offsets).
//
// The dev server comes from the shared harness tests/support/devserver.mjs; setup and checks run
// as root over plain HTTP (server.sql), never through the package under test.

import assert from 'node:assert/strict';
import { startDevServer, uniqueName, committedOffset, createServiceUser, sleep } from '../../support/devserver.mjs';

export { sleep, committedOffset, uniqueName };

export const WORKER_PASSWORD = 'fault-worker-pass-1';
export const PRODUCER = 'alice';

/** Fast per-message and connection policies so faults cost milliseconds, not seconds. */
export const FAST_RETRY = { maxAttempts: 4, initialBackoffMs: 10, maxBackoffMs: 200, multiplier: 2, jitterRatio: 0 };
/**
 * For workers that must ride out an outage: their handlers write through ctx.sql, which fails
 * while the server is down or the connection is reset. With a finite budget and no onFailed, a
 * message whose attempts all fall into the outage rejects runConsumer with RETRIES_EXHAUSTED
 * (README, "Retries and dead letters"), so these workers retry a message without limit.
 */
export const OUTAGE_RETRY = { ...FAST_RETRY, maxAttempts: Infinity };
export const FAST_CONNECTION_RETRY = { initialBackoffMs: 20, maxBackoffMs: 500, multiplier: 2 };
export const FAST_IDLE = { initialMs: 10, maxMs: 100 };

/** A dev server for one fault test (fast bcrypt, no auth rate limit); stop() removes its data. */
export async function startServer(args = []) {
  return startDevServer({ args: ['--bcrypt-cost', '4', '--auth-rate-limit', '0', ...args] });
}

/**
 * Namespace, producer user, worker (role service), USER source table `events` with an INSERT
 * route to topic `topic`, and a SHARED `sink` the worker projects into, plus `dead` for dead
 * letters. Returns the names.
 */
export async function setupFaultTopic(server, { partitions = 1 } = {}) {
  const ns = uniqueName('flt');
  const worker = await createServiceUser(server, { user: uniqueName('wk'), password: WORKER_PASSWORD });
  await server.sql(`CREATE NAMESPACE ${ns}`);
  try {
    await server.sql(`CREATE USER ${PRODUCER} WITH PASSWORD 'alice-pass-1' ROLE user`);
  } catch (err) {
    if (!/already exists/i.test(String(err.message))) throw err;
  }
  const events = `${ns}.events`;
  const topic = `${ns}.events_t`;
  const sink = `${ns}.sink`;
  const dead = `${ns}.dead`;
  await server.sql(`CREATE USER TABLE ${events} (id BIGINT PRIMARY KEY, body TEXT)`);
  await server.sql(`CREATE SHARED TABLE ${sink} (id BIGINT PRIMARY KEY, body TEXT, body_len INT)`);
  await server.sql(`CREATE SHARED TABLE ${dead} (src_offset BIGINT PRIMARY KEY, reason TEXT)`);
  await server.sql(`CREATE TOPIC ${topic} PARTITIONS ${partitions}`);
  await server.sql(`ALTER TOPIC ${topic} ADD SOURCE ${events} ON INSERT WITH (payload = 'full')`);
  return { ns, worker, events, topic, sink, dead, group: uniqueName('grp') };
}

/** Writes events with ids from..to-1 (body `e<id>`) as the producing user, `chunk` rows per INSERT. */
export async function produce(server, events, from, to, { chunk = 250 } = {}) {
  for (let start = from; start < to; start += chunk) {
    const values = [];
    for (let id = start; id < Math.min(to, start + chunk); id++) values.push(`(${id}, 'e${id}')`);
    await server.sql(`EXECUTE AS USER '${PRODUCER}' (INSERT INTO ${events} (id, body) VALUES ${values.join(', ')})`);
  }
}

const DUPLICATE = /primary key|duplicate|already exists|unique/i;

/** True when a SQL error says the row is already there (the write happened before). */
export function isDuplicate(err) {
  return DUPLICATE.test(String(err?.message ?? err)) || DUPLICATE.test(String(err?.body ?? ''));
}

/**
 * The handler's effect: one sink row per event id. A duplicate key means an earlier attempt or
 * delivery already wrote it (its response may have been lost), so it counts as done.
 * Returns 'written' or 'duplicate'.
 */
export async function projectIdempotently(ctx, sink, change) {
  const id = Number(change.data?.id);
  if (!Number.isSafeInteger(id)) throw new Error(`event at offset ${change.offset} has no numeric id: ${JSON.stringify(change.data)?.slice(0, 200)}`);
  const body = String(change.data.body);
  try {
    await ctx.sql(`INSERT INTO ${sink} (id, body, body_len) VALUES ($1, $2, $3)`, [id, body.slice(0, 64), body.length]);
    return 'written';
  } catch (err) {
    if (isDuplicate(err)) return 'duplicate';
    throw err;
  }
}

/** What the handler finished, per offset, in order. */
export class Ledger {
  constructor() {
    this.finished = []; // { offset, id, epoch, at }
    this.byOffset = new Map(); // offset -> count of finished deliveries
    this.afterStop = [];
    this.stopped = false;
  }
  record(change, epoch = 0) {
    this.finished.push({ offset: change.offset, id: change.data?.id, epoch, at: Date.now() });
    this.byOffset.set(change.offset, (this.byOffset.get(change.offset) ?? 0) + 1);
  }
  get distinct() { return this.byOffset.size; }
  missing(total) {
    const out = [];
    for (let o = 0; o < total; o++) if (!this.byOffset.has(o)) out.push(o);
    return out;
  }
  duplicates() {
    return [...this.byOffset].filter(([, n]) => n > 1).map(([o]) => o);
  }
}

/** Sink rows as numbers: { count, ids: Set }. */
export async function sinkState(server, sink) {
  const rows = await server.allRows(`SELECT id, body, body_len FROM ${sink} ORDER BY id`);
  return { count: rows.length, ids: new Set(rows.map((r) => Number(r.id))), rows };
}

/** Asserts the sink holds exactly the ids in `expected` (an iterable of numbers), once each. */
export async function assertSinkExactly(server, sink, expected) {
  const want = [...expected].sort((a, b) => a - b);
  const { count, ids } = await sinkState(server, sink);
  const missing = want.filter((id) => !ids.has(id));
  const wantSet = new Set(want);
  const extra = [...ids].filter((id) => !wantSet.has(id));
  assert.deepEqual({ missing: ranges(missing), extra: ranges(extra) }, { missing: [], extra: [] },
    'sink table must hold every expected event id, nothing else');
  assert.equal(count, want.length, 'each event exactly once in the sink table (id is its primary key)');
}

/** Waits until `check()` is truthy, for at most timeoutMs; returns the last value (falsy on timeout). */
export async function waitUntil(check, { timeoutMs, intervalMs = 50 }) {
  const deadline = Date.now() + timeoutMs;
  let value;
  for (;;) {
    try { value = await check(); } catch { value = undefined; }
    if (value || Date.now() > deadline) return value;
    await sleep(intervalMs);
  }
}

/**
 * Starts `run(signal)` (a runConsumer call) and tracks its outcome without awaiting it, so a
 * rejection at any moment is seen. `stop()` aborts and waits (bounded) for it to settle.
 */
export function supervise(run, { settleMs = 20_000 } = {}) {
  const controller = new AbortController();
  const outcome = { settled: false, rejected: false, error: undefined, at: 0 };
  const promise = Promise.resolve()
    .then(() => run(controller.signal))
    .then(
      () => { outcome.settled = true; outcome.at = Date.now(); },
      (error) => { outcome.settled = true; outcome.rejected = true; outcome.error = error; outcome.at = Date.now(); },
    );
  return {
    signal: controller.signal,
    outcome,
    abort: () => controller.abort(),
    async stop() {
      controller.abort();
      let timer;
      await Promise.race([promise, new Promise((r) => { timer = setTimeout(r, settleMs); })]);
      clearTimeout(timer);
      return outcome;
    },
  };
}

/** Error text for a failure message: code + message, short. */
export function describe(err) {
  if (!err) return String(err);
  return `${err.name ?? 'Error'}${err.code ? `[${err.code}]` : ''}: ${String(err.message ?? err).slice(0, 300)}`;
}

/** [1,2,3,7,9,10] -> ['1-3', '7', '9-10']: short failure messages for offset lists. */
export function ranges(numbers) {
  const sorted = [...numbers].sort((a, b) => a - b);
  const out = [];
  for (let i = 0; i < sorted.length; i++) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j] + 1) j++;
    out.push(i === j ? `${sorted[i]}` : `${sorted[i]}-${sorted[j]}`);
    i = j;
  }
  return out;
}

/** A compact histogram of onError phases / codes, for diagnostics. */
export function errorSummary(errors) {
  const counts = {};
  for (const e of errors) {
    const k = `${e.phase}:${e.error?.code ?? e.error?.name ?? '?'}`;
    counts[k] = (counts[k] ?? 0) + 1;
  }
  return counts;
}
