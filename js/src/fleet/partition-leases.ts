import { invalidOption, KalamConsumerError, toConsumerError } from '../errors.js';
import type { Logger } from '../logger.js';
import { fairShare } from './fair-share.js';
import { GroupSnapshot } from './group-snapshot.js';
import { claimEpoch } from './epoch-claim.js';
import { isPrimaryKeyViolation, LeaseStore, type SqlLike } from './lease-store.js';
import {
  checkLeaseTable,
  createLeaseTableSql,
  defaultLeaseTable,
  epochKey,
  MEMBER_PARTITION,
  memberKey,
  type LeaseRow,
} from './lease-table.js';
import { checkTiming } from './options.js';

/**
 * Partition leases for a fleet of workers on one consumer group, kept in a KalamDB table.
 *
 * Mutual exclusion rests on one fact only: an INSERT of an existing primary key is exclusive
 * (docs/PROTOCOL.md §11: of 16 racing INSERTs exactly one succeeds). Each (topic, group,
 * partition, epoch) is one row whose key is `topic/group/partition/epoch`; whoever inserts
 * epoch e+1 owns the partition from then on. A conditional UPDATE is NOT a compare-and-set on
 * the real server (§11: several racing `UPDATE ... WHERE epoch = 0` all report row_count 1), so
 * no decision here reads an UPDATE's row count as "I won": UPDATEs only touch rows that have a
 * single writer (a worker's own epoch row, its own member row), and even if every UPDATE
 * "succeeded" for several writers the ownership of an epoch would still come from its INSERT.
 *
 * Taking a partition: read the group's rows; if the partition's newest epoch row is missing,
 * released, or expired (`expires_at_ms < now`), INSERT epoch+1 with this worker as owner and
 * `expires_at_ms = sent + leaseMs`. A primary-key violation means another worker won that epoch.
 * After a successful INSERT the newest epoch is read again: a higher one means this worker's
 * read was stale (old epochs are deleted now and then, so a very stale acquirer can re-insert a
 * deleted epoch; the highest epoch is never deleted, so the check catches it).
 *
 * Keeping it: the owner moves `expires_at_ms` of its own row forward to `sent + leaseMs` every
 * renewIntervalMs, then reads the group and gives the partition up if a higher epoch exists or
 * its row is gone. The renewal's row_count is not trusted (an UPDATE may report 1 and still be
 * lost to another write, §11): a renewal counts only when that read shows the new expiry in
 * the row, and the read finished while the previous lease was still valid (a renewal that
 * lands later may land after another worker read the row as expired and took the next epoch).
 * If the read shows an expiry below what this worker believes, its lease shrinks to match.
 *
 * Fencing (`canCommit`): true while `now < sentAt + leaseMs - safetyMarginMs`, where sentAt is
 * when the last renewal that counted (or the winning INSERT) was sent, on this worker's clock.
 * Others take over only once `expires_at_ms (= sentAt + leaseMs) < their now`. So the old owner
 * stops committing before anyone may take over as long as the clocks of the workers differ by
 * less than the margin (and a commit sent while canCommit was true reaches the server within
 * what is left of the margin). Nothing fences a handler that is still running: the lease only
 * guards commits and the start of new work.
 *
 * Fair share: each worker heartbeats a member row (partition_id -1); live members are the
 * unexpired ones. With P partitions and N members each should hold floor(P/N), the ones holding
 * most (ties by id) one more (fair-share.ts). A worker over its share reports the extras in
 * `shouldRelease`; the engine drains them and calls release(). A worker under its share takes
 * free partitions. Partitions only move when the membership changes.
 *
 * docs/fleet.md has the whole design, the defaults and the contract with the engine.
 */
export interface PartitionLeasesOptions {
  sql: SqlLike;
  topic: string;
  groupId: string;
  /** Every partition of the topic; all workers of the group must pass the same list. */
  partitions: readonly number[];
  /** Unique per running process (see defaultWorkerId). */
  workerId: string;
  leaseMs: number;
  /**
   * How often the caller runs tick() at least. Renewals and heartbeats go out once half of it
   * has passed since the last one, so ticking more often only adds a read of the table.
   */
  renewIntervalMs: number;
  /** Default leaseMs / 5: must exceed the clock difference between workers plus a commit's time in flight. */
  safetyMarginMs?: number;
  /** Default `<topic namespace>.consumer_leases`. */
  table?: string;
  now?: () => number;
  /** Where release() and stop() report what they could not write (they resolve anyway); silent by default. */
  log?: Pick<Logger, 'warn'>;
}

