// Child process of the memory figure (run with --expose-gc): one runConsumer worker against
// the stub server, sampling memory after a forced GC every SAMPLE_EVERY messages.
// argv: <url> <topic> <total> <batchSize> <sampleEvery>. Prints one JSON line at the end.
import { loadConsumer } from './lib/pkg.mjs';
import { nowMs } from './lib/timing.mjs';

const [url, topic, totalArg, batchArg, everyArg] = process.argv.slice(2);
const total = Number(totalArg), batchSize = Number(batchArg), every = Number(everyArg);
if (typeof globalThis.gc !== 'function') throw new Error('run with --expose-gc');

const sample = (messages) => {
  globalThis.gc();
  const m = process.memoryUsage();
  return { messages, rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external, arrayBuffers: m.arrayBuffers };
};

const before = sample(0);
const pkg = await loadConsumer();
const client = pkg.createConsumerClient({ url, authProvider: async () => pkg.Auth.basic('bench_worker', 'x') });
const stop = new AbortController();
const samples = [];
let count = 0, tDone = 0, errors = 0;
const t0 = nowMs();
const timer = setTimeout(() => stop.abort(), 120_000);
let failure;
try {
  await pkg.runConsumer({
    client, name: 'bench-memory', topic, groupId: 'memory', start: 'earliest', batchSize, stopSignal: stop.signal,
    onChange: () => {
      count++;
      if (count === 1000 || count % every === 0) samples.push(sample(count));
      if (count === total) { tDone = nowMs(); stop.abort(); }
    },
    onError: () => { errors++; },
  });
} catch (err) {
  failure = String(err?.stack ?? err);
}
clearTimeout(timer);
await client.disconnect?.();
process.stdout.write(JSON.stringify({ before, samples, count, errors, failure, ms: (tDone || nowMs()) - t0 }) + '\n');
