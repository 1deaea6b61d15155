import { isInternalClient, type ConsumerClient } from './client.js';
import { KalamConsumerError, invalidOption } from './errors.js';
import { committedByProbe, newestByProbe, type Probe } from './lag-probe.js';
import { committedFromSql, isSystemTableDenied, partitionCountFromSql } from './lag-sql.js';
import type { StartPosition } from './messages.js';
import { nonBlank } from './validate.js';

// topicLag: how far a consumer group is behind, per partition. The method and its limits
// are in docs/lag.md; in short, committed offsets come from system.topic_offsets when the
// account may read it (dba, system) and from `limit: 0` consume probes otherwise (service).

export interface TopicLagOptions {
  /** Partitions to report. Required (or `partitionCount`) for a `service` account. */
  partitions?: number[];
  /** Report partitions `0 .. partitionCount - 1`. */
  partitionCount?: number;
  /**
   * The `start` of the group's workers (default `'latest'`, as `runConsumer`). Used only by
   * a `service` account's probe of a group the server has not seen since it started, whose
   * server cursor that probe creates: see docs/lag.md.
   */
  start?: StartPosition;
  signal?: AbortSignal;
}

export interface PartitionLag {
  partitionId: number;
  /** The group's last committed (acked) offset, or null when it never committed here. */
  committedOffset: number | null;
  /** The highest offset ever written to the partition, or null when it is empty. */
  newestOffset: number | null;
  /** Offsets after the committed one: `newest - committed`, every offset when nothing is committed, never below 0. */
  lag: number;
}

export interface TopicLag {
  topic: string;
  groupId: string;
  /** Where the committed offsets came from: `system.topic_offsets`, or consume probes. */
  method: 'system-tables' | 'consume-probe';
  partitions: PartitionLag[];
  /** Sum of the partitions' lag. */
  totalLag: number;
}

/** Partitions measured side by side; each costs a few small requests. */
const CONCURRENCY = 8;

/**
 * How far `groupId` is behind on `topic`, per partition. Throws `PARTITIONS_UNKNOWN` when the
 * account may not read system tables and neither `partitions` nor `partitionCount` was given
 * (a `service` account cannot learn the partition count), `NOT_FOUND` for a missing topic.
 */
export async function topicLag(client: ConsumerClient, topic: string, groupId: string, options: TopicLagOptions = {}): Promise<TopicLag> {
  if (!isInternalClient(client)) throw invalidOption('topicLag needs a client from createConsumerClient');
  nonBlank('topic', topic);
  nonBlank('groupId', groupId);
  if (typeof options !== 'object' || options === null) throw invalidOption('topicLag options must be an object');
  const requested = requestedPartitions(options);
  const start = await client.normalizeStart(options.start);

  let committed: Map<number, number> | undefined;
  try {
    committed = await committedFromSql(client, topic, groupId);
  } catch (error) {
    if (!isSystemTableDenied(error)) throw error;
  }
  let partitions = requested;
  if (partitions === undefined) {
    if (committed === undefined) {
      throw new KalamConsumerError(
        'topicLag: this account may not read system.topics (only dba and system may), so the partition count is unknown: pass partitions or partitionCount',
        { code: 'PARTITIONS_UNKNOWN', kind: 'permanent' },
      );
    }
    const count = await partitionCountFromSql(client, topic);
    if (count === null) throw new KalamConsumerError(`Topic '${topic}' does not exist`, { code: 'NOT_FOUND', status: 404, kind: 'permanent' });
    partitions = Array.from({ length: count }, (_, i) => i);
  }

  const fromSql = committed;
  const rows = await mapLimited(partitions, CONCURRENCY, async (partitionId) => {
    const probe: Probe = (group, probeStart) => client.probe(topic, group, partitionId, probeStart, options.signal);
    // Committed before newest: a commit made meanwhile then shows as lag 0, never as negative.
    const committedOffset = fromSql ? (fromSql.get(partitionId) ?? null) : await committedByProbe(probe, groupId, start);
    const newestOffset = await newestByProbe(probe);
    return { partitionId, committedOffset, newestOffset, lag: lagOf(committedOffset, newestOffset) };
  });
  return {
    topic,
    groupId,
    method: fromSql ? 'system-tables' : 'consume-probe',
    partitions: rows,
    totalLag: rows.reduce((sum, row) => sum + row.lag, 0),
  };
}

/** Offsets start at 0 and grow by one (docs/PROTOCOL.md §3.9): no commit means all of them are behind. */
function lagOf(committed: number | null, newest: number | null): number {
  if (newest === null) return 0;
  if (committed === null) return newest + 1;
  // Acks past the newest message are accepted (docs/PROTOCOL.md §3.7): such a group is not behind.
  return Math.max(0, newest - committed);
}

function requestedPartitions(options: TopicLagOptions): number[] | undefined {
  const { partitions, partitionCount } = options;
  if (partitions !== undefined && partitionCount !== undefined) throw invalidOption('pass partitions or partitionCount, not both');
  if (partitionCount !== undefined) {
    if (!Number.isInteger(partitionCount) || partitionCount <= 0) throw invalidOption(`partitionCount must be a positive integer, got ${String(partitionCount)}`);
    return Array.from({ length: partitionCount }, (_, i) => i);
  }
  if (partitions === undefined) return undefined;
  if (!Array.isArray(partitions) || partitions.length === 0) throw invalidOption('partitions must be a non-empty array of partition numbers');
  for (const p of partitions) {
    if (!Number.isInteger(p) || p < 0) throw invalidOption(`partitions must hold non-negative integers, got ${String(p)}`);
  }
  return [...new Set(partitions)];
}

/** Runs `work` over `items` with at most `limit` at a time; results keep the items' order. */
async function mapLimited<T, R>(items: T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  return results;
}
