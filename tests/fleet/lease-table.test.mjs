// ensureTable(): a `service` account creates the lease table in a namespace root made
// (docs/PROTOCOL.md §11); an account that cannot gets LEASE_TABLE with the DDL to run by hand.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServiceUser, uniqueName } from '../support/devserver.mjs';
import { clientFor } from '../support/consumer.mjs';
import { fleet, fleetFixture, leaseRows, leasesFor, ManualClock } from './support.mjs';

const fx = await fleetFixture({ partitions: 1 });

test('a service account creates the table on first use; a second call and a second worker reuse it', async () => {
  const table = `${fx.ns}.leases_${uniqueName('t')}`;
  const groupId = uniqueName('g');
  const clock = new ManualClock();
  const a = leasesFor(fx, { groupId, partitions: [0], clock, table, workerId: 'a' });
  await a.ensureTable();
  await a.ensureTable();
  const other = await createServiceUser(fx.server);
  const b = leasesFor(fx, { groupId, partitions: [0], clock, table, workerId: 'b', sql: clientFor(fx.server, other) });
  await b.ensureTable();
  assert.deepEqual((await a.tick()).acquired, [0]);
  assert.deepEqual((await b.tick()).acquired, []);
  const rows = await leaseRows(fx.server, table, fx.topic, groupId);
  assert.deepEqual(rows.map((r) => [r.partition_id, r.owner_id]).sort(), [[-1, 'a'], [-1, 'b'], [0, 'a']]);
  await Promise.all([a.stop(), b.stop()]);
});

test('the default table is <topic namespace>.consumer_leases', () => {
  const leases = leasesFor(fx, { groupId: 'g', clock: new ManualClock() });
  assert.equal(leases.table, `${fx.ns}.consumer_leases`);
});

test('an account that may not create it gets LEASE_TABLE naming the DDL', async () => {
  const user = await createServiceUser(fx.server, { role: 'user' });
  const table = `${fx.ns}.leases_${uniqueName('t')}`;
  const leases = leasesFor(fx, { groupId: 'g', clock: new ManualClock(), table, sql: clientFor(fx.server, user) });
  await assert.rejects(leases.ensureTable(), (error) => {
    assert.equal(error.code, 'LEASE_TABLE');
    assert.equal(error.kind, 'permanent');
    assert.ok(error.message.includes(fleet.createLeaseTableSql(table)), error.message);
    return true;
  });
});

test('a table without the columns the scheme needs is LEASE_TABLE too', async () => {
  const table = `${fx.ns}.leases_${uniqueName('t')}`;
  await fx.server.sql(`CREATE SHARED TABLE ${table} (lease_key TEXT PRIMARY KEY, owner_id TEXT)`);
  const leases = leasesFor(fx, { groupId: 'g', clock: new ManualClock(), table });
  await assert.rejects(leases.ensureTable(), { code: 'LEASE_TABLE' });
});

test('the table name must be ns.table made of identifiers (it is spliced into SQL)', () => {
  for (const table of ['leases', 'a.b.c', 'ns.t; DROP TABLE x', 'ns."t"', '1ns.t']) {
    assert.throws(() => leasesFor(fx, { groupId: 'g', clock: new ManualClock(), table }), { code: 'INVALID_OPTION' }, table);
  }
});
