import { topicLag, type TopicLagOptions } from '@kalamdb/consumer';
import { onePositional, stringFlag } from '../args.js';
import type { Command } from '../command.js';
import { connect } from '../connect.js';
import { lagTable, writeLine } from '../output.js';
import { PARTITION_FLAGS, partitionsFromFlags } from '../partitions.js';
import { startPosition } from '../usage.js';

export const lag: Command = {
  name: 'lag',
  summary: "a group's committed offset, newest offset and lag per partition",
  usage: 'kalam-consumer lag <topic> --group G [--partitions LIST | --partition-count N] [--start latest|earliest|OFFSET] [--json]',
  details: [
    'A dba or system account reads committed offsets from system.topic_offsets and the',
    'partition count from system.topics. A service account may not: it learns offsets from',
    'consume requests with limit 0 (they claim nothing) and must name the partitions. Such a',
    'probe of a group the server has not seen since it started sets where that group will',
    "begin: --start says where its workers start (default latest, runConsumer's default).",
    'LAG counts offsets after the committed one (all of them when nothing is committed).',
  ].join('\n'),
  flags: {
    group: { type: 'string', value: 'G', help: 'consumer group (required)' },
    ...PARTITION_FLAGS,
    start: { type: 'string', value: 'WHERE', help: "the group's workers' start: latest (default), earliest or an offset" },
    json: { type: 'boolean', help: 'print the result as JSON' },
  },

  async run(parsed, io) {
    const topic = onePositional('lag', parsed, 'topic');
    const group = stringFlag(parsed, 'group', 'lag', true);
    const options: TopicLagOptions = { signal: io.signal };
    const partitions = partitionsFromFlags(parsed, 'lag');
    if (partitions !== undefined) options.partitions = partitions;
    const start = stringFlag(parsed, 'start', 'lag');
    if (start !== undefined) options.start = startPosition('--start', start);
    const { client } = connect(parsed, io, 'lag');
    try {
      const result = await topicLag(client, topic, group, options);
      await writeLine(io.stdout, parsed.values['json'] === true ? JSON.stringify(result) : lagTable(result));
    } finally {
      await client.disconnect();
    }
    return 0;
  },
};
