import { onePositional } from '../args.js';
import type { Command } from '../command.js';
import { connect } from '../connect.js';
import { messageLine, writeLine } from '../output.js';
import { allPartitions, PARTITION_FLAGS, partitionsFromFlags } from '../partitions.js';
import { Progress } from '../progress.js';
import { PartitionReader } from '../reader.js';
import { positiveInteger } from '../usage.js';

/** The server answers at once when nothing is new (docs/PROTOCOL.md §3.6): wait between empty polls. */
const IDLE_POLL_MS = 250;
const BATCH_SIZE = 100;

export const tail: Command = {
  name: 'tail',
  summary: 'follow new messages as JSON lines, never acking',
  usage: 'kalam-consumer tail <topic> [--partition P | --partitions LIST | --partition-count N] [--limit N]',
  details: [
    'Prints every message published from now on, one JSON object per line, until Ctrl-C',
    '(or --limit messages). It reads with a group of its own that it never acks, so no',
    "other group's position, claims or commits change. Without partition flags it follows",
    'every partition listed in system.topics (dba, system), or partition 0 for other roles.',
  ].join('\n'),
  flags: {
    partition: { type: 'string', value: 'P', help: 'follow this partition only' },
    ...PARTITION_FLAGS,
    limit: { type: 'string', value: 'N', help: 'exit after N messages' },
    'no-progress': { type: 'boolean', help: 'no progress line on the terminal' },
  },

  async run(parsed, io) {
    const topic = onePositional('tail', parsed, 'topic');
    const flagged = partitionsFromFlags(parsed, 'tail');
    const limitText = parsed.values['limit'];
    const limit = typeof limitText === 'string' ? positiveInteger('--limit', limitText) : Infinity;
    const { client } = connect(parsed, io, 'tail');
    const partitions = flagged ?? (await allPartitions(client, topic, (why) => io.stderr.write(`kalam-consumer: ${why}: following partition 0 only (pass --partitions or --partition-count)\n`)));

    const progress = new Progress(io.stderr, io.stdout, parsed.values['no-progress'] !== true);
    const label = `following ${topic} (partition ${partitions.join(', ')})`;
    let printed = 0;
    // Ctrl-C and --limit both end every partition's loop.
    const stop = new AbortController();
    const onAbort = () => stop.abort();
    io.signal.addEventListener('abort', onAbort, { once: true });
    try {
      progress.update(`${label}: waiting for messages`);
      await Promise.all(
        partitions.map(async (partition) => {
          const reader = new PartitionReader(client, topic, partition, 'latest', 'kalam_cli_tail');
          let announced = false;
          while (!stop.signal.aborted) {
            let result;
            try {
              result = await reader.read(BATCH_SIZE, stop.signal);
            } catch (error) {
              if (stop.signal.aborted) return;
              stop.abort();
              throw error;
            }
            if (!announced) {
              // Says where following starts, and tells a script that it may now publish.
              announced = true;
              progress.suspend();
              io.stderr.write(`kalam-consumer: following ${topic} partition ${partition} from offset ${result.messages[0]?.offset ?? reader.nextOffset ?? '?'}\n`);
            }
            for (const message of result.messages) {
              if (printed >= limit) break;
              progress.suspend();
              await writeLine(io.stdout, messageLine(message));
              printed += 1;
              progress.resume();
            }
            if (printed >= limit) stop.abort();
            progress.update(`${label}: ${printed} message${printed === 1 ? '' : 's'}, waiting for more`);
            if (result.atEnd) await sleep(IDLE_POLL_MS, stop.signal);
          }
        }),
      );
    } finally {
      io.signal.removeEventListener('abort', onAbort);
      progress.done();
      await client.disconnect();
    }
    return 0;
  },
};

/** Resolves after `ms`, or at once when `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
