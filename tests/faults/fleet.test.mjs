// Fault: a fleet of worker PROCESSES (runConsumer with `fleet`, support/fleet-worker.mjs) on one
// group and a 4-partition topic while rows keep arriving: one worker SIGKILLed and restarted, one
// stopped gracefully (SIGTERM -> stopSignal) and replaced, the server SIGKILLed and restarted,
// another worker SIGKILLed and restarted. Each handler call writes its start and end to its
// process's own file; the test reads them back and checks what the fleet promises:
//
// - nothing lost: every inserted row finished at least once;
// - per partition, offsets are processed for the first time in offset order;
// - no partition is ever handled by two handler calls at overlapping times, in one process or
//   across processes. Why that must hold without exception here: a SIGKILLed process stops
//   handling at once (its open call ends at its exit), a graceful stop drains before it releases,
//   and a process whose lease runs out stops starting messages safetyMarginMs (600 ms) before
//   anyone may take over, while these handlers take 4 ms. The at-least-once overlap the docs
//   allow needs a handler still running when the lease lapses; none is that slow here;
// - the committed offset (system.topic_offsets, read as root every 250 ms) never passes an
//   offset that had not finished, and a redelivery only happens above a committed offset seen;
// - every worker that was not SIGKILLed is still running at the end or exited 0 after SIGTERM.
//
// Lease 3 s and visibility timeout 5 s: a crash costs about 3 + 5 s of one partition's progress.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { closeSync, fstatSync, mkdtempSync, openSync, readSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { committedOffsets } from '../support/devserver.mjs';
import { startServer, setupFaultTopic, produce, waitUntil, sleep, ranges, WORKER_PASSWORD } from './support/fault-kit.mjs';

const PARTITIONS = 4;
const LEASE_MS = 3_000;
const VISIBILITY_S = 5;
const HANDLER_MS = 4;
const ROWS_PER_TICK = 8;
const PRODUCE_EVERY_MS = 100;
/** A crashed worker's partitions move on after lease time-out + visibility timeout; this is the slack on top. */
const FAILOVER_BOUND_MS = LEASE_MS + VISIBILITY_S * 1_000 + 6_000;

const WORKER = fileURLToPath(new URL('./support/fleet-worker.mjs', import.meta.url));
const now = () => performance.timeOrigin + performance.now();

