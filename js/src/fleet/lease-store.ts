import { isKalamConsumerError } from '../errors.js';
import type { QueryResponse, SqlHelpers } from '../sql.js';
import { LEASE_COLUMNS, MEMBER_PARTITION, parseLeaseRow, type LeaseRow } from './lease-table.js';

// Every statement the lease scheme sends, in one place, so the list of what a server must
// support (and what the dev server is tested with) is this file.
//
// Which results are trusted: an INSERT's success or primary-key conflict decides ownership
// (docs/PROTOCOL.md §11: exclusive, 1 of 16 wins). An UPDATE's row_count decides nothing about
// ownership (§11: several concurrent conditional UPDATEs all report 1): UPDATEs here only ever
// touch a row that a single worker writes (its own epoch row, its own member row), selected by
// primary key, never with a condition that other writers race on.

/** The SQL surface the fleet needs: `client.query`/`queryAll` or a runtime `ctx` (js/src/sql.ts). */
export type SqlLike = Pick<SqlHelpers, 'query' | 'queryAll'>;

/** Page size for reads: below the server's silent 1,000-row cap (docs/PROTOCOL.md §11). */
export const PAGE_ROWS = 500;
/** 100 pages = 50,000 rows: far beyond 2 rows per partition plus one per worker. */
const MAX_PAGES = 100;

/** The server's answer to an INSERT of a primary key that exists (§11, both sequential and racing). */
export function isPrimaryKeyViolation(error: unknown): boolean {
  if (!isKalamConsumerError(error) && !(error instanceof Error)) return false;
  const body = (error as { body?: unknown }).body;
  const text = `${error.message} ${typeof body === 'string' ? body : ''}`;
  return /primary key violation/i.test(text);
}

function rowCount(response: QueryResponse): number {
  return response.results[0]?.row_count ?? 0;
}

export class LeaseStore {
  constructor(
    private readonly sql: SqlLike,
    readonly table: string,
    private readonly topic: string,
    private readonly groupId: string,
  ) {}

  /** One cheap read of every column the scheme uses: fails if the table or a column is missing or unreadable. */
  async probe(): Promise<void> {
    await this.sql.queryAll(`SELECT ${LEASE_COLUMNS} FROM ${this.table} LIMIT 1`);
  }

  /**
   * Every row of this topic and group (epoch rows and member rows), paged by primary key: a
   * SELECT is cut at 50 or 1,000 rows without a word (§11). Key-set paging (`lease_key > last`)
   * never skips a row that exists for the whole read, unlike OFFSET paging under inserts.
   */
  async readGroup(): Promise<LeaseRow[]> {
    const rows: LeaseRow[] = [];
    let after = '';
    for (let page = 0; page < MAX_PAGES; page += 1) {
      const raw = await this.sql.queryAll<Record<string, unknown>>(
        `SELECT ${LEASE_COLUMNS} FROM ${this.table} WHERE topic_id = $1 AND group_id = $2 AND lease_key > $3 ` +
          `ORDER BY lease_key LIMIT ${PAGE_ROWS}`,
        [this.topic, this.groupId, after],
      );
      for (const item of raw) {
        const row = parseLeaseRow(item);
        if (row) rows.push(row);
      }
      const last = raw[raw.length - 1]?.['lease_key'];
      if (raw.length < PAGE_ROWS || typeof last !== 'string') return rows;
      after = last;
    }
    throw new Error(`fleet: more than ${MAX_PAGES * PAGE_ROWS} lease rows for one group in ${this.table}`);
  }

  /** The highest epoch row of one partition, or undefined when it has none. */
  async newestEpoch(partition: number): Promise<LeaseRow | undefined> {
    const raw = await this.sql.queryAll<Record<string, unknown>>(
      `SELECT ${LEASE_COLUMNS} FROM ${this.table} WHERE topic_id = $1 AND group_id = $2 AND partition_id = $3 ` +
        'ORDER BY epoch DESC LIMIT 1',
      [this.topic, this.groupId, partition],
    );
    return raw[0] === undefined ? undefined : parseLeaseRow(raw[0]);
  }

  /** Inserts a row; rejects with a primary-key violation when the key exists (see isPrimaryKeyViolation). */
  async insert(row: LeaseRow): Promise<void> {
    await this.sql.query(
      `INSERT INTO ${this.table} (lease_key, topic_id, group_id, partition_id, epoch, owner_id, expires_at_ms, released) ` +
        'VALUES ($1, $2, $3, $4, $5, $6, $7, $8)',
      [row.leaseKey, this.topic, this.groupId, row.partition, row.epoch, row.ownerId, row.expiresAtMs, row.released],
    );
  }

  /**
   * Moves a member row's expiry. Only ever called by the single writer of that row. Returns
   * row_count: 0 when the row is gone, and also when the value did not change (a no-op UPDATE
   * counts 0 rows, docs/PROTOCOL.md §2.2).
   */
  async setExpiry(leaseKey: string, expiresAtMs: number): Promise<number> {
    const response = await this.sql.query(`UPDATE ${this.table} SET expires_at_ms = $1 WHERE lease_key = $2`, [
      expiresAtMs,
      leaseKey,
    ]);
    return rowCount(response);
  }

  /**
   * Moves an epoch row's expiry forward, never back: a renewal the worker gave up on (timed
   * out) that the server runs late then changes nothing. The condition is a safeguard, not a
   * lock (the UPDATE is not atomic, §11): the owner trusts a renewal only once a later read
   * shows the new expiry (partition-leases.ts). row_count 0: the row is gone or already later.
   */
  async extendExpiry(leaseKey: string, expiresAtMs: number): Promise<number> {
    const response = await this.sql.query(
      `UPDATE ${this.table} SET expires_at_ms = $1 WHERE lease_key = $2 AND expires_at_ms < $3`,
      [expiresAtMs, leaseKey, expiresAtMs],
    );
    return rowCount(response);
  }

  /** Marks the owner's own epoch row released: others may take the partition at once. */
  async markReleased(leaseKey: string): Promise<void> {
    await this.sql.query(`UPDATE ${this.table} SET released = $1 WHERE lease_key = $2`, [true, leaseKey]);
  }

  async deleteRow(leaseKey: string): Promise<void> {
    await this.sql.query(`DELETE FROM ${this.table} WHERE lease_key = $1`, [leaseKey]);
  }

  /**
   * Drops epochs below `belowEpoch` of one partition. Safe against a racing acquirer with a
   * stale read that re-inserts a deleted epoch: the highest epoch is never deleted, so that
   * acquirer's check after its INSERT sees a higher epoch and gives up (partition-leases.ts).
   */
  async deleteEpochsBelow(partition: number, belowEpoch: number): Promise<void> {
    await this.sql.query(
      `DELETE FROM ${this.table} WHERE topic_id = $1 AND group_id = $2 AND partition_id = $3 AND epoch < $4`,
      [this.topic, this.groupId, partition, belowEpoch],
    );
  }

  /** Drops member rows that expired before `beforeMs`; a member that was only slow inserts its row again. */
  async deleteMembersExpiredBefore(beforeMs: number): Promise<void> {
    await this.sql.query(
      `DELETE FROM ${this.table} WHERE topic_id = $1 AND group_id = $2 AND partition_id = $3 AND expires_at_ms < $4`,
      [this.topic, this.groupId, MEMBER_PARTITION, beforeMs],
    );
  }
}
