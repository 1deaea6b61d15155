import { invalidOption } from '../errors.js';

// The lease table's vocabulary: its name, its DDL, its primary keys and how its rows read back.
// No I/O here; lease-store.ts runs the statements.
//
// One row per (topic, group, partition, epoch) and one per live worker (the member rows).
// Column names avoid reserved words (`partition`, `group`, `offset`, ...: docs/PROTOCOL.md §5.1).

/** `partition_id` of a member (heartbeat) row; real partitions are >= 0. */
export const MEMBER_PARTITION = -1;

const IDENTIFIER = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;

/** `<namespace of the topic>.consumer_leases`: a `service` account may create it there (§11). */
export function defaultLeaseTable(topic: string): string {
  const dot = topic.indexOf('.');
  if (dot <= 0) throw invalidOption(`fleet: topic '${topic}' is not namespace-qualified (ns.topic)`);
  return `${topic.slice(0, dot)}.consumer_leases`;
}

/**
 * The table name is spliced into SQL text (identifiers cannot be parameters), so it must be
 * `ns.name` made of plain identifiers and nothing else.
 */
export function checkLeaseTable(table: string): string {
  const parts = typeof table === 'string' ? table.split('.') : [];
  if (parts.length !== 2 || !parts.every((part) => IDENTIFIER.test(part))) {
    throw invalidOption(`fleet: lease table must be 'namespace.table' (letters, digits, underscores), got '${String(table)}'`);
  }
  return table;
}

/**
 * SHARED: one table for every worker of every group (docs/PROTOCOL.md §5.3; USER tables would
 * give each account its own rows). `released` stays nullable so a hand-made table that omits a
 * default still works; the package always writes it.
 */
export function createLeaseTableSql(table: string): string {
  return (
    `CREATE SHARED TABLE IF NOT EXISTS ${table} (` +
    'lease_key TEXT PRIMARY KEY, topic_id TEXT NOT NULL, group_id TEXT NOT NULL, ' +
    'partition_id INT NOT NULL, epoch BIGINT NOT NULL, owner_id TEXT NOT NULL, ' +
    'expires_at_ms BIGINT NOT NULL, released BOOLEAN)'
  );
}

// Topic and group are URI-encoded so that a '/' inside a group name cannot make two different
// (topic, group, partition, epoch) tuples share a key: a shared key would be a spurious primary
// key conflict between unrelated groups.
function keyPrefix(topic: string, groupId: string): string {
  return `${encodeURIComponent(topic)}/${encodeURIComponent(groupId)}`;
}

/** The primary key of one epoch of one partition: only one INSERT of it can succeed (§11). */
export function epochKey(topic: string, groupId: string, partition: number, epoch: number): string {
  return `${keyPrefix(topic, groupId)}/${partition}/${epoch}`;
}

/** A worker's heartbeat row; 'member' is never a partition number, so it cannot meet an epoch key. */
export function memberKey(topic: string, groupId: string, workerId: string): string {
  return `${keyPrefix(topic, groupId)}/member/${encodeURIComponent(workerId)}`;
}

export interface LeaseRow {
  leaseKey: string;
  /** MEMBER_PARTITION for member rows. */
  partition: number;
  epoch: number;
  ownerId: string;
  expiresAtMs: number;
  released: boolean;
}

/** The columns every read selects, in the order parseLeaseRow expects by name. */
export const LEASE_COLUMNS = 'lease_key, partition_id, epoch, owner_id, expires_at_ms, released';

// BIGINT cells arrive as JSON strings, INT cells as numbers (docs/PROTOCOL.md §2.3).
function toInteger(value: unknown): number | undefined {
  const number = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  return typeof number === 'number' && Number.isSafeInteger(number) ? number : undefined;
}

/** A row as the server returns it, or undefined when it is not one of ours (then it is ignored). */
export function parseLeaseRow(raw: Record<string, unknown>): LeaseRow | undefined {
  const partition = toInteger(raw['partition_id']);
  const epoch = toInteger(raw['epoch']);
  const expiresAtMs = toInteger(raw['expires_at_ms']);
  const leaseKey = raw['lease_key'];
  const ownerId = raw['owner_id'];
  if (partition === undefined || epoch === undefined || expiresAtMs === undefined) return undefined;
  if (typeof leaseKey !== 'string' || typeof ownerId !== 'string') return undefined;
  const released = raw['released'] === true || raw['released'] === 'true';
  return { leaseKey, partition, epoch, ownerId, expiresAtMs, released };
}

/** Whether a row still holds its partition (or marks a live member) at `nowMs`. */
export function isHeld(row: LeaseRow, nowMs: number): boolean {
  // expires_at_ms < now is the takeover rule; equal still counts as held (the cautious side).
  return !row.released && row.expiresAtMs >= nowMs;
}