export interface TickResult {
  /** Newly owned partitions: the engine may start them (canCommit is true). */
  acquired: number[];
  /** Partitions owned no longer: stop them at once, without committing. */
  lost: number[];
  /** Owned partitions beyond the fair share (the full list each round): drain them, then release(). */
  shouldRelease: number[];
  /** What went wrong this round (SQL failures, and one LEASE_LOST per lost partition); the round itself never throws. */
  errors: KalamConsumerError[];
}

interface Held {
  epoch: number;
  key: string;
  /** When the winning INSERT or the last renewal that counted was sent, on this worker's clock. */
  sentAtMs: number;
  /** canCommit ends here: sentAtMs + leaseMs - safetyMarginMs, or earlier if the row said so. */
  validUntilMs: number;
}

/** A renewal the server answered; it counts once a read shows `expiresAtMs` in the row. */
interface Renewal {
  held: Held;
  sentAtMs: number;
  expiresAtMs: number;
}

function fail(error: unknown, what: string): KalamConsumerError {
  const cause = toConsumerError(error, 'transient');
  return new KalamConsumerError(`fleet: ${what}: ${cause.message}`, {
    code: cause.code,
    status: cause.status,
    kind: cause.kind,
    cause,
  });
}

// FNV-1a: a stable number per worker id, so racing workers try free partitions in different
// orders and collide less (a collision costs one failed INSERT, nothing more).
function hash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i += 1) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

function checkPartitions(partitions: readonly number[]): number[] {
  if (!Array.isArray(partitions) || partitions.length === 0) throw invalidOption('fleet: partitions must be a non-empty array');
  for (const p of partitions) {
    if (!Number.isSafeInteger(p) || p < 0) throw invalidOption(`fleet: partition ${String(p)} is not an integer >= 0`);
  }
  return [...new Set(partitions)].sort((a, b) => a - b);
}

export class PartitionLeases {
  readonly table: string;
  readonly workerId: string;
  readonly leaseMs: number;
  readonly renewIntervalMs: number;
  readonly safetyMarginMs: number;
  private readonly topic: string;
  private readonly groupId: string;
  private readonly partitions: number[];
  private readonly store: LeaseStore;
  private readonly sql: SqlLike;
  private readonly now: () => number;
  private readonly log: Pick<Logger, 'warn'> | undefined;
  private readonly memberRowKey: string;
  private readonly leases = new Map<number, Held>();
  private memberWritten = false;
  /** When the last heartbeat that got through was sent; undefined before the first. */
  private heartbeatAtMs: number | undefined;
  private stopped = false;
  // tick, release and stop run one at a time: two writes of one row from this worker must never
  // overlap (on a server whose UPDATE is not atomic, one could undo the other).
  private chain: Promise<unknown> = Promise.resolve();

  constructor(options: PartitionLeasesOptions) {
    const { sql, topic, groupId, workerId } = options;
    if (typeof topic !== 'string' || topic === '') throw invalidOption('fleet: topic must be a non-empty string');
    if (typeof groupId !== 'string' || groupId === '') throw invalidOption('fleet: groupId must be a non-empty string');
    if (typeof workerId !== 'string' || workerId.trim() === '') throw invalidOption('fleet: workerId must be a non-empty string');
    if (!sql || typeof sql.query !== 'function' || typeof sql.queryAll !== 'function') {
      throw invalidOption('fleet: sql must have query() and queryAll()');
    }
    this.safetyMarginMs = options.safetyMarginMs ?? options.leaseMs / 5;
    checkTiming(options.leaseMs, options.renewIntervalMs, this.safetyMarginMs);
    this.leaseMs = options.leaseMs;
    this.renewIntervalMs = options.renewIntervalMs;
    this.partitions = checkPartitions(options.partitions);
    this.table = checkLeaseTable(options.table ?? defaultLeaseTable(topic));
    this.workerId = workerId;
    this.sql = sql;
    this.store = new LeaseStore(sql, this.table, topic, groupId);
    this.now = options.now ?? Date.now;
    this.log = options.log;
    this.memberRowKey = memberKey(topic, groupId, workerId);
    this.topic = topic;
    this.groupId = groupId;
  }

