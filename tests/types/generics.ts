// Type test, checked by `npx tsc --noEmit -p tests/types/tsconfig.json` (never run).
// Proves that consumeBatch<T>, consumer<T> and runConsumer<TRow> type `payload` and
// `change.data`, and that wrong usages are compile errors (`@ts-expect-error` fails the
// check if the line below it compiles).

import {
  createConsumerClient, Auth, runConsumer, runAgent, TopicOp, KalamConsumerError, isKalamConsumerError,
} from '@kalamdb/consumer';

interface Order {
  id: string;
  status: 'new' | 'paid';
  total: number;
}

const client = createConsumerClient({
  url: 'http://127.0.0.1:2900',
  authProvider: async () => Auth.basic('worker', 'secret'),
});
createConsumerClient({ url: 'http://127.0.0.1:2900', authProvider: async () => Auth.jwt('token'), requestTimeoutMs: 5000 });

// @ts-expect-error url is required
createConsumerClient({ authProvider: async () => Auth.basic('worker', 'secret') });

export async function oneShot(): Promise<void> {
  const batch = await client.consumeBatch<Order>({
    topic: 'app.orders', group_id: 'g', start: 'earliest', batch_size: 10, partition_id: 0, timeout_seconds: 5,
  });
  const nextOffset: number = batch.next_offset;
  const hasMore: boolean = batch.has_more;
  void nextOffset; void hasMore;
  for (const m of batch.messages) {
    const status: 'new' | 'paid' | undefined = m.payload?.status;
    const total: number | undefined = m.value?.total;
    // @ts-expect-error payload.status is a string union, not a number
    const wrong: number | undefined = m.payload?.status;
    // @ts-expect-error Order has no such field
    m.payload?.missing;
    const op: TopicOp = m.op;
    const key: string | null = m.key;
    const user: string | undefined = m.user;
    const offset: number = m.offset;
    const partition: number = m.partition_id;
    const ts: number = m.timestamp_ms;
    const topic: string = m.topic;
    const group: string = m.group_id;
    if (m.decode_error) {
      const e: KalamConsumerError = m.decode_error;
      const code: string = e.code;
      void code;
    }
    void status; void total; void wrong; void op; void key; void user; void offset; void partition; void ts; void topic; void group;
  }

  // start accepts 'earliest' | 'latest' | number | { offset }
  await client.consumeBatch({ topic: 't.t', group_id: 'g', start: 'latest' });
  await client.consumeBatch({ topic: 't.t', group_id: 'g', start: 5 });
  await client.consumeBatch({ topic: 't.t', group_id: 'g', start: { offset: 5 } });
  // @ts-expect-error topic is required
  await client.consumeBatch({ group_id: 'g' });

  const ack = await client.ack('app.orders', 'g', 0, 41);
  const ok: boolean = ack.success;
  const acked: number = ack.acknowledged_offset;
  void ok; void acked;
  // @ts-expect-error offset must be a number
  await client.ack('app.orders', 'g', 0, '41');
}

export async function lowLevel(): Promise<void> {
  const handle = client.consumer<Order>({ topic: 'app.orders', group_id: 'g', start: 'earliest', batch_size: 10, auto_ack: false });
  await handle.run(async (ctx) => {
    const status: 'new' | 'paid' | undefined = ctx.message.payload?.status;
    // @ts-expect-error Order.total is a number
    const wrong: string | undefined = ctx.message.payload?.total;
    void status; void wrong;
    await ctx.ack();
  });
  handle.stop();
}

export async function runtime(signal: AbortSignal): Promise<void> {
  await runConsumer<Order>({
    client, name: 'projector', topic: 'app.orders', groupId: 'projector', stopSignal: signal,
    partitions: [0, 1],
    retry: { maxAttempts: 3, initialBackoffMs: 300, maxBackoffMs: 5000, multiplier: 2, jitterRatio: 0 },
    onChange: async (ctx, change) => {
      const status: 'new' | 'paid' = change.data.status;
      const total: number = change.data.total;
      const user: string = change.user;
      const op: TopicOp = change.op;
      const key: string | null = change.key;
      const ts: number = change.timestampMs;
      const partitionId: number = change.partitionId;
      const offset: number = change.offset;
      const topic: string = change.topic;
      const groupId: string = change.groupId;
      const runKey: string = ctx.runKey;
      const attempt: number = ctx.attempt;
      const max: number = ctx.maxAttempts;
      void status; void total; void user; void op; void key; void ts; void partitionId; void offset; void topic; void groupId; void runKey; void attempt; void max;
      // @ts-expect-error change.data is an Order
      change.data.nope;
      // @ts-expect-error Order.status is not a number
      const wrong: number = change.data.status;
      void wrong;
      // @ts-expect-error ctx carries no message
      ctx.message;
      // @ts-expect-error ctx carries no user
      ctx.user;
      // @ts-expect-error change.message is metadata only: no payload
      change.message.payload;
      await ctx.sql('INSERT INTO app.summary (id, body) VALUES ($1, $2)', [change.key, change.data.status]);
      await ctx.queryAll('SELECT id FROM app.summary');
    },
    onFailed: async (_ctx, change, error) => {
      const id: string = change.data.id;
      void id; void error;
    },
  });

  // @ts-expect-error onChange's change.data is typed: a handler expecting another row type is rejected
  await runConsumer<Order>({ client, name: 'n', topic: 't.t', groupId: 'g', onChange: async (_ctx, change: { data: { other: boolean } }) => { void change; } });
}

export function values(): void {
  const ins: TopicOp = TopicOp.Insert;
  const upd: 'Update' = TopicOp.Update;
  const del: TopicOp = 'Delete';
  // @ts-expect-error not a TopicOp
  const bad: TopicOp = 'Upsert';
  void ins; void upd; void del; void bad;
  const e: unknown = new Error('x');
  if (isKalamConsumerError(e)) {
    const kind: 'auth' | 'transient' | 'permanent' = e.kind;
    const status: number = e.status;
    void kind; void status;
  }
  void runAgent;
}

export async function sqlHelpers(): Promise<void> {
  const one = await client.queryOne<{ id: string; body: string }>('SELECT id, body FROM app.summary LIMIT 1');
  const body: string | undefined = one?.body;
  const all = await client.queryAll<{ id: string }>('SELECT id FROM app.summary');
  const firstId: string | undefined = all[0]?.id;
  // @ts-expect-error queryOne<T> may return null
  const notNull: { id: string; body: string } = one;
  void body; void firstId; void notNull;
}

// requireUser (issue 11 item 3): change.user is a string by default, and `string | undefined`
// only when the worker asked for messages without a user.
export async function sharedTableSources(): Promise<void> {
  await runConsumer<Order>({
    client, name: 'n', topic: 'app.orders', groupId: 'g', partitionCount: 2,
    onChange: async (_ctx, change) => {
      const user: string = change.user;
      void user;
    },
  });
  await runConsumer<Order>({
    client, name: 'n', topic: 'app.orders', groupId: 'g', partitions: [0], requireUser: false,
    handlerTimeoutMs: 5_000, concurrency: 4, logger: false,
    onChange: async (ctx, change) => {
      // @ts-expect-error with requireUser: false the user may be undefined
      const user: string = change.user;
      const maybe: string | undefined = change.user;
      const signal: AbortSignal = ctx.signal;
      void user; void maybe; void signal;
    },
  });
  await runConsumer<Order>({
    client, name: 'n', topic: 'app.orders', groupId: 'g', fleet: { leaseMs: 10_000 },
    logger: { debug() {}, info() {}, warn() {}, error() {} },
    onChange: async () => {},
  });
}
