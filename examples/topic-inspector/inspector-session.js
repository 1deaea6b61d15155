// The inspector's logic, with no DOM: log in, poll a topic, peek, ack, read committed offsets and lag.
// inspector.js wires it to the page; keeping the two apart keeps each small.
import { Auth, createConsumerClient, isKalamConsumerError, topicLag } from '@kalamdb/consumer';

const IDLE_POLL_MS = 300;
const BATCH_SIZE = 100;

/**
 * A connected inspector session for one topic and group.
 * `onMessages(messages)` receives each non-empty batch; `onError(text)` a readable error.
 */
export class InspectorSession {
  constructor({ url, user, password, token, topic, group, partitions, peek, onMessages, onError }) {
    this.topic = topic;
    // Peek mode reads with a throwaway group that is never acked, so the real group's
    // committed offset and claims are left alone.
    this.group = peek ? `inspector_peek_${Math.random().toString(36).slice(2, 10)}` : group;
    this.watchedGroup = group;
    this.peek = peek;
    this.partitions = partitions;
    this.onMessages = onMessages;
    this.onError = onError;
    this.url = url;
    this.stopped = false;
    const credentials = token ? Auth.jwt(token) : Auth.basic(user, password);
    this.client = createConsumerClient({ url, authProvider: async () => credentials });
    this.usesPassword = !token;
  }

  /**
   * Checks a password before any polling, so wrong credentials show at once. A pasted token
   * and the topic are checked by the first poll (a probe poll would claim messages).
   */
  async connect() {
    if (this.usesPassword) await this.client.login();
  }

  /** Polls every partition until stop(); a failure ends the loop and is reported once. */
  async run() {
    await Promise.all(this.partitions.map((partition) => this.pollPartition(partition)));
  }

  async pollPartition(partition) {
    while (!this.stopped) {
      let batch;
      try {
        batch = await this.client.consumeBatch({ topic: this.topic, group_id: this.group, start: 'earliest', batch_size: BATCH_SIZE, partition_id: partition });
      } catch (error) {
        if (!this.stopped) this.onError(describeError(error, this));
        this.stop();
        return;
      }
      if (this.stopped) return;
      if (batch.messages.length > 0) this.onMessages(batch.messages);
      if (!batch.has_more) await sleep(IDLE_POLL_MS);
    }
  }

  /** Commits everything up to and including `offset` on `partition` for the watched group. */
  async ackUpTo(partition, offset) {
    if (this.peek) throw new Error('peek mode never acks');
    return this.client.ack(this.topic, this.watchedGroup, partition, offset);
  }

  /**
   * The watched group's committed offsets by partition, or null when this account may not
   * read system.topic_offsets (only dba and system may).
   */
  async committedOffsets() {
    try {
      const rows = await this.client.queryAll(
        'SELECT partition_id, last_acked_offset FROM system.topic_offsets WHERE topic_id = $1 AND group_id = $2',
        [this.topic, this.watchedGroup],
      );
      return new Map(rows.map((row) => [Number(row.partition_id), Number(row.last_acked_offset)]));
    } catch {
      return null;
    }
  }

  /**
   * The watched group's lag per partition (topicLag), or null when it is not shown: in peek
   * mode the watched group must stay untouched, and for an account that may not read system
   * tables topicLag probes the group with a consume, which creates the group's server cursor
   * if the server has not seen it yet (docs/lag.md). Outside peek mode the inspector consumes
   * the group itself, with start 'earliest', so the probe uses that start too.
   */
  async lag() {
    if (this.peek && (await this.committedOffsets()) === null) return null;
    return topicLag(this.client, this.topic, this.watchedGroup, { partitions: this.partitions, start: 'earliest' });
  }

  stop() {
    this.stopped = true;
  }
}

/** Turns a package error into one sentence a person debugging a topic can act on. */
export function describeError(error, { topic, url }) {
  if (!isKalamConsumerError(error)) return `Unexpected error: ${error?.message ?? String(error)}`;
  switch (error.code) {
    case 'unauthorized':
    case 'INVALID_CREDENTIALS':
    case 'MISSING_AUTHORIZATION':
      return 'Wrong credentials: the server rejected this user, password or token.';
    case 'TOKEN_EXPIRED':
      return 'The token has expired: paste a fresh one or log in with a password.';
    case 'NOT_FOUND':
      return `Topic '${topic}' does not exist.`;
    case 'FORBIDDEN':
      return 'This account may not read topics: its role is "user"; topics need service, dba or system.';
    case 'NETWORK_ERROR':
    case 'ABORTED':
      return `Cannot reach the server at ${url}: is it running, and does it allow this origin (CORS)?`;
    default:
      return `${error.code}: ${error.message}`;
  }
}

/** Parses "0, 2" into [0, 2]; an empty field means partition 0. */
export function parsePartitions(text) {
  const parts = text.split(',').map((part) => part.trim()).filter(Boolean);
  if (parts.length === 0) return [0];
  return parts.map((part) => {
    const value = Number(part);
    if (!Number.isInteger(value) || value < 0) throw new Error(`"${part}" is not a partition number`);
    return value;
  });
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