  /**
   * Makes sure the table exists and this account can read it. A transient failure is rethrown
   * as is (retry later); anything else becomes LEASE_TABLE with the DDL to run by hand.
   */
  async ensureTable(): Promise<void> {
    try {
      await this.store.probe();
      return;
    } catch (error) {
      // Read first: an account that may not create tables can still use one made by hand.
      // The error cannot tell "missing" from "forbidden" (§2.5 redacts table-not-found for
      // non-admin callers), so any permanent failure leads to the CREATE.
      if (toConsumerError(error).kind === 'transient') throw toConsumerError(error);
    }
    const ddl = createLeaseTableSql(this.table);
    try {
      await this.sql.query(ddl);
      await this.store.probe();
    } catch (error) {
      const cause = toConsumerError(error);
      if (cause.kind === 'transient') throw cause;
      throw new KalamConsumerError(
        `fleet: the lease table ${this.table} cannot be created or read by this account (${cause.message}). ` +
          `Create it once with a dba or system account: ${ddl}`,
        { code: 'LEASE_TABLE', kind: 'permanent', status: cause.status, cause },
      );
    }
  }

  /** One round: heartbeat, renew owned, check for newer epochs, report extras, acquire up to the fair share. */
  tick(): Promise<TickResult> {
    return this.exclusive(() => this.round());
  }

  /** Gives a partition up (after the engine drained it); canCommit is false from the call on. */
  async release(partition: number): Promise<void> {
    const held = this.leases.get(partition);
    if (held === undefined) return;
    this.leases.delete(partition);
    await this.exclusive(() => this.markReleased(held, partition));
  }

  /** Whether a commit for `partition` may be sent now (see the class comment). */
  canCommit(partition: number): boolean {
    const held = this.leases.get(partition);
    return !this.stopped && held !== undefined && this.now() < held.validUntilMs;
  }

  /** Milliseconds left in which a commit may be sent (0 when none): a bound for the commit request's timeout. */
  commitWindowMs(partition: number): number {
    const held = this.leases.get(partition);
    if (this.stopped || held === undefined) return 0;
    return Math.max(0, held.validUntilMs - this.now());
  }

  /** Partitions owned as of the last round (canCommit still checks the clock). */
  owned(): number[] {
    return [...this.leases.keys()].sort((a, b) => a - b);
  }

