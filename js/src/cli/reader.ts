import type { ConsumerClient, ConsumerMessage, StartPosition } from '@kalamdb/consumer';

// Reads one partition without ever acking, for `tail` and `peek`. Consuming claims ranges
// for the group that consumes (docs/PROTOCOL.md §3.4), so a group of the reader's own is used:
// other groups' cursors, claims and commits are untouched.
//
// Never acking has one catch: a claim that is not acked expires after the server's visibility
// timeout (60 s by default, 10 s in KalamDB's dev config), and the group's cursor is rewound
// to its start, so the server delivers it again, and again a timeout later. The reader drops
// offsets it already returned, and at the first re-delivery moves to a fresh group that
// starts right after the last offset returned: each group lives about one timeout, which
// keeps the server's in-memory state for it small.

export interface ReadResult {
  /** Messages not returned before, in offset order. */
  messages: ConsumerMessage[];
  /** The server had fewer than asked for: the partition is read to its end for now. */
  atEnd: boolean;
}

export class PartitionReader {
  private group: string;
  /** The next offset to return; undefined until the first read resolved `start`. */
  private position: number | undefined;

  constructor(
    private readonly client: ConsumerClient,
    private readonly topic: string,
    readonly partition: number,
    private readonly start: StartPosition,
    private readonly groupPrefix: string,
  ) {
    this.group = freshGroup(groupPrefix);
  }

  /** The next offset this reader returns, once the first read has placed it. */
  get nextOffset(): number | undefined {
    return this.position;
  }

  async read(limit: number, signal?: AbortSignal): Promise<ReadResult> {
    const batch = await this.client.consumeBatch({
      topic: this.topic,
      group_id: this.group,
      start: this.position === undefined ? this.start : { offset: this.position },
      batch_size: limit,
      partition_id: this.partition,
      ...(signal ? { signal } : {}),
    });
    const from = this.position ?? 0;
    const messages = batch.messages.filter((m) => m.offset >= from);
    if (messages.length < batch.messages.length) {
      // A claim expired and came back: leave this group and its rewound cursor behind.
      this.group = freshGroup(this.groupPrefix);
    }
    const last = messages.at(-1);
    if (last !== undefined) this.position = last.offset + 1;
    else if (this.position === undefined) this.position = batch.next_offset;
    return { messages, atEnd: batch.messages.length < limit };
  }
}

/** A group name no one else uses: the prefix, the time and randomness. */
export function freshGroup(prefix: string): string {
  return `${prefix}_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 10)}`;
}
