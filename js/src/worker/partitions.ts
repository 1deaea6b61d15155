import type { ConsumerClient } from '../client.js';
import { KalamConsumerError, invalidOption, toConsumerError } from '../errors.js';
import { describeFailure } from '../failure-reason.js';

/** Which partitions a worker consumes, and where that answer came from (for the start log line). */
export interface PartitionPlan {
  partitions: number[];
  source: 'option' | 'partitionCount' | 'system.topics';
  /** The topic's partition count, when the server told us. */
  topicPartitions: number | undefined;
}

/**
 * Every partition by default (issue 11 item 1). The count is in `system.topics`, which only
 * `dba`/`system` accounts may read (docs/PROTOCOL.md §1.8, §5.6). A `service` account is
 * refused (403), and no other request tells it the count: a consume of a partition beyond it
 * answers exactly like an empty partition (§11). So it must say `partitions` or
 * `partitionCount`, and we stop at once with an error that says so, rather than reading
 * partition 0 alone and leaving the rest behind without a word.
 */
export async function planPartitions(
  client: ConsumerClient,
  topic: string,
  given: { partitions: number[] | undefined; partitionCount: number | undefined },
): Promise<PartitionPlan> {
  if (given.partitionCount !== undefined) {
    return { partitions: range(given.partitionCount), source: 'partitionCount', topicPartitions: undefined };
  }
  const count = await readPartitionCount(client, topic, given.partitions === undefined);
  if (given.partitions !== undefined) {
    if (count !== undefined) {
      const missing = given.partitions.filter((p) => p >= count);
      if (missing.length > 0) {
        throw invalidOption(
          `partitions names ${missing.join(', ')}, which topic ${topic} does not have: it has ${count} partition${count === 1 ? '' : 's'} (${range(count).join(', ')})`,
        );
      }
    }
    return { partitions: given.partitions, source: 'option', topicPartitions: count };
  }
  // readPartitionCount threw when it could not learn the count and nothing was given.
  return { partitions: range(count!), source: 'system.topics', topicPartitions: count };
}

/**
 * The topic's partition count from system.topics. Undefined when the account may not read it
 * and `required` is false (partitions were given: nothing to check them against).
 */
async function readPartitionCount(client: ConsumerClient, topic: string, required: boolean): Promise<number | undefined> {
  let row: { partitions?: unknown } | null;
  try {
    row = await client.queryOne<{ partitions?: unknown }>('SELECT partitions FROM system.topics WHERE topic_id = $1 LIMIT 1', [topic]);
  } catch (thrown) {
    const error = toConsumerError(thrown);
    // A refused token is the credentials' problem, whatever we were asking: the caller's retry
    // and its error handle it, exactly as for the first consume.
    if (error.status === 401 || error.kind === 'auth') throw error;
    // Partitions were given: the read only checks them, so any other failure (a refusal, the
    // server down) just leaves them unchecked; the first consume reports an outage itself.
    if (!required) return undefined;
    if (error.status === 403) {
      throw new KalamConsumerError(
        `cannot tell how many partitions topic ${topic} has: this account may not read system.topics (${describeFailure(error)}; only dba and system accounts may). ` +
          `Pass partitions: [0, 1, ...] or partitionCount: N to runConsumer.`,
        { code: 'PARTITIONS_UNKNOWN', kind: 'permanent', status: error.status, cause: error },
      );
    }
    throw new KalamConsumerError(`cannot tell how many partitions topic ${topic} has: reading system.topics failed: ${describeFailure(error)}`, {
      code: error.kind === 'transient' ? error.code : 'PARTITIONS_UNKNOWN',
      kind: error.kind,
      status: error.status,
      cause: error,
    });
  }
  if (row === null) {
    throw new KalamConsumerError(`topic ${topic} does not exist (not in system.topics); create it with CREATE TOPIC ${topic}`, {
      code: 'NOT_FOUND',
      kind: 'permanent',
      status: 404,
    });
  }
  const count = Number(row.partitions);
  if (!Number.isInteger(count) || count < 1) {
    throw new KalamConsumerError(`system.topics gave topic ${topic} an unusable partition count: ${String(row.partitions)}`, {
      code: 'INVALID_RESPONSE',
      kind: 'permanent',
    });
  }
  return count;
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}
