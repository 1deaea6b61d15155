import type { ConsumerMessage, TopicLag } from '@kalamdb/consumer';

// What the commands print: messages as JSON lines (one object per line, like `kcat -J`), and
// the lag table.

/**
 * One message as a JSON line. The throwaway group's name and the deprecated `value` alias are
 * left out; an undecodable payload is shown as `decode_error` with the raw text, never as `{}`.
 */
export function messageLine(message: ConsumerMessage): string {
  const line: Record<string, unknown> = {
    topic: message.topic,
    partition_id: message.partition_id,
    offset: message.offset,
    key: message.key,
    timestamp_ms: message.timestamp_ms,
    op: message.op,
  };
  if (message.user !== undefined) line['user'] = message.user;
  if (message.decode_error) {
    line['decode_error'] = message.decode_error.message;
    line['raw_payload'] = message.decode_error.body ?? null;
  } else {
    line['payload'] = message.payload;
  }
  return JSON.stringify(line);
}

/** A table with one row per partition and a total, numbers right-aligned; `-` for none. */
export function lagTable(lag: TopicLag): string {
  const header = ['PARTITION', 'COMMITTED', 'NEWEST', 'LAG'];
  const rows = lag.partitions.map((p) => [String(p.partitionId), show(p.committedOffset), show(p.newestOffset), String(p.lag)]);
  rows.push(['total', '', '', String(lag.totalLag)]);
  const widths = header.map((title, i) => Math.max(title.length, ...rows.map((row) => (row[i] ?? '').length)));
  const format = (cells: string[]) =>
    cells
      .map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  const source = lag.method === 'system-tables' ? 'from system.topic_offsets' : 'probed by consumes with limit 0';
  return [`topic ${lag.topic}  group ${lag.groupId}  (committed offsets ${source})`, format(header), ...rows.map(format)].join('\n');
}

function show(offset: number | null): string {
  return offset === null ? '-' : String(offset);
}

/**
 * Writes a line to stdout and waits when the pipe is full, so a large peek into a slow reader
 * holds memory steady instead of buffering every message.
 */
export async function writeLine(stdout: NodeJS.WriteStream, text: string): Promise<void> {
  if (!stdout.write(`${text}\n`)) {
    await new Promise<void>((resolve) => {
      const done = () => {
        stdout.off('drain', done);
        stdout.off('close', done);
        resolve();
      };
      stdout.once('drain', done);
      stdout.once('close', done);
    });
  }
}