  /** Releases every owned partition and deletes the member row; the engine must have drained first. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await this.exclusive(async () => {
      // Read the map inside the lock: a round that was running may have acquired more.
      const held = [...this.leases];
      this.leases.clear();
      for (const [partition, lease] of held) await this.markReleased(lease, partition);
      try {
        await this.store.deleteRow(this.memberRowKey);
      } catch (error) {
        this.log?.warn(
          `fleet: could not delete member row of ${this.workerId} (${toConsumerError(error).message}); it expires after ${this.leaseMs} ms`,
        );
      }
    });
  }

  private exclusive<T>(work: () => Promise<T>): Promise<T> {
    const run = this.chain.then(work, work);
    this.chain = run.catch(() => undefined);
    return run;
  }

  private newHeld(epoch: number, key: string, sentAtMs: number): Held {
    return { epoch, key, sentAtMs, validUntilMs: sentAtMs + this.leaseMs - this.safetyMarginMs };
  }

  private async markReleased(held: Held, partition: number): Promise<void> {
    try {
      await this.store.markReleased(held.key);
    } catch (error) {
      this.log?.warn(
        `fleet: could not mark partition ${partition} released (${toConsumerError(error).message}); others take it when it expires`,
      );
    }
  }

  private async round(): Promise<TickResult> {
    const result: TickResult = { acquired: [], lost: [], shouldRelease: [], errors: [] };
    if (this.stopped) return result;
    const lost = new Map<number, string>();
    await this.heartbeat(result.errors);
    const renewals = await this.renew(lost, result.errors);

    let snapshot: GroupSnapshot | undefined;
    try {
      snapshot = new GroupSnapshot(await this.store.readGroup(), this.now(), this.leaseMs);
    } catch (error) {
      // No renewal of this round counts: nothing confirmed it.
      result.errors.push(fail(error, 'reading the lease table'));
    }
    if (snapshot !== undefined) this.confirm(snapshot, renewals, lost);
    // Also catches a lease whose time ran out while the statements above were slow.
    const now = this.now();
    for (const [partition, held] of this.leases) {
      if (!lost.has(partition) && now >= held.validUntilMs) lost.set(partition, 'it expired before a renewal got through');
    }
    for (const [partition, reason] of lost) {
      this.leases.delete(partition);
      result.lost.push(partition);
      result.errors.push(
        new KalamConsumerError(`fleet: lease of partition ${partition} lost: ${reason}`, { code: 'LEASE_LOST', kind: 'transient' }),
      );
    }

    if (snapshot !== undefined && !this.stopped) {
      const holdings = new Map(snapshot.holdings);
      holdings.set(this.workerId, this.leases.size);
      const quota = fairShare({
        self: this.workerId,
        members: snapshot.liveMembers,
        holdings,
        partitionCount: this.partitions.length,
      });
      // The highest partition numbers go: any choice works, a fixed one keeps the list stable between rounds.
      result.shouldRelease = this.owned().slice(quota);
      if (this.leases.size < quota) result.acquired = await this.acquire(quota, snapshot, result.errors);
      await this.sweepMembers(snapshot, result.errors);
    }
    result.lost.sort((a, b) => a - b);
    result.acquired.sort((a, b) => a - b);
    return result;
  }

  private async heartbeat(errors: KalamConsumerError[]): Promise<void> {
    const sentAtMs = this.now();
    // Like renewals, heartbeats go out every renewIntervalMs / 2 at most, so the engine may
    // tick more often (to see released partitions sooner) for the price of one read.
    if (this.heartbeatAtMs !== undefined && sentAtMs - this.heartbeatAtMs < this.renewIntervalMs / 2) return;
    const expiresAtMs = sentAtMs + this.leaseMs;
    try {
      if (this.memberWritten && (await this.store.setExpiry(this.memberRowKey, expiresAtMs)) > 0) {
        this.heartbeatAtMs = sentAtMs;
        return;
      }
      const row: LeaseRow = {
        leaseKey: this.memberRowKey,
        partition: MEMBER_PARTITION,
        epoch: 0,
        ownerId: this.workerId,
        expiresAtMs,
        released: false,
      };
      try {
        await this.store.insert(row);
      } catch (error) {
        if (!isPrimaryKeyViolation(error)) throw error;
        // The row is there: this id's previous process left it, or the UPDATE above changed
        // nothing (same value) and so counted 0 rows.
        await this.store.setExpiry(this.memberRowKey, expiresAtMs);
      }
      this.memberWritten = true;
      this.heartbeatAtMs = sentAtMs;
    } catch (error) {
      errors.push(fail(error, 'heartbeat'));
    }
  }

  /** Sends the due renewals; returns the ones the server answered, for confirm() to check. */
  private async renew(lost: Map<number, string>, errors: KalamConsumerError[]): Promise<Map<number, Renewal>> {
    const renewals = new Map<number, Renewal>();
    for (const [partition, held] of [...this.leases]) {
      if (this.leases.get(partition) !== held) continue; // released meanwhile
      const sentAtMs = this.now();
      if (sentAtMs >= held.validUntilMs) {
        // Another worker may already have read the row as expired: renewing now proves nothing.
        lost.set(partition, 'it expired before a renewal got through');
        continue;
      }
      if (sentAtMs - held.sentAtMs < this.renewIntervalMs / 2) continue; // renewed recently enough
      const expiresAtMs = sentAtMs + this.leaseMs;
      try {
        // row_count 0: the row is gone (the read decides what that means) or already later.
        if ((await this.store.extendExpiry(held.key, expiresAtMs)) > 0) renewals.set(partition, { held, sentAtMs, expiresAtMs });
      } catch (error) {
        errors.push(fail(error, `renewing partition ${partition}`));
      }
    }
    return renewals;
  }

