import { isKalamConsumerError } from './errors.js';
import type { SqlHelpers } from './sql.js';

// What a `dba` or `system` account reads from the system tables (docs/PROTOCOL.md §5.6):
// committed offsets and the partition count, with no side effect on any group.

/**
 * Rows per page. A SELECT returns at most 1,000 rows whatever its LIMIT, and 50 without one,
 * silently (docs/PROTOCOL.md §11), so every read here pages with ORDER BY + LIMIT.
 */
const PAGE_ROWS = 1000;

type Sql = Pick<SqlHelpers, 'queryAll'>;

/** The group's committed offsets by partition (`last_acked_offset`), every page of them. */
export async function committedFromSql(sql: Sql, topic: string, group: string): Promise<Map<number, number>> {
  const committed = new Map<number, number>();
  for (let offset = 0; ; offset += PAGE_ROWS) {
    const rows = await sql.queryAll<{ partition_id: unknown; last_acked_offset: unknown }>(
      'SELECT partition_id, last_acked_offset FROM system.topic_offsets WHERE topic_id = $1 AND group_id = $2 ' +
        `ORDER BY partition_id LIMIT ${PAGE_ROWS} OFFSET ${offset}`,
      [topic, group],
    );
    // BIGINT columns arrive as strings (docs/PROTOCOL.md §2.3).
    for (const row of rows) committed.set(Number(row.partition_id), Number(row.last_acked_offset));
    if (rows.length < PAGE_ROWS) return committed;
  }
}

/** The topic's partition count from system.topics, or null when there is no such topic. */
export async function partitionCountFromSql(sql: Sql, topic: string): Promise<number | null> {
  const rows = await sql.queryAll<{ partitions: unknown }>('SELECT partitions FROM system.topics WHERE topic_id = $1 LIMIT 1', [topic]);
  const first = rows[0];
  return first === undefined ? null : Number(first.partitions);
}

/**
 * True when SQL failed because the role may not read system tables: 403 `PERMISSION_DENIED`
 * from the server (docs/PROTOCOL.md §1.8, §11). An `@kalamdb/client` sqlClient may reject with
 * the bare response text, so the code is looked for in the body too.
 */
export function isSystemTableDenied(error: unknown): boolean {
  if (!isKalamConsumerError(error)) return false;
  if (error.code === 'PERMISSION_DENIED' || error.code === 'FORBIDDEN' || error.status === 403) return true;
  return typeof error.body === 'string' && error.body.includes('PERMISSION_DENIED');
}
