// The pure parts of the fleet module: fair share, what a read of the lease table means, keys,
// options. No server; the module is internal, so this imports the tsc output in build/tsc/.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const tscOut = new URL('../../build/tsc/fleet/', import.meta.url);
if (!existsSync(fileURLToPath(new URL('index.js', tscOut)))) {
  throw new Error('build/tsc/fleet/index.js is missing: run node scripts/build.mjs first');
}
const load = (file) => import(new URL(file, tscOut).href);
const { fairShare } = await load('fair-share.js');
const { GroupSnapshot } = await load('group-snapshot.js');
const { epochKey, memberKey, parseLeaseRow, defaultLeaseTable } = await load('lease-table.js');
const { isPrimaryKeyViolation } = await load('lease-store.js');
const { resolveFleetOptions, defaultWorkerId, PartitionLeases } = await load('index.js');

const share = (self, members, holdings, partitionCount) =>
  fairShare({ self, members, holdings: new Map(Object.entries(holdings)), partitionCount });

test('fair share: floor(P/N) each, the extra ones to whoever holds most, ties by id', () => {
  const members = ['a', 'b', 'c'];
  assert.deepEqual(members.map((m) => share(m, members, {}, 4)), [2, 1, 1], 'nobody holds anything: by id');
  assert.deepEqual(members.map((m) => share(m, members, { c: 2, b: 1, a: 1 }, 4)), [1, 1, 2], 'c keeps its 2');
  assert.deepEqual(members.map((m) => share(m, members, {}, 2)), [1, 1, 0]);
  assert.deepEqual(members.map((m) => share(m, members, {}, 6)), [2, 2, 2]);
  // Shares always add up to P: no partition is left without a wanted owner.
  for (let p = 1; p <= 9; p += 1) {
    assert.equal(members.reduce((sum, m) => sum + share(m, members, { b: 3 }, p), 0), p);
  }
});

test('fair share: a worker counts itself even when its heartbeat is not visible yet', () => {
  assert.equal(share('new', ['a'], { a: 4 }, 4), 2);
  assert.equal(share('a', [], {}, 4), 4);
});

const row = (partition, epoch, ownerId, expiresAtMs, released = false) => ({
  leaseKey: `k/${partition}/${epoch}/${ownerId}`,
  partition,
  epoch,
  ownerId,
  expiresAtMs,
  released,
});

test('a snapshot: only the newest epoch of a partition counts; expired and released ones are free', () => {
  const now = 10_000;
  const snapshot = new GroupSnapshot(
    [
      row(0, 1, 'a', now + 500), // an older epoch that still looks held: ignored
      row(0, 2, 'b', now - 1),
      row(1, 7, 'a', now),
      row(2, 3, 'c', now + 500, true),
      row(-1, 0, 'a', now + 100),
      row(-1, 0, 'b', now - 1),
      row(-1, 0, 'gone', now - 5_000),
    ],
    now,
    1_000,
  );
  assert.equal(snapshot.newest.get(0).epoch, 2);
  assert.deepEqual([0, 1, 2, 3].map((p) => snapshot.isFree(p)), [true, false, true, true]);
  assert.deepEqual([0, 1, 2, 3].map((p) => snapshot.nextEpoch(p)), [3, 8, 4, 1]);
  assert.deepEqual([...snapshot.liveMembers], ['a']);
  assert.deepEqual([...snapshot.holdings], [['a', 1]]);
  assert.equal(snapshot.staleMembers, 1, 'only rows expired for more than leaseMs');
});

test('keys: a / in a group name cannot make two groups share a key; members never meet epochs', () => {
  assert.notEqual(epochKey('ns.t', 'a/1', 2, 3), epochKey('ns.t', 'a', 1, 2));
  assert.equal(epochKey('ns.t', 'g', 2, 3), 'ns.t/g/2/3');
  assert.equal(memberKey('ns.t', 'g', 'host-1/x'), 'ns.t/g/member/host-1%2Fx');
});

