// Shared setup for the partition-lease tests: a dev server, a topic whose namespace root made,
// a `service` account that does everything else, and clocks the tests move by hand.
//
// The fleet module is internal (the engine wires it in), so it is imported from the unbundled
// tsc output that `node scripts/build.mjs` leaves in build/tsc/, like tests/unit does.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createServiceUser, setupTopic, uniqueName, useDevServer } from '../support/devserver.mjs';
import { clientFor } from '../support/consumer.mjs';

const tscOut = new URL('../../build/tsc/', import.meta.url);
if (!existsSync(fileURLToPath(new URL('fleet/index.js', tscOut)))) {
  throw new Error('build/tsc/fleet/index.js is missing: run node scripts/build.mjs first');
}
export const fleet = await import(new URL('fleet/index.js', tscOut).href);
export const { LeaseStore } = await import(new URL('fleet/lease-store.js', tscOut).href);
export const { claimEpoch } = await import(new URL('fleet/epoch-claim.js', tscOut).href);
export const { epochKey } = await import(new URL('fleet/lease-table.js', tscOut).href);

/**
 * One server per test file; root creates the namespace and the topic (PARTITIONS n), then a
 * `service` user (`CREATE USER w WITH PASSWORD 'p' ROLE service`) does all lease work.
 */
export async function fleetFixture({ partitions = 4 } = {}) {
  const server = await useDevServer();
  const { ns, topic } = await setupTopic(server, { partitions });
  const creds = await createServiceUser(server);
  /** A fresh client (its own login and connections), as a separate worker process would have. */
  const sqlClient = () => clientFor(server, creds);
  return { server, ns, topic, creds, sqlClient };
}

/** A clock that only moves when told to; each worker can have its own to model skew. */
export class ManualClock {
  constructor(startMs = 1_700_000_000_000) {
    this.ms = startMs;
    this.now = () => this.ms;
  }
  advance(ms) {
    this.ms += ms;
    return this.ms;
  }
  set(ms) {
    this.ms = ms;
    return this.ms;
  }
}

/** A PartitionLeases with short test timings unless overridden. */
export function leasesFor(fixture, { groupId, workerId = uniqueName('w'), partitions = [0, 1, 2, 3], clock, sql, ...rest }) {
  return new fleet.PartitionLeases({
    sql: sql ?? fixture.sqlClient(),
    topic: fixture.topic,
    groupId,
    partitions,
    workerId,
    leaseMs: 1_000,
    renewIntervalMs: 300,
    now: clock.now,
    ...rest,
  });
}

/** The lease table's rows for one group, straight from the server (as root), paged by key. */
export async function leaseRows(server, table, topic, groupId) {
  const rows = [];
  let after = '';
  for (;;) {
    const page = await server.rows(
      `SELECT lease_key, partition_id, epoch, owner_id, expires_at_ms, released FROM ${table} ` +
        'WHERE topic_id = $1 AND group_id = $2 AND lease_key > $3 ORDER BY lease_key LIMIT 500',
      [topic, groupId, after],
    );
    rows.push(...page);
    if (page.length < 500) return rows;
    after = page[page.length - 1].lease_key;
  }
}

/** Who owns what across several PartitionLeases, as a sorted list of `[partition, workerId]`. */
export function ownership(workers) {
  return workers
    .flatMap((w) => w.owned().map((p) => [p, w.workerId]))
    .sort((a, b) => a[0] - b[0]);
}
