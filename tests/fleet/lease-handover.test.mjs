// How a partition changes hands: expiry, graceful release, stop, and the fencing rule
// (canCommit ends before anyone may take over). Clocks are injected and moved by hand; the
// dev server only stores the numbers the workers write.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { uniqueName } from '../support/devserver.mjs';
import { epochKey, fleetFixture, leaseRows, leasesFor, ManualClock } from './support.mjs';

const fx = await fleetFixture({ partitions: 2 });
const table = `${fx.ns}.consumer_leases`;
// leasesFor defaults: leaseMs 1000, renewIntervalMs 300, so the margin is 200.

async function newestRow(groupId, partition) {
  const rows = (await leaseRows(fx.server, table, fx.topic, groupId)).filter((r) => r.partition_id === partition);
  return rows.sort((a, b) => Number(b.epoch) - Number(a.epoch))[0];
}

test('a holder that stops renewing: its canCommit ends at leaseMs - margin, the other worker takes epoch 2 after leaseMs', async () => {
  const groupId = uniqueName('g');
  const clockA = new ManualClock();
  const clockB = new ManualClock(clockA.ms);
  const a = leasesFor(fx, { groupId, partitions: [0], clock: clockA, workerId: 'a' });
  const b = leasesFor(fx, { groupId, partitions: [0], clock: clockB, workerId: 'b' });
  await a.ensureTable();
  const t0 = clockA.ms;
  assert.deepEqual((await a.tick()).acquired, [0]);
  assert.deepEqual((await b.tick()).acquired, []);
  assert.equal(a.canCommit(0), true);
  assert.equal(b.canCommit(0), false);

  // a stops ticking (a hung or partitioned process); b goes on.
  clockA.set(t0 + 799);
  assert.equal(a.canCommit(0), true);
  clockA.set(t0 + 800);
  assert.equal(a.canCommit(0), false, 'fenced at leaseMs - margin, before anyone may take over');
  clockB.set(t0 + 1000);
  assert.deepEqual((await b.tick()).acquired, [], 'expires_at_ms = now still holds');
  clockB.set(t0 + 1001);
  const taken = await b.tick();
  assert.deepEqual(taken.acquired, [0]);
  assert.equal(b.canCommit(0), true);
  const row = await newestRow(groupId, 0);
  assert.equal(Number(row.epoch), 2);
  assert.equal(row.owner_id, 'b');

  // When a runs again it learns the loss and says so.
  clockA.set(t0 + 1001);
  const back = await a.tick();
  assert.deepEqual(back.lost, [0]);
  assert.equal(back.errors.filter((e) => e.code === 'LEASE_LOST').length, 1);
  assert.deepEqual(back.acquired, []);
  assert.deepEqual(a.owned(), []);
  await Promise.all([a.stop(), b.stop()]);
});

test('clocks apart by less than the margin: the old owner is fenced before the other may take over', async () => {
  const groupId = uniqueName('g');
  const skew = 150; // b's clock runs ahead of a's; margin is 200
  const clockA = new ManualClock();
  const clockB = new ManualClock(clockA.ms + skew);
  const a = leasesFor(fx, { groupId, partitions: [0], clock: clockA, workerId: 'a' });
  const b = leasesFor(fx, { groupId, partitions: [0], clock: clockB, workerId: 'b' });
  await a.ensureTable();
  const t0 = clockA.ms;
  assert.deepEqual((await a.tick()).acquired, [0]);
  // Walk real time forward in 10 ms steps; both clocks move together.
  let fencedAt;
  let takenAt;
  for (let t = 0; t <= 1_100 && takenAt === undefined; t += 10) {
    clockA.set(t0 + t);
    clockB.set(t0 + t + skew);
    if (fencedAt === undefined && !a.canCommit(0)) fencedAt = t;
    if ((await b.tick()).acquired.includes(0)) takenAt = t;
  }
  assert.equal(fencedAt, 800);
  assert.equal(takenAt, 860, 'first step where b.now > expires_at_ms (a wrote t0 + 1000)');
  assert.ok(fencedAt < takenAt);
  await Promise.all([a.stop(), b.stop()]);
});

test('a lease row nobody renews is taken only once expires_at_ms < now; a released one at once', async () => {
  const groupId = uniqueName('g');
  const clock = new ManualClock();
  const b = leasesFor(fx, { groupId, partitions: [0, 1], clock, workerId: 'b' });
  await b.ensureTable();
  // A worker that died holding partition 0 (no member row left); partition 1 was released.
  const insert = (partition, expiresAtMs, released) =>
    fx.server.sql(
      `INSERT INTO ${table} (lease_key, topic_id, group_id, partition_id, epoch, owner_id, expires_at_ms, released) ` +
        'VALUES ($1, $2, $3, $4, $5, $6, $7, $8)',
      [epochKey(fx.topic, groupId, partition, 1), fx.topic, groupId, partition, 1, 'ghost', expiresAtMs, released],
    );
  await insert(0, clock.ms + 500, false);
  await insert(1, clock.ms + 500, true);
  assert.deepEqual((await b.tick()).acquired, [1]);
  clock.advance(300);
  assert.deepEqual((await b.tick()).acquired, []);
  clock.advance(200);
  assert.deepEqual((await b.tick()).acquired, [], 'expires_at_ms = now');
  clock.advance(1);
  assert.deepEqual((await b.tick()).acquired, [0]);
  assert.equal(Number((await newestRow(groupId, 0)).epoch), 2);
  await b.stop();
});

