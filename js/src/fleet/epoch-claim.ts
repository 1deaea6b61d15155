import { isPrimaryKeyViolation, type LeaseStore } from './lease-store.js';
import type { LeaseRow } from './lease-table.js';

// Claiming one epoch of one partition: the mutual-exclusion step of the whole scheme, on its own
// so a test can race it directly.
//
// Exclusion comes only from the INSERT: of several workers inserting the same lease_key, exactly
// one succeeds and the others get a primary-key violation (docs/PROTOCOL.md §11). The read after
// it is not a lock; it only catches an INSERT that was based on a stale read (a deleted older
// epoch inserted again while a higher one exists) and an INSERT whose answer was lost.

export interface ClaimResult {
  /** The partition's newest epoch row is the one this call wrote: the caller owns the epoch. */
  won: boolean;
  /** The INSERT answered success, so a row of the caller's exists even when `won` is false. */
  inserted: boolean;
  /** Failures other than the primary-key violation (the INSERT, or the read after it). */
  errors: unknown[];
}

/** Inserts `row` (an epoch row with the caller as owner) and checks that it is the newest epoch. */
export async function claimEpoch(store: LeaseStore, row: LeaseRow): Promise<ClaimResult> {
  const errors: unknown[] = [];
  let inserted = false;
  try {
    await store.insert(row);
    inserted = true;
  } catch (error) {
    // Another worker inserted this epoch first: the only "you lost" answer that is trusted.
    if (isPrimaryKeyViolation(error)) return { won: false, inserted: false, errors };
    // Anything else may hide an INSERT that landed (a lost answer): the read below tells.
    errors.push(error);
  }
  let newest: LeaseRow | undefined;
  try {
    newest = await store.newestEpoch(row.partition);
  } catch (error) {
    errors.push(error);
    return { won: false, inserted, errors };
  }
  // lease_key fixes the epoch; owner and expiry tell this call's row from one another process
  // with the same worker id might have written.
  const won =
    newest !== undefined &&
    newest.leaseKey === row.leaseKey &&
    newest.ownerId === row.ownerId &&
    newest.expiresAtMs === row.expiresAtMs &&
    !newest.released;
  return { won, inserted, errors };
}