test('rows: BIGINT cells arrive as strings and are read as numbers; foreign rows are skipped', () => {
  assert.deepEqual(
    parseLeaseRow({ lease_key: 'k', partition_id: 3, epoch: '12', owner_id: 'w', expires_at_ms: '1700000000000', released: null }),
    { leaseKey: 'k', partition: 3, epoch: 12, ownerId: 'w', expiresAtMs: 1_700_000_000_000, released: false },
  );
  assert.equal(parseLeaseRow({ lease_key: 'k', partition_id: 3, epoch: 'x', owner_id: 'w', expires_at_ms: '1' }), undefined);
});

test('primary-key violations are recognised in the message or the body, as the real server words them', () => {
  const racing = Object.assign(new Error('SQL failed (HTTP 400 SQL_EXECUTION_ERROR): Statement 1 failed: Execution error: Raft error: Internal error: Provider error: Execution error: Failed to insert batch: Already exists: Primary key violation: value \'0\' already exists in column \'part\''), { name: 'KalamConsumerError', code: 'SQL_EXECUTION_ERROR' });
  assert.equal(isPrimaryKeyViolation(racing), true);
  assert.equal(isPrimaryKeyViolation(Object.assign(new Error('SQL failed'), { body: '{"error":{"message":"Primary key violation: x"}}' })), true);
  assert.equal(isPrimaryKeyViolation(new Error('network error')), false);
  assert.equal(isPrimaryKeyViolation('Primary key violation'), false, 'only errors');
});

test('options: defaults and the timing rule', () => {
  const resolved = resolveFleetOptions('app.events', { workerId: 'w1' });
  assert.deepEqual(resolved, { table: 'app.consumer_leases', workerId: 'w1', leaseMs: 15_000, renewIntervalMs: 5_000, safetyMarginMs: 3_000 });
  assert.equal(resolveFleetOptions('app.events', { leaseMs: 3_000, workerId: 'w' }).renewIntervalMs, 1_000);
  assert.throws(() => resolveFleetOptions('app.events', { leaseMs: 1_000, renewIntervalMs: 800 }), { code: 'INVALID_OPTION' });
  assert.throws(() => resolveFleetOptions('app.events', { leaseMs: 0 }), { code: 'INVALID_OPTION' });
  assert.throws(() => resolveFleetOptions('events'), { code: 'INVALID_OPTION' }, 'no namespace, no default table');
  assert.throws(() => defaultLeaseTable('.events'), { code: 'INVALID_OPTION' });
  const a = defaultWorkerId();
  assert.notEqual(a, defaultWorkerId(), 'random per call');
  assert.match(a, new RegExp(`-${process.pid}-[0-9a-f]{8}$`));
});

test('constructor: bad partitions and a missing sql are INVALID_OPTION before any request', () => {
  const sql = { query: async () => assert.fail('no SQL'), queryAll: async () => assert.fail('no SQL') };
  const base = { sql, topic: 'app.events', groupId: 'g', partitions: [0], workerId: 'w', leaseMs: 1_000, renewIntervalMs: 300 };
  for (const partitions of [[], [-1], [1.5], 'x']) {
    assert.throws(() => new PartitionLeases({ ...base, partitions }), { code: 'INVALID_OPTION' }, JSON.stringify(partitions));
  }
  assert.throws(() => new PartitionLeases({ ...base, sql: {} }), { code: 'INVALID_OPTION' });
  assert.throws(() => new PartitionLeases({ ...base, groupId: '' }), { code: 'INVALID_OPTION' });
  assert.throws(() => new PartitionLeases({ ...base, renewIntervalMs: 900 }), { code: 'INVALID_OPTION' });
  const leases = new PartitionLeases({ ...base, partitions: [3, 1, 3] });
  assert.deepEqual(leases.owned(), []);
  assert.equal(leases.canCommit(1), false);
  assert.equal(leases.safetyMarginMs, 200);
});