test('renewals keep the lease: expires_at_ms moves with every tick and nobody else gets the partition', async () => {
  const groupId = uniqueName('g');
  const clock = new ManualClock();
  const a = leasesFor(fx, { groupId, partitions: [0, 1], clock, workerId: 'a' });
  const b = leasesFor(fx, { groupId, partitions: [0, 1], clock, workerId: 'b' });
  await a.ensureTable();
  assert.deepEqual((await a.tick()).acquired, [0, 1], 'alone, a takes both');
  for (let i = 0; i < 30; i += 1) {
    clock.advance(300);
    const ra = await a.tick();
    const rb = await b.tick();
    assert.deepEqual([ra.lost, rb.lost], [[], []]);
    assert.deepEqual(ra.errors, []);
    // Two members, two partitions: a should hand one over, and b take it once released.
    for (const p of ra.shouldRelease) await a.release(p);
    const row = await newestRow(groupId, 0);
    assert.equal(Number(row.expires_at_ms), clock.ms + 1_000, `partition 0 renewed in round ${i}`);
  }
  assert.deepEqual(a.owned(), [0]);
  assert.deepEqual(b.owned(), [1]);
  assert.equal(Number((await newestRow(groupId, 0)).epoch), 1, 'partition 0 never changed hands');
  await Promise.all([a.stop(), b.stop()]);
});

test('a renewal answered after the lease ran out does not count: the partition is lost', async () => {
  const groupId = uniqueName('g');
  const clock = new ManualClock();
  const base = fx.sqlClient();
  let delayMs = 0;
  // The UPDATE of the epoch row "takes" delayMs of this worker's clock to be answered.
  const sql = {
    queryAll: (text, params) => base.queryAll(text, params),
    async query(text, params) {
      const response = await base.query(text, params);
      if (text.startsWith('UPDATE') && String(params?.[1]).includes('/0/')) clock.advance(delayMs);
      return response;
    },
  };
  const a = leasesFor(fx, { groupId, partitions: [0], clock, workerId: 'a', sql });
  await a.ensureTable();
  const t0 = clock.ms;
  assert.deepEqual((await a.tick()).acquired, [0]);

  clock.set(t0 + 300);
  delayMs = 400; // answered at t0 + 700, inside the lease (valid until t0 + 800): counts
  assert.deepEqual((await a.tick()).lost, []);
  clock.set(t0 + 1_000);
  assert.equal(a.canCommit(0), true, 'valid until t0 + 300 + 800');

  delayMs = 200; // sent at t0 + 1000, answered at t0 + 1200 > t0 + 1100: does not count
  const late = await a.tick();
  assert.deepEqual(late.lost, [0]);
  assert.equal(a.canCommit(0), false);
  assert.match(late.errors.find((e) => e.code === 'LEASE_LOST').message, /expired before a renewal got through/);
  await a.stop();
});

test('a higher epoch in the table makes the owner give the partition up on its next round', async () => {
  const groupId = uniqueName('g');
  const clock = new ManualClock();
  const a = leasesFor(fx, { groupId, partitions: [0], clock, workerId: 'a' });
  await a.ensureTable();
  assert.deepEqual((await a.tick()).acquired, [0]);
  await fx.server.sql(
    `INSERT INTO ${table} (lease_key, topic_id, group_id, partition_id, epoch, owner_id, expires_at_ms, released) ` +
      'VALUES ($1, $2, $3, $4, $5, $6, $7, $8)',
    [epochKey(fx.topic, groupId, 0, 2), fx.topic, groupId, 0, 2, 'intruder', clock.ms + 60_000, false],
  );
  clock.advance(300);
  const round = await a.tick();
  assert.deepEqual(round.lost, [0]);
  assert.match(round.errors.find((e) => e.code === 'LEASE_LOST').message, /intruder holds epoch 2/);
  assert.equal(a.canCommit(0), false);
  assert.deepEqual(round.acquired, [], 'epoch 2 is held');
  await a.stop();
});

test('release() of an extra partition: canCommit ends at once and the other worker takes it on its next tick, same clock', async () => {
  const groupId = uniqueName('g');
  const clock = new ManualClock();
  const a = leasesFor(fx, { groupId, partitions: [0, 1], clock, workerId: 'a' });
  const b = leasesFor(fx, { groupId, partitions: [0, 1], clock, workerId: 'b' });
  await a.ensureTable();
  assert.deepEqual((await a.tick()).acquired, [0, 1], 'alone, a takes both');
  assert.deepEqual((await b.tick()).acquired, [], 'nothing is free yet');
  assert.deepEqual((await a.tick()).shouldRelease, [1], 'two workers: one partition each');
  const releasing = a.release(1);
  assert.equal(a.canCommit(1), false, 'before the UPDATE is even answered');
  assert.equal(a.canCommit(0), true);
  await releasing;
  assert.equal((await newestRow(groupId, 1)).released, true);
  const taken = await b.tick();
  assert.deepEqual(taken.acquired, [1]);
  assert.equal(Number((await newestRow(groupId, 1)).epoch), 2);
  assert.deepEqual([a.owned(), b.owned()], [[0], [1]]);
  await Promise.all([a.stop(), b.stop()]);
});

