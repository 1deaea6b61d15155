import { isKalamConsumerError, type ConsumerClient } from '@kalamdb/consumer';
import { onePositional, stringFlag } from '../args.js';
import type { Command } from '../command.js';
import { confirm } from '../confirm.js';
import { connect } from '../connect.js';
import { writeLine } from '../output.js';
import { nonNegativeInteger, UsageError } from '../usage.js';

export const ack: Command = {
  name: 'ack',
  summary: "commit an offset for a group by hand (asks first)",
  usage: 'kalam-consumer ack <topic> --group G --partition P --offset N [--yes]',
  details: [
    'Commits everything up to and including offset N on partition P for group G: the group',
    'then skips those messages, whether or not they were handled. Committed offsets never',
    'move back (a lower offset is accepted and changes nothing), and an offset past the',
    'newest message makes the group skip future messages up to it. Asks for confirmation',
    'on a terminal; --yes skips the question, and is required when stdin is not a terminal.',
  ].join('\n'),
  flags: {
    group: { type: 'string', value: 'G', help: 'consumer group (required)' },
    partition: { type: 'string', value: 'P', help: 'partition (required)' },
    offset: { type: 'string', value: 'N', help: 'last offset to count as processed (required)' },
    yes: { type: 'boolean', short: 'y', help: 'do not ask for confirmation' },
  },

  async run(parsed, io) {
    const topic = onePositional('ack', parsed, 'topic');
    const group = stringFlag(parsed, 'group', 'ack', true);
    const partition = nonNegativeInteger('--partition', stringFlag(parsed, 'partition', 'ack', true));
    const offset = nonNegativeInteger('--offset', stringFlag(parsed, 'offset', 'ack', true));
    const yes = parsed.values['yes'] === true;
    // Refused before any request: a script piping into this must say --yes explicitly.
    if (!yes && io.stdin.isTTY !== true) {
      throw new UsageError('refusing to ack without confirmation: stdin is not a terminal (pass --yes to ack anyway)', 'ack');
    }
    const { client } = connect(parsed, io, 'ack');
    try {
      const current = await committedNow(client, topic, group, partition);
      if (!yes) {
        const now = current === undefined ? 'unknown (needs a dba account to read)' : current === null ? 'none' : String(current);
        io.stderr.write(`Topic ${topic}, group ${group}, partition ${partition}: committed offset now ${now}.\n`);
        const question = `Commit offset ${offset}, so the group skips every message up to and including it?`;
        if (!(await confirm(question, io.stdin, io.stderr))) {
          io.stderr.write('Not acked.\n');
          return 1;
        }
      }
      const result = await client.ack(topic, group, partition, offset);
      await writeLine(io.stdout, `acked ${topic} group ${group} partition ${partition} up to offset ${result.acknowledged_offset}`);
      if (typeof current === 'number' && offset <= current) {
        io.stderr.write(`note: the committed offset stays at ${current}: committed offsets never move back\n`);
      }
    } finally {
      await client.disconnect();
    }
    return 0;
  },
};

/**
 * The committed offset from system.topic_offsets (null: none), or undefined when this account
 * may not read it. Not probed with a consume as topicLag does for service accounts: a probe
 * of a group the server has not seen would seed its cursor, which an ack then only raises.
 */
async function committedNow(client: ConsumerClient, topic: string, group: string, partition: number): Promise<number | null | undefined> {
  try {
    const row = await client.queryOne<{ last_acked_offset: unknown }>(
      'SELECT last_acked_offset FROM system.topic_offsets WHERE topic_id = $1 AND group_id = $2 AND partition_id = $3 LIMIT 1',
      [topic, group, partition],
    );
    return row === null ? null : Number(row.last_acked_offset);
  } catch (error) {
    if (isKalamConsumerError(error) && (error.status === 403 || error.code === 'PERMISSION_DENIED')) return undefined;
    throw error;
  }
}
