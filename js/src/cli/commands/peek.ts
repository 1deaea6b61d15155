import { topicLag, type StartPosition } from '@kalamdb/consumer';
import { onePositional, stringFlag } from '../args.js';
import type { Command } from '../command.js';
import { connect } from '../connect.js';
import { messageLine, writeLine } from '../output.js';
import { Progress } from '../progress.js';
import { freshGroup, PartitionReader } from '../reader.js';
import { nonNegativeInteger, positiveInteger, startPosition } from '../usage.js';

const DEFAULT_LIMIT = 10;
/** Messages per request: large peeks go in several. */
const BATCH_SIZE = 500;

export const peek: Command = {
  name: 'peek',
  summary: 'print stored messages as JSON lines and exit, never acking',
  usage: 'kalam-consumer peek <topic> [--from earliest|latest|OFFSET] [--limit N] [--partition P]',
  details: [
    'Prints up to --limit messages of one partition, one JSON object per line, and exits',
    'when they are printed or the partition has no more. --from earliest (the default)',
    'starts at the first stored message, OFFSET at that offset, latest shows the newest',
    '--limit messages. It reads with a throwaway group that is never acked, so no other',
    "group's position, claims or commits change.",
  ].join('\n'),
  flags: {
    from: { type: 'string', value: 'WHERE', help: 'earliest (default), latest (the newest N), or an offset' },
    limit: { type: 'string', value: 'N', help: `messages to print (default ${DEFAULT_LIMIT})` },
    partition: { type: 'string', value: 'P', help: 'partition to read (default 0)' },
    'no-progress': { type: 'boolean', help: 'no progress line on the terminal' },
  },

  async run(parsed, io) {
    const topic = onePositional('peek', parsed, 'topic');
    const limitText = stringFlag(parsed, 'limit', 'peek');
    const limit = limitText === undefined ? DEFAULT_LIMIT : positiveInteger('--limit', limitText);
    const partitionText = stringFlag(parsed, 'partition', 'peek');
    const partition = partitionText === undefined ? 0 : nonNegativeInteger('--partition', partitionText);
    const from = startPosition('--from', stringFlag(parsed, 'from', 'peek') ?? 'earliest');
    const { client } = connect(parsed, io, 'peek');
    const progress = new Progress(io.stderr, io.stdout, parsed.values['no-progress'] !== true);
    try {
      const start = from === 'latest' ? await newestWindow(client, topic, partition, limit) : from;
      const reader = new PartitionReader(client, topic, partition, start, 'kalam_cli_peek');
      let printed = 0;
      while (printed < limit && !io.signal.aborted) {
        const result = await reader.read(Math.min(BATCH_SIZE, limit - printed), io.signal);
        for (const message of result.messages.slice(0, limit - printed)) {
          progress.suspend();
          await writeLine(io.stdout, messageLine(message));
          printed += 1;
        }
        progress.update(`reading ${topic} partition ${partition}: ${printed} of ${limit} messages`);
        if (result.atEnd) break;
      }
    } finally {
      progress.done();
      await client.disconnect();
    }
    return 0;
  },
};


/**
 * The start offset of the newest `limit` messages. The newest offset comes from topicLag,
 * asked about a throwaway group: a service account's probe creates that group's server
 * cursor, so the reader must not use the same name.
 */
async function newestWindow(client: Parameters<typeof topicLag>[0], topic: string, partition: number, limit: number): Promise<StartPosition> {
  const lag = await topicLag(client, topic, freshGroup('kalam_cli_peek_newest'), { partitions: [partition] });
  const newest = lag.partitions[0]?.newestOffset;
  if (newest === undefined) throw new Error(`topicLag answered without partition ${partition}`);
  return { offset: newest === null ? 0 : Math.max(0, newest + 1 - limit) };
}
