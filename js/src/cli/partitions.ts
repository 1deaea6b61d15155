import { isKalamConsumerError, type ConsumerClient } from '@kalamdb/consumer';
import type { Parsed } from './args.js';
import { nonNegativeInteger, partitionList, positiveInteger, UsageError } from './usage.js';

// Which partitions a command works on: --partition P, --partitions 0,1 or --partition-count N.

export const PARTITION_FLAGS = {
  partitions: { type: 'string', value: 'LIST', help: 'partitions, comma separated (e.g. 0,1,2)' },
  'partition-count': { type: 'string', value: 'N', help: 'partitions 0 to N-1' },
} as const;

/** The partitions the flags name, or undefined when none of them was given. */
export function partitionsFromFlags(parsed: Parsed, command: string): number[] | undefined {
  const given = ['partition', 'partitions', 'partition-count'].filter((name) => typeof parsed.values[name] === 'string');
  if (given.length > 1) throw new UsageError(`pass only one of ${given.map((name) => `--${name}`).join(', ')}`, command);
  const single = parsed.values['partition'];
  if (typeof single === 'string') return [nonNegativeInteger('--partition', single)];
  const list = parsed.values['partitions'];
  if (typeof list === 'string') return partitionList('--partitions', list);
  const count = parsed.values['partition-count'];
  if (typeof count === 'string') return Array.from({ length: positiveInteger('--partition-count', count) }, (_, i) => i);
  return undefined;
}

/**
 * Every partition of the topic, from system.topics. Only dba and system may read it: for other
 * roles `onUnknown` says so and partition 0 is used. A topic missing from system.topics also
 * gives [0], so the first consume reports it as the server does (404).
 */
export async function allPartitions(client: ConsumerClient, topic: string, onUnknown: (why: string) => void): Promise<number[]> {
  let row: { partitions: unknown } | null;
  try {
    row = await client.queryOne<{ partitions: unknown }>('SELECT partitions FROM system.topics WHERE topic_id = $1 LIMIT 1', [topic]);
  } catch (error) {
    if (!isKalamConsumerError(error) || (error.status !== 403 && error.code !== 'PERMISSION_DENIED')) throw error;
    onUnknown('this account may not read system.topics (only dba and system may)');
    return [0];
  }
  const count = Number(row?.partitions);
  return Number.isInteger(count) && count > 0 ? Array.from({ length: count }, (_, i) => i) : [0];
}