const server = await startServer(['--visibility-timeout-secs', String(VISIBILITY_S)]);
const dir = mkdtempSync(join(tmpdir(), 'fleet-fault-'));
const children = new Set();
after(async () => {
  for (const child of children) child.kill('SIGKILL');
  await server.stop({ removeData: true });
  rmSync(dir, { recursive: true, force: true });
});
process.on('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

/** Reads the new complete lines of a file that another process appends JSON lines to. */
class LogTail {
  constructor(file) {
    this.file = file;
    this.pos = 0;
    this.rest = '';
  }
  *read() {
    let fd;
    try {
      fd = openSync(this.file, 'r');
    } catch {
      return; // not created yet
    }
    try {
      const size = fstatSync(fd).size;
      if (size <= this.pos) return;
      const buf = Buffer.alloc(size - this.pos);
      readSync(fd, buf, 0, buf.length, this.pos);
      this.pos = size;
      const lines = (this.rest + buf.toString('utf8')).split('\n');
      this.rest = lines.pop(); // the line being written (or cut by a SIGKILL)
      for (const line of lines) if (line) yield JSON.parse(line);
    } finally {
      closeSync(fd);
    }
  }
}

/** Everything the workers recorded, indexed as it is read. */
class Journal {
  constructor() {
    this.starts = []; // { inst, p, o, id, t }
    this.ends = []; // { inst, p, o, id, t0, t1 }
    this.errors = []; // { inst, phase, code, p, msg }
    this.exits = []; // { inst, ok, error }
    this.endedIds = new Set();
    this.ended = Array.from({ length: PARTITIONS }, () => new Set()); // offsets finished per partition
    this.prefix = Array(PARTITIONS).fill(-1); // every offset <= prefix[p] has finished
  }
  add(inst, entry) {
    switch (entry.k) {
      case 's':
        this.starts.push({ inst, ...entry });
        break;
      case 'e': {
        this.ends.push({ inst, ...entry });
        this.endedIds.add(entry.id);
        this.ended[entry.p].add(entry.o);
        while (this.ended[entry.p].has(this.prefix[entry.p] + 1)) this.prefix[entry.p] += 1;
        break;
      }
      case 'err':
        this.errors.push({ inst, ...entry });
        break;
      case 'exit':
        this.exits.push({ inst, ...entry });
        break;
      default:
    }
  }
  /** Whether `partition` finished a handler call that started after `at`, in a process other than `except`. */
  progressed(partition, at, except) {
    return this.ends.some((e) => e.p === partition && e.t0 > at && e.inst !== except);
  }
}

test('a fleet of 3 worker processes, 4 partitions: SIGKILLs, a graceful stop and a server restart lose nothing, never overlap, never commit past unfinished work', { timeout: 115_000 }, async (t) => {
  const s = await setupFaultTopic(server, { partitions: PARTITIONS });
  const journal = new Journal();
  const workers = []; // { name, child, tail, exited, fate: 'running' | 'killed' | 'stopped', goneAt }

  const spawnWorker = (name) => {
    const cfg = {
      url: server.url, user: s.worker.user, password: WORKER_PASSWORD, topic: s.topic, groupId: s.group,
      partitionCount: PARTITIONS, leaseMs: LEASE_MS, instance: name, log: join(dir, `${name}.jsonl`), handlerMs: HANDLER_MS,
    };
    const child = spawn(process.execPath, [WORKER, JSON.stringify(cfg)], { stdio: ['ignore', 'ignore', 'pipe'] });
    children.add(child);
    let stderr = '';
    child.stderr.on('data', (d) => { stderr = (stderr + d).slice(-4000); });
    const w = { name, child, tail: new LogTail(cfg.log), fate: 'running', goneAt: undefined, stderr: () => stderr };
    w.exited = new Promise((resolve) => child.once('exit', (code, signal) => {
      children.delete(child);
      w.goneAt = now();
      resolve({ code, signal });
    }));
    workers.push(w);
    return w;
  };
  const refresh = () => {
    for (const w of workers) for (const entry of w.tail.read()) journal.add(w.name, entry);
  };
  const kill = async (w) => {
    w.fate = 'killed';
    w.child.kill('SIGKILL');
    await w.exited;
  };
  /** The partitions whose newest lease epoch `name` holds, from the lease table (read as root). */
  const heldBy = async (name) => {
    const rows = await server.rows(
      `SELECT partition_id, epoch, owner_id, released FROM ${s.ns}.consumer_leases WHERE group_id = $1 AND partition_id >= 0 LIMIT 1000`,
      [s.group],
    );
    const newest = new Map();
    for (const r of rows) {
      const p = Number(r.partition_id);
      if (!newest.has(p) || Number(r.epoch) > Number(newest.get(p).epoch)) newest.set(p, r);
    }
    return [...newest].filter(([, r]) => r.owner_id === name && r.released !== true).map(([p]) => p).sort();
  };
  const waitProgress = async (partitions, at, except, what) => {
    const ok = await waitUntil(() => {
      refresh();
      return partitions.every((p) => journal.progressed(p, at, except));
    }, { timeoutMs: FAILOVER_BOUND_MS, intervalMs: 100 });
    const late = partitions.filter((p) => !journal.progressed(p, at, except));
    assert.ok(ok, `${what}: partitions ${late.join(', ')} made no progress within ${FAILOVER_BOUND_MS} ms`);
    const took = partitions.map((p) => Math.min(...journal.ends.filter((e) => e.p === p && e.t0 > at && e.inst !== except).map((e) => e.t0)) - at);
    t.diagnostic(`${what}: partitions ${partitions.join(', ')} moved on after ${took.map((ms) => `${(ms / 1000).toFixed(1)} s`).join(', ')}`);
  };

  // The producer: ROWS_PER_TICK rows every PRODUCE_EVERY_MS, paused while the server restarts.
  let produced = 0;
  let producing = true;
  let paused = false;
  let inFlight = Promise.resolve();
  const producer = (async () => {
    while (producing) {
      if (!paused) {
        inFlight = produce(server, s.events, produced, produced + ROWS_PER_TICK, { chunk: ROWS_PER_TICK });
        await inFlight;
        produced += ROWS_PER_TICK;
      }
      await sleep(PRODUCE_EVERY_MS);
    }
  })();

  // The commit sampler: committed offsets first, then the journal (read after, so every handler
  // end that preceded an ack is in it). A committed offset must never pass an unfinished one.
  const commitSamples = []; // { at, p, c }
  const commitViolations = [];
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      try {
        const committed = await committedOffsets(server, s.topic, s.group);
        const at = now();
        refresh();
        for (const [p, c] of Object.entries(committed)) {
          commitSamples.push({ at, p: Number(p), c });
          if (c > journal.prefix[p]) commitViolations.push({ p: Number(p), committed: c, finishedUpTo: journal.prefix[p] });
        }
      } catch { /* the server is restarting */ }
      await sleep(250);
    }
  })();

  try {
    // 1. Three workers share the four partitions.
    let a = spawnWorker('a1');
    let b = spawnWorker('b1');
    let c = spawnWorker('c1');
    const settled = await waitUntil(() => {
      refresh();
      return [a, b, c].every((w) => journal.ends.some((e) => e.inst === w.name)) &&
        Array.from({ length: PARTITIONS }, (_, p) => p).every((p) => journal.ended[p].size > 0);
    }, { timeoutMs: 30_000, intervalMs: 100 });
    assert.ok(settled, `the three workers did not all start handling within 30 s: ${JSON.stringify(journal.exits)} ${a.stderr()}${b.stderr()}${c.stderr()}`);
    await sleep(1_000);

    // 2. SIGKILL b1 with rows arriving, start its replacement a second later.
    const bHeld = await heldBy('b1');
    assert.ok(bHeld.length > 0, 'b1 holds a partition before it is killed');
    await kill(b);
    const bGone = b.goneAt;
    await sleep(1_000);
    b = spawnWorker('b2');
    await waitProgress(bHeld, bGone, 'b1', 'after SIGKILL of b1');

    // 3. Graceful stop of a1: it drains, commits and releases; the others take over at once.
    const aHeld = await heldBy('a1');
    assert.ok(aHeld.length > 0, 'a1 holds a partition before it is stopped');
    a.fate = 'stopped';
    a.child.kill('SIGTERM');
    const aExit = await Promise.race([a.exited, sleep(20_000).then(() => 'timeout')]);
    assert.deepEqual(aExit, { code: 0, signal: null }, `a1 exits 0 after SIGTERM: ${a.stderr()}`);
    await waitProgress(aHeld, a.goneAt, 'a1', 'after graceful stop of a1');
    a = spawnWorker('a2');
    await sleep(3_000);

    // 4. SIGKILL the server and restart it on the same port and data (the producer waits).
    paused = true;
    await inFlight;
    await server.restart({ kill: true });
    const restartedAt = now();
    paused = false;
    await waitProgress(Array.from({ length: PARTITIONS }, (_, p) => p), restartedAt, undefined, 'after the server restart');

    // 5. SIGKILL c1 and restart it at once, then stop producing.
    const cHeld = await heldBy('c1');
    await kill(c);
    const cGone = c.goneAt;
    c = spawnWorker('c2');
    if (cHeld.length > 0) await waitProgress(cHeld, cGone, 'c1', 'after SIGKILL of c1');
    await sleep(1_000);
    producing = false;
    await producer;

    // 6. Everything finishes and is committed.
    const byPartitionMax = () => journal.ended.map((set) => Math.max(-1, ...set));
    const drained = await waitUntil(async () => {
      refresh();
      if (journal.endedIds.size < produced) return false;
      const committed = await committedOffsets(server, s.topic, s.group);
      const max = byPartitionMax();
      return max.every((m, p) => committed[p] === m);
    }, { timeoutMs: FAILOVER_BOUND_MS + 10_000, intervalMs: 200 });
    sampling = false;
    await sampler;
    refresh();
    const committedAtEnd = await committedOffsets(server, s.topic, s.group);
    const missing = [];
    for (let id = 0; id < produced; id += 1) if (!journal.endedIds.has(id)) missing.push(id);
    assert.deepEqual(ranges(missing), [], `0 messages lost: ids never finished (of ${produced} inserted)`);
    assert.ok(drained, `all finished but not all committed: committed ${JSON.stringify(committedAtEnd)}, finished up to ${JSON.stringify(byPartitionMax())}`);

    // 7. The workers that were not SIGKILLed are still running, and stop cleanly.
    const alive = workers.filter((w) => w.fate === 'running');
    assert.deepEqual(alive.map((w) => [w.name, w.child.exitCode, w.child.signalCode]), alive.map((w) => [w.name, null, null]), 'every worker not killed is still running');
    for (const w of alive) {
      w.fate = 'stopped';
      w.child.kill('SIGTERM');
    }
    const exits = await Promise.all(alive.map((w) => Promise.race([w.exited, sleep(20_000).then(() => 'timeout')])));
    assert.deepEqual(exits, alive.map(() => ({ code: 0, signal: null })), 'every running worker exits 0 after SIGTERM');
    refresh();
  } finally {
    producing = false;
    sampling = false;
    await producer.catch(() => {});
    await sampler;
  }

  // Each stopped worker said its runConsumer resolved; none rejected.
  const stoppedNames = workers.filter((w) => w.fate === 'stopped').map((w) => w.name).sort();
  assert.deepEqual(journal.exits.filter((e) => !e.ok), [], 'no runConsumer rejected');
  assert.deepEqual(journal.exits.map((e) => e.inst).sort(), stoppedNames, 'every stopped worker recorded a clean exit');
  assert.deepEqual(journal.errors.filter((e) => e.phase === 'gap'), [], 'no offsets given up as a gap');

  // Offsets per partition are 0..max with no hole, and each offset belongs to one row.
  const idAt = new Map();
  for (const e of journal.ends) {
    const key = `${e.p}/${e.o}`;
    assert.equal(idAt.get(key) ?? e.id, e.id, `offset ${key} delivered with two different rows`);
    idAt.set(key, e.id);
  }
  assert.equal(idAt.size, produced, 'one finished offset per inserted row');
  for (let p = 0; p < PARTITIONS; p += 1) assert.equal(journal.ended[p].size, Math.max(...journal.ended[p]) + 1, `partition ${p}: offsets 0..max, no hole`);

  // First-time processing in offset order, per partition.
  for (let p = 0; p < PARTITIONS; p += 1) {
    const first = new Map();
    for (const st of journal.starts) if (st.p === p && !(first.get(st.o) <= st.t)) first.set(st.o, st.t);
    const offsets = [...first.keys()].sort((x, y) => x - y);
    const outOfOrder = [];
    for (let i = 1; i < offsets.length; i += 1) {
      if (!(first.get(offsets[i]) > first.get(offsets[i - 1]))) outOfOrder.push([offsets[i - 1], offsets[i]]);
    }
    assert.deepEqual(outOfOrder.slice(0, 5), [], `partition ${p}: an offset was first started before the one below it`);
  }

  // No partition handled by two calls at overlapping times. A call that never ended either
  // belongs to a SIGKILLed process (it ran until that process was gone) or is a failure.
  const fateOf = new Map(workers.map((w) => [w.name, w]));
  const endedKeys = new Set(journal.ends.map((e) => `${e.inst}/${e.p}/${e.o}/${e.t0}`));
  const intervals = journal.ends.map((e) => ({ inst: e.inst, p: e.p, o: e.o, from: e.t0, to: e.t1 }));
  const unfinished = [];
  for (const st of journal.starts) {
    if (endedKeys.has(`${st.inst}/${st.p}/${st.o}/${st.t}`)) continue;
    const w = fateOf.get(st.inst);
    if (w.fate === 'killed') intervals.push({ inst: st.inst, p: st.p, o: st.o, from: st.t, to: w.goneAt });
    else unfinished.push(st);
  }
  assert.deepEqual(unfinished, [], 'a handler call of a worker that was not SIGKILLed never ended');
  for (let p = 0; p < PARTITIONS; p += 1) {
    const list = intervals.filter((i) => i.p === p).sort((x, y) => x.from - y.from);
    const overlaps = [];
    let last;
    for (const i of list) {
      if (last && i.from < last.to) overlaps.push({ earlier: last, later: i });
      if (!last || i.to > last.to) last = i;
    }
    assert.deepEqual(overlaps.slice(0, 3), [], `partition ${p}: two handler calls overlapped in time`);
  }

  // Commits: never past unfinished work (sampled), and at the end exactly the last offset.
  assert.ok(commitSamples.length > 20, `the committed offsets were sampled (${commitSamples.length} samples)`);
  assert.deepEqual(commitViolations.slice(0, 5), [], 'a committed offset passed an offset no handler had finished');

  // A redelivery (a second call for a finished offset) only above a committed offset seen before it.
  const committedBefore = (p, at) => {
    let c = -1;
    for (const smp of commitSamples) if (smp.p === p && smp.at <= at && smp.c > c) c = smp.c;
    return c;
  };
  const firstEnd = new Map();
  for (const e of [...journal.ends].sort((x, y) => x.t1 - y.t1)) if (!firstEnd.has(`${e.p}/${e.o}`)) firstEnd.set(`${e.p}/${e.o}`, e.t1);
  const redeliveries = journal.starts.filter((st) => firstEnd.get(`${st.p}/${st.o}`) < st.t);
  const belowCommit = redeliveries.filter((st) => st.o <= committedBefore(st.p, st.t));
  assert.deepEqual(belowCommit.slice(0, 5), [], 'a committed offset was handled again');
  t.diagnostic(`${produced} rows; ${journal.ends.length} handler calls finished; ${redeliveries.length} redeliveries of finished offsets; ` +
    `${commitSamples.length} commit samples; errors ${JSON.stringify(countBy(journal.errors, (e) => `${e.phase}:${e.code}`))}`);
});

function countBy(list, key) {
  const out = {};
  for (const x of list) out[key(x)] = (out[key(x)] ?? 0) + 1;
  return out;
}