test('stop(): every partition released, the member row deleted, and the worker inert afterwards', async () => {
  const groupId = uniqueName('g');
  const clock = new ManualClock();
  const a = leasesFor(fx, { groupId, partitions: [0, 1], clock, workerId: 'a' });
  const b = leasesFor(fx, { groupId, partitions: [0, 1], clock, workerId: 'b' });
  await a.ensureTable();
  assert.deepEqual((await a.tick()).acquired, [0, 1]);
  await a.stop();
  assert.equal(a.canCommit(0), false);
  const rows = await leaseRows(fx.server, table, fx.topic, groupId);
  assert.deepEqual(rows.filter((r) => r.partition_id === -1), [], 'member row deleted');
  assert.deepEqual(rows.filter((r) => r.partition_id >= 0).map((r) => r.released), [true, true]);
  assert.deepEqual((await b.tick()).acquired, [0, 1]);
  assert.deepEqual(await a.tick(), { acquired: [], lost: [], shouldRelease: [], errors: [] });
  await b.stop();
});

test('a new process reusing a worker id finds its old member row and its old leases held until they expire', async () => {
  const groupId = uniqueName('g');
  const clock = new ManualClock();
  const first = leasesFor(fx, { groupId, partitions: [0], clock, workerId: 'same' });
  await first.ensureTable();
  assert.deepEqual((await first.tick()).acquired, [0]);
  // The process dies without stop(); its successor uses the same id.
  const second = leasesFor(fx, { groupId, partitions: [0], clock, workerId: 'same' });
  clock.advance(300);
  const round = await second.tick();
  assert.deepEqual(round.errors, [], 'the member INSERT hit the old row and fell back to an UPDATE');
  assert.deepEqual(round.acquired, [], 'the old epoch is not mistaken for its own');
  clock.advance(1_000);
  assert.deepEqual((await second.tick()).acquired, [0]);
  await second.stop();
});

test('ticking more often than renewIntervalMs: writes stay at one per renewIntervalMs / 2, reads see a release at once', async () => {
  const groupId = uniqueName('g');
  const clock = new ManualClock();
  const base = fx.sqlClient();
  const updates = [];
  const sql = {
    queryAll: (text, params) => base.queryAll(text, params),
    query(text, params) {
      if (text.startsWith('UPDATE')) updates.push(clock.ms);
      return base.query(text, params);
    },
  };
  const a = leasesFor(fx, { groupId, partitions: [0, 1], clock, workerId: 'a', sql });
  const b = leasesFor(fx, { groupId, partitions: [0, 1], clock, workerId: 'b' });
  await a.ensureTable();
  const t0 = clock.ms;
  assert.deepEqual((await a.tick()).acquired, [0, 1]);
  updates.length = 0;
  // 30 ticks, 20 ms apart (600 ms): the 300 ms interval allows a write every 150 ms.
  for (let i = 1; i <= 30; i += 1) {
    clock.set(t0 + i * 20);
    await a.tick();
  }
  // Per 160 ms (the first tick at or past 150 ms): 3 UPDATEs (heartbeat and two renewals), 3 times in 600 ms.
  assert.deepEqual(updates, [160, 160, 160, 320, 320, 320, 480, 480, 480].map((ms) => t0 + ms));
  assert.deepEqual((await b.tick()).acquired, []);
  assert.deepEqual((await a.tick()).shouldRelease, [1]);
  await a.release(1);
  clock.advance(20);
  assert.deepEqual((await b.tick()).acquired, [1], '20 ms later, on b\'s next tick');
  await Promise.all([a.stop(), b.stop()]);
});

test('a release that cannot be written still ends the lease locally and is reported to log.warn', async () => {
  const groupId = uniqueName('g');
  const clock = new ManualClock();
  const base = fx.sqlClient();
  let failReleases = false;
  const sql = {
    queryAll: (text, params) => base.queryAll(text, params),
    query(text, params) {
      if (failReleases && text.includes('SET released')) return Promise.reject(new Error('connection reset'));
      return base.query(text, params);
    },
  };
  const warnings = [];
  const a = leasesFor(fx, { groupId, partitions: [0], clock, workerId: 'a', sql, log: { warn: (m) => warnings.push(m) } });
  await a.ensureTable();
  assert.deepEqual((await a.tick()).acquired, [0]);
  failReleases = true;
  await a.release(0);
  assert.equal(a.canCommit(0), false);
  assert.deepEqual(a.owned(), []);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0], /partition 0 released \(connection reset\)/);
  assert.equal((await newestRow(groupId, 0)).released, false, 'the row waits for its expiry instead');
  await a.stop();
});
