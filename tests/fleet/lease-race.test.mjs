// Mutual exclusion of partition leases rests only on the primary-key conflict of an INSERT
// (docs/PROTOCOL.md §11). These tests race many claimants for the same epoch, round after round,
// against the dev server, as a `service` account.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { uniqueName } from '../support/devserver.mjs';
import { claimEpoch, epochKey, fleetFixture, leaseRows, leasesFor, LeaseStore, ManualClock } from './support.mjs';

const fx = await fleetFixture({ partitions: 1 });
const table = `${fx.ns}.consumer_leases`;

async function preparedGroup() {
  const groupId = uniqueName('g');
  const setup = leasesFor(fx, { groupId, partitions: [0], clock: new ManualClock() });
  await setup.ensureTable();
  return groupId;
}

for (const claimants of [16, 32, 64]) {
  test(`${claimants} claimants INSERT the same epoch at once, 12 rounds: exactly one wins each`, async () => {
    const groupId = await preparedGroup();
    const partition = 0;
    // One client per claimant: its own login and connections, like separate processes.
    const stores = Array.from({ length: claimants }, () => new LeaseStore(fx.sqlClient(), table, fx.topic, groupId));
    await Promise.all(stores.map((store) => store.newestEpoch(partition))); // log every client in before racing
    const winners = [];
    for (let epoch = 1; epoch <= 12; epoch += 1) {
      const rows = stores.map((_, i) => ({
        leaseKey: epochKey(fx.topic, groupId, partition, epoch),
        partition,
        epoch,
        ownerId: `claimant-${i}`,
        expiresAtMs: 1_700_000_000_000 + epoch * 1000 + i,
        released: false,
      }));
      const results = await Promise.all(stores.map((store, i) => claimEpoch(store, rows[i])));
      const won = results.flatMap((result, i) => (result.won ? [i] : []));
      assert.equal(won.length, 1, `epoch ${epoch}: winners ${JSON.stringify(won)}`);
      // Every loser was told by a primary-key violation, not by some other failure.
      for (const [i, result] of results.entries()) {
        assert.deepEqual(result.errors, [], `claimant ${i} of epoch ${epoch}`);
        assert.equal(result.inserted, i === won[0]);
      }
      winners.push(`claimant-${won[0]}`);
    }
    const rows = await leaseRows(fx.server, table, fx.topic, groupId);
    const epochRows = rows.filter((row) => row.partition_id === partition).sort((a, b) => Number(a.epoch) - Number(b.epoch));
    assert.deepEqual(
      epochRows.map((row) => [Number(row.epoch), row.owner_id]),
      winners.map((owner, i) => [i + 1, owner]),
      'one row per epoch, owned by the claimant that was told it won',
    );
  });
}

test('an epoch re-inserted under a higher one (a stale read after old epochs were deleted) is not won', async () => {
  const groupId = await preparedGroup();
  const store = new LeaseStore(fx.sqlClient(), table, fx.topic, groupId);
  const row = (epoch, ownerId) => ({
    leaseKey: epochKey(fx.topic, groupId, 0, epoch),
    partition: 0,
    epoch,
    ownerId,
    expiresAtMs: 1_700_000_000_000 + epoch,
    released: false,
  });
  for (let epoch = 1; epoch <= 4; epoch += 1) assert.equal((await claimEpoch(store, row(epoch, 'current'))).won, true);
  await store.deleteEpochsBelow(0, 3); // the owner of epoch 4 keeps 3 and 4
  const stale = await claimEpoch(store, row(1, 'stale'));
  assert.equal(stale.inserted, true, 'the deleted key was free again');
  assert.equal(stale.won, false, 'epoch 4 is newer');
  const gone = await claimEpoch(store, row(3, 'stale'));
  assert.deepEqual(gone, { won: false, inserted: false, errors: [] }, 'epoch 3 still exists: primary-key violation');
});

test('16 PartitionLeases ticking at once on one partition, 10 expiry rounds: one owner per epoch, never two at once', async () => {
  const groupId = await preparedGroup();
  const clock = new ManualClock();
  const workers = Array.from({ length: 16 }, (_, i) =>
    leasesFor(fx, { groupId, partitions: [0], clock, workerId: `racer-${String(i).padStart(2, '0')}` }),
  );
  let previous;
  for (let round = 1; round <= 10; round += 1) {
    // Everything lapses (leases and member rows), so each worker's view of the group is
    // whatever its own read finds while the others are heartbeating: many try to acquire.
    clock.advance(2_000);
    const results = await Promise.all(workers.map((w) => w.tick()));
    const acquired = workers.filter((_, i) => results[i].acquired.includes(0));
    assert.equal(acquired.length, 1, `round ${round}: ${acquired.map((w) => w.workerId)}`);
    const owners = workers.filter((w) => w.canCommit(0));
    assert.deepEqual(owners.map((w) => w.workerId), [acquired[0].workerId]);
    const lostBy = workers.filter((_, i) => results[i].lost.includes(0));
    assert.deepEqual(lostBy.map((w) => w.workerId), previous ? [previous.workerId] : [], 'the previous owner reports its expired lease');
    previous = acquired[0];
  }
  const rows = await leaseRows(fx.server, table, fx.topic, groupId);
  const newest = Math.max(...rows.filter((r) => r.partition_id === 0).map((r) => Number(r.epoch)));
  assert.equal(newest, 10, 'one epoch per round');
  await Promise.all(workers.map((w) => w.stop()));
});
