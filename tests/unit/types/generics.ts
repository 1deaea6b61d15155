// Type test: compiled with `tsc --noEmit` (tests/unit/types.test.mjs), never run. Proves that
// consumeBatch<T>, consumer<T> and runConsumer<TRow> type payload and change.data.
import {
  createConsumerClient,
  runConsumer,
  Auth,
  TopicOp,
  isKalamConsumerError,
  type Change,
  type ConsumerMessage,
} from '@kalamdb/consumer';

type Equals<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
function expectType<T extends true>(): T | void {}

interface Row {
  id: string;
  body: string;
}

const client = createConsumerClient({ url: 'http://127.0.0.1:8080', authProvider: async () => Auth.basic('w', 'p') });

export async function typed(): Promise<void> {
  const batch = await client.consumeBatch<Row>({ topic: 'app.events', group_id: 'g' });
  const message = batch.messages[0]!;
  expectType<Equals<typeof message.payload, Row>>();
  expectType<Equals<typeof message.value, Row>>();
  expectType<Equals<typeof message.op, TopicOp>>();
  expectType<Equals<typeof message.key, string | null>>();
  expectType<Equals<typeof message.user, string | undefined>>();
  // @ts-expect-error payload is a Row, which has no `missing`
  message.payload.missing;

  // TopicOp is a value and a type.
  expectType<Equals<typeof TopicOp.Update, 'Update'>>();
  expectType<Equals<TopicOp, 'Insert' | 'Update' | 'Delete'>>();

  const handle = client.consumer<Row>({ topic: 'app.events', group_id: 'g' });
  await handle.run(async (ctx) => {
    expectType<Equals<typeof ctx.message, ConsumerMessage<Row>>>();
    await ctx.ack();
  });

  await runConsumer<Row>({
    client,
    name: 'n',
    topic: 'app.events',
    groupId: 'g',
    onChange: async (ctx, change) => {
      expectType<Equals<typeof change, Change<Row>>>();
      expectType<Equals<typeof change.data, Row>>();
      expectType<Equals<typeof change.user, string>>();
      // @ts-expect-error the metadata view has no payload
      change.message.payload;
      // @ts-expect-error ctx has no message
      ctx.message;
      const one = await ctx.queryOne<{ n: string }>('SELECT 1 AS n');
      expectType<Equals<typeof one, { n: string } | null>>();
    },
    onFailed: async (_ctx, change, error) => {
      expectType<Equals<typeof change.data, Row>>();
      if (isKalamConsumerError(error)) {
        const code: string = error.code;
        void code;
      }
    },
  });

  // Without a type argument the payload is a plain record.
  const untyped = await client.consumeBatch({ topic: 'app.events', group_id: 'g' });
  expectType<Equals<(typeof untyped.messages)[number]['payload'], Record<string, unknown>>>();
}
