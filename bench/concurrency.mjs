// Figure `concurrency.keys_32` (issue 12): one partition, every message a distinct key, a handler
// that only awaits 20 ms (an LLM or webhook call stands in for it): runConsumer with
// `concurrency: 32` against the same worker with `concurrency: 1`, in interleaved rounds, on the
// in-memory stub server (lib/stub-server.mjs: its keys are the offsets + 1, so all distinct).
// The handler waits, so the machine's speed hardly matters and a stub is enough.
//
// Message counts differ per side: at concurrency 1 each message costs >= 20 ms, so 1,000 of them
// would take over 20 s per round. The baseline runs `baselineMessages` (100: ~2 s) and the figure
// compares rates (msg/s): a concurrency-1 worker's rate is steady, so the shorter run changes
// nothing but the time spent. Each run: a fresh stub and group, timed from runConsumer's start
// until the last handler returned. Both sides fetch batches of 1,000 (the figure); smaller
// batches are reported for information (see the comment in runConcurrency).
import { loadConsumer } from './lib/pkg.mjs';
import { startStubServer } from './lib/stub-server.mjs';
import { median } from './lib/stats.mjs';
import { nowMs, sleep } from './lib/timing.mjs';

const TARGET = 20;
const CONCURRENCY = 32;

export async function runConcurrency({ messages = 1_000, baselineMessages = 100, rounds = 3, handlerMs = 20, batchSize = 1_000, log }) {
  const pkg = await loadConsumer();
  const value = [];
  const baseline = [];
  // One unmeasured warm-up (the first worker of a process pays for loading and JIT).
  await timeRun(pkg, { concurrency: CONCURRENCY, total: 4 * CONCURRENCY, handlerMs, batchSize });
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? ['many', 'one'] : ['one', 'many'];
    for (const side of order) {
      const rate = side === 'many'
        ? await timeRun(pkg, { concurrency: CONCURRENCY, total: messages, handlerMs, batchSize })
        : await timeRun(pkg, { concurrency: 1, total: baselineMessages, handlerMs, batchSize });
      (side === 'many' ? value : baseline).push(rate);
      log(`concurrency round ${round + 1} concurrency ${side === 'many' ? CONCURRENCY : 1}: ${Math.round(rate)} msg/s`);
    }
  }
  // For information, one run each: smaller batches. A batch is handed to the handlers whole and
  // the next one is fetched once it is done, so a batch of 100 takes four waves (32+32+32+4)
  // and the default batch size (20) caps the handlers at 20 at once, whatever `concurrency` says.
  const smaller = [];
  for (const size of [100, undefined]) {
    const rate = await timeRun(pkg, { concurrency: CONCURRENCY, total: messages, handlerMs, batchSize: size });
    smaller.push({ size, rate });
    log(`concurrency ${CONCURRENCY} at batch ${size ?? 'default (20)'}: ${Math.round(rate)} msg/s`);
  }

  const v = median(value);
  const b = median(baseline);
  const detail = {
    rounds_value: value, rounds_baseline: baseline, messages_value: messages, messages_baseline: baselineMessages,
    handler_ms: handlerMs, batch_size: batchSize, distinct_keys: messages,
    ideal_msg_s: (1000 / handlerMs) * CONCURRENCY,
  };
  return [
    {
      id: 'concurrency.keys_32',
      figure: `concurrency: ${CONCURRENCY} vs 1, distinct keys, ${handlerMs} ms handler, batch ${batchSize.toLocaleString('en-US')} (msg/s)`,
      unit: 'msg/s', value: v, baseline: b, ratio: v / b, target: `>= ${TARGET}x`, pass: v / b >= TARGET, detail,
    },
    ...smaller.map(({ size, rate }) => ({
      id: `concurrency.keys_32_batch_${size ?? 'default'}`,
      figure: `concurrency: ${CONCURRENCY} vs 1 at batch ${size ?? '20 (the default)'}, one run (msg/s)`,
      unit: 'msg/s', value: rate, baseline: b, ratio: rate / b, target: 'report', pass: null,
      detail: { messages, batch_size: size ?? 20 },
    })),
  ];
}

async function timeRun(pkg, { concurrency, total, handlerMs, batchSize }) {
  const topic = 'bench.concurrency';
  const stub = await startStubServer({ topic, total, rowBytes: 100 });
  const stop = new AbortController();
  let done = 0;
  let tDone = 0;
  const guard = setTimeout(() => stop.abort(), 120_000);
  try {
    const client = pkg.createConsumerClient({ url: stub.url, authProvider: async () => pkg.Auth.basic('bench_worker', 'x') });
    const t0 = nowMs();
    await pkg.runConsumer({
      client, name: 'bench-concurrency', topic, groupId: 'concurrency', start: 'earliest', partitions: [0], logger: false,
      concurrency, ...(batchSize === undefined ? {} : { batchSize }), stopSignal: stop.signal,
      onChange: async () => {
        await sleep(handlerMs);
        done += 1;
        if (done === total) {
          tDone = nowMs();
          stop.abort();
        }
      },
    });
    if (done < total) throw new Error(`concurrency ${concurrency}: ${done}/${total} messages handled`);
    return (total / (tDone - t0)) * 1000;
  } finally {
    clearTimeout(guard);
    await stub.close();
  }
}