  /**
   * Checks every owned partition against a read made after this round's renewals: a newer
   * epoch or a missing row loses it; a renewal counts only if the row shows it and the read
   * finished inside the old lease; a row whose expiry is below what this worker believes
   * (a lost or late write) shortens the lease to match.
   */
  private confirm(snapshot: GroupSnapshot, renewals: Map<number, Renewal>, lost: Map<number, string>): void {
    const readAtMs = snapshot.nowMs;
    for (const [partition, held] of this.leases) {
      const newest = snapshot.newest.get(partition);
      if (newest === undefined || newest.epoch < held.epoch) {
        lost.set(partition, `its epoch ${held.epoch} row is gone`);
        continue;
      }
      if (newest.epoch > held.epoch) {
        lost.set(partition, `${newest.ownerId} holds epoch ${newest.epoch}`);
        continue;
      }
      const renewal = renewals.get(partition);
      if (renewal?.held === held && newest.expiresAtMs >= renewal.expiresAtMs && readAtMs < held.validUntilMs) {
        held.sentAtMs = renewal.sentAtMs;
        held.validUntilMs = renewal.sentAtMs + this.leaseMs - this.safetyMarginMs;
      } else {
        held.validUntilMs = Math.min(held.validUntilMs, newest.expiresAtMs - this.safetyMarginMs);
      }
    }
  }

  private async acquire(quota: number, snapshot: GroupSnapshot, errors: KalamConsumerError[]): Promise<number[]> {
    const free = this.partitions.filter((p) => !this.leases.has(p) && snapshot.isFree(p));
    const start = free.length === 0 ? 0 : hash(this.workerId) % free.length;
    const ordered = [...free.slice(start), ...free.slice(0, start)];
    const acquired: number[] = [];
    for (const partition of ordered) {
      if (this.leases.size >= quota || this.stopped) break;
      if (await this.tryAcquire(partition, snapshot.nextEpoch(partition), errors)) acquired.push(partition);
    }
    return acquired;
  }

  private async tryAcquire(partition: number, epoch: number, errors: KalamConsumerError[]): Promise<boolean> {
    const sentAtMs = this.now();
    const row: LeaseRow = {
      leaseKey: epochKey(this.topic, this.groupId, partition, epoch),
      partition,
      epoch,
      ownerId: this.workerId,
      expiresAtMs: sentAtMs + this.leaseMs,
      released: false,
    };
    const claim = await claimEpoch(this.store, row);
    for (const error of claim.errors) errors.push(fail(error, `acquiring partition ${partition}`));
    const held = this.newHeld(epoch, row.leaseKey, sentAtMs);
    if (!claim.won || this.stopped || this.now() >= held.validUntilMs) {
      // A row of ours that this worker will not use: free it now rather than after leaseMs.
      if (claim.inserted || claim.won) await this.markReleased(held, partition);
      return false;
    }
    this.leases.set(partition, held);
    try {
      // Old epochs go (epoch < current - 1); the previous one stays for whoever looks at the table.
      await this.store.deleteEpochsBelow(partition, epoch - 1);
    } catch (error) {
      errors.push(fail(error, `deleting old epochs of partition ${partition}`));
    }
    return true;
  }

  // One worker sweeps dead member rows (ids change on every restart, so they pile up): the
  // first live member by id, so that the fleet does not send the same DELETE N times.
  private async sweepMembers(snapshot: GroupSnapshot, errors: KalamConsumerError[]): Promise<void> {
    if (snapshot.staleMembers === 0) return;
    const first = [...snapshot.liveMembers, this.workerId].sort()[0];
    if (first !== this.workerId) return;
    try {
      await this.store.deleteMembersExpiredBefore(snapshot.nowMs - this.leaseMs);
    } catch (error) {
      errors.push(fail(error, 'deleting expired member rows'));
    }
  }
}
