import type { WireStart } from './wasm-contract.js';

// What a `service` account can learn about offsets without reading system tables: only the
// `next_offset` of a `limit: 0` consume (docs/PROTOCOL.md §3.5), which claims nothing and
// answers the committed offset + 1 when the group has one, else the `start` position
// (§3.3). Its one side effect: the first consume of a (topic, group, partition) in a server
// process creates the server's in-memory cursor for it, seeded from that answer (§3.3).
// docs/lag.md explains why the probes below are harmless to the groups they measure.

/**
 * A `limit: 0` consume of one partition for `group`, starting at `start` when the group has
 * never committed; resolves to the `next_offset` of the answer.
 */
export type Probe = (group: string, start: WireStart) => Promise<number>;

/**
 * The group the newest offset is read with. It is never acked, so its answer for `Latest` is
 * the newest offset + 1, computed afresh on every call (docs/PROTOCOL.md §11). One fixed name
 * keeps the server's in-memory cursors to one per partition however often lag is asked.
 */
export const PROBE_GROUP = '__kalam_lag_probe';

/**
 * Tells "never committed" from "committed" with two probes: after a first answer `a`, a probe
 * starting at `a + 1` answers `a + 1` again only when no commit overrides the start. Only the
 * first probe can seed the group's server cursor (the second finds it already there).
 * Resolves to the committed offset, or null when the group has none.
 */
export async function committedByProbe(probe: Probe, group: string, start: WireStart): Promise<number | null> {
  const first = await probe(group, start);
  const second = await probe(group, { Offset: first + 1 });
  // A commit that lands between the two probes shows in the second answer.
  return second === first + 1 ? null : second - 1;
}

/**
 * The newest offset of a partition, or null when it never held a message. The second probe
 * checks that PROBE_GROUP has no commit (somebody acked it by hand), which would make its
 * answer the commit + 1 instead of the newest offset + 1; a group of its own for this call
 * is used then.
 */
export async function newestByProbe(probe: Probe): Promise<number | null> {
  const next = await probe(PROBE_GROUP, 'Latest');
  if ((await probe(PROBE_GROUP, { Offset: next + 1 })) === next + 1) return newestFrom(next);
  return newestFrom(await probe(`${PROBE_GROUP}_${uniqueSuffix()}`, 'Latest'));
}

/** `Latest` answers the highest offset ever allocated + 1, or 0 for a partition never written. */
function newestFrom(nextOffset: number): number | null {
  return nextOffset > 0 ? nextOffset - 1 : null;
}

function uniqueSuffix(): string {
  return `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
}
