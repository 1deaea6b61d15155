// The real server's UPDATE is not a compare-and-set (docs/PROTOCOL.md §11): several writers can
// all be told row_count 1, and the row ends with one of their values (the others' writes are
// lost). The lease scheme must not care. Here every UPDATE a worker sends is answered with
// row_count 1 whatever it did, and some are not run at all (a lost update), while workers tick
// at uneven paces, stall and come back. Whoever may commit a partition must always be the owner
// of its newest epoch row.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { uniqueName } from '../support/devserver.mjs';
import { fleetFixture, leaseRows, leasesFor, ManualClock } from './support.mjs';

const fx = await fleetFixture({ partitions: 4 });
const table = `${fx.ns}.consumer_leases`;
const PARTITIONS = [0, 1, 2, 3];

/** SQL whose every UPDATE claims to have changed one row; `dropRatio` of them never run. */
function lyingSql(next, dropRatio) {
  const base = fx.sqlClient();
  let lies = 0;
  return {
    lies: () => lies,
    queryAll: (text, params) => base.queryAll(text, params),
    async query(text, params) {
      if (!/^\s*UPDATE/i.test(text)) return base.query(text, params);
      if (next() < dropRatio) {
        lies += 1;
        return { status: 'success', results: [{ row_count: 1, named_rows: [], message: 'Updated 1 row(s)' }] };
      }
      const response = await base.query(text, params);
      if ((response.results[0]?.row_count ?? 0) !== 1) lies += 1;
      return { ...response, results: [{ ...response.results[0], row_count: 1 }] };
    },
  };
}

// A small seeded generator, so a failure replays the same schedule.
function random(seed) {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1_664_525) + 1_013_904_223) >>> 0;
    return state / 2 ** 32;
  };
}

test('UPDATEs that always report row_count 1: whoever may commit is the owner of the newest epoch', async () => {
  const groupId = uniqueName('g');
  const clock = new ManualClock();
  const next = random(12);
  const sqls = [];
  const workers = Array.from({ length: 6 }, (_, i) => {
    const sql = lyingSql(random(100 + i), 0.3);
    sqls.push(sql);
    return leasesFor(fx, { groupId, partitions: PARTITIONS, clock, workerId: `liar-${i}`, sql });
  });
  await workers[0].ensureTable();
  let handovers = 0;
  for (let round = 1; round <= 40; round += 1) {
    clock.advance(100 + Math.floor(next() * 300));
    // Each worker ticks with probability 0.7: the others are stalled this round (GC pause,
    // slow network), some long enough to lose their leases.
    const ticking = workers.filter(() => next() < 0.7);
    const results = await Promise.all(ticking.map((w) => w.tick()));
    for (const [i, result] of results.entries()) {
      handovers += result.acquired.length;
      for (const p of result.shouldRelease) if (next() < 0.5) await ticking[i].release(p);
    }
    const rows = await leaseRows(fx.server, table, fx.topic, groupId);
    for (const p of PARTITIONS) {
      const committers = workers.filter((w) => w.canCommit(p)).map((w) => w.workerId);
      assert.ok(committers.length <= 1, `round ${round}: partition ${p} committable by ${committers}`);
      if (committers.length === 0) continue;
      const newest = rows.filter((r) => r.partition_id === p).sort((a, b) => Number(b.epoch) - Number(a.epoch))[0];
      assert.equal(newest.owner_id, committers[0], `round ${round}: partition ${p}`);
    }
  }
  const lies = sqls.reduce((sum, sql) => sum + sql.lies(), 0);
  assert.ok(handovers > 8, `partitions changed hands ${handovers} times: the schedule exercised takeovers`);
  assert.ok(lies > 20, `${lies} lies told`);
  console.log(`# ${handovers} acquisitions, ${lies} UPDATE answers turned into row_count 1`);
  await Promise.all(workers.map((w) => w.stop()));
});
