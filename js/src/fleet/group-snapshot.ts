import { isHeld, MEMBER_PARTITION, type LeaseRow } from './lease-table.js';

// What one read of the lease table says about a group, at one instant of the reader's clock.
// Pure: partition-leases.ts decides what to do with it.

export class GroupSnapshot {
  /** Highest epoch row per partition: only that row says who owns the partition. */
  readonly newest = new Map<number, LeaseRow>();
  /** Workers whose member row is unexpired and not released. */
  readonly liveMembers = new Set<string>();
  /** Partitions currently held per owner (newest epoch row unexpired, not released). */
  readonly holdings = new Map<string, number>();
  /** Member rows that expired before the reader's `now - leaseMs`: housekeeping may delete them. */
  readonly staleMembers: number;

  constructor(rows: readonly LeaseRow[], readonly nowMs: number, leaseMs: number) {
    let stale = 0;
    for (const row of rows) {
      if (row.partition === MEMBER_PARTITION) {
        if (isHeld(row, nowMs)) this.liveMembers.add(row.ownerId);
        else if (row.expiresAtMs < nowMs - leaseMs) stale += 1;
        continue;
      }
      if (row.partition < 0) continue;
      const current = this.newest.get(row.partition);
      if (current === undefined || row.epoch > current.epoch) this.newest.set(row.partition, row);
    }
    this.staleMembers = stale;
    for (const row of this.newest.values()) {
      if (isHeld(row, nowMs)) this.holdings.set(row.ownerId, (this.holdings.get(row.ownerId) ?? 0) + 1);
    }
  }

  /** Whether anyone may try the next epoch of `partition` now: no epoch yet, or the newest one lapsed or was released. */
  isFree(partition: number): boolean {
    const row = this.newest.get(partition);
    return row === undefined || !isHeld(row, this.nowMs);
  }

  /** The epoch an acquirer of `partition` inserts. */
  nextEpoch(partition: number): number {
    return (this.newest.get(partition)?.epoch ?? 0) + 1;
  }
}
