// Child process of the memory figure (run with --expose-gc): one worker against the stub
// server, sampling memory after a forced GC after 1,000 messages and every SAMPLE_EVERY.
// argv: <mode> <url> <topic> <total> <batchSize> <sampleEvery>; `sampleEvery` 0 takes no samples
// (the vs_plain figure: a forced GC inside the timed stretch would only add noise). mode is
//   package  runConsumer from @kalamdb/consumer (the figure), or
//   plain    the baseline: a hand-written fetch loop (consume, JSON.parse + base64 decode,
//            call the handler, one ack per batch), the least a worker can do over HTTP.
// Prints one JSON line at the end: `ms` from the start (module loading and login included) to
// the last message, and `firstMs` / `steadyMs`: to the first message, and from it to the last.
import { loadConsumer } from './lib/pkg.mjs';
import { nowMs } from './lib/timing.mjs';

const [mode, url, topic, totalArg, batchArg, everyArg] = process.argv.slice(2);
const total = Number(totalArg), batchSize = Number(batchArg), every = Number(everyArg);
if (typeof globalThis.gc !== 'function') throw new Error('run with --expose-gc');

// The wasm linear memory (it only grows): initSync hands back the already-instantiated
// module's exports once the package has loaded it.
let wasmMemory;
const sample = (messages) => {
  globalThis.gc();
  const m = process.memoryUsage();
  return { messages, rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external,
    arrayBuffers: m.arrayBuffers, wasmMemory: wasmMemory?.buffer.byteLength ?? 0 };
};

const before = sample(0);
const samples = [];
let count = 0, tFirst = 0, tDone = 0, errors = 0, failure;
const stop = new AbortController();
const onMessage = () => {
  count++;
  if (count === 1) tFirst = nowMs();
  if (count === total) tDone = nowMs(); // before the last sample: its forced GC is not the worker's time
  if (every > 0 && (count === 1000 || count % every === 0)) samples.push(sample(count));
  if (count === total) stop.abort();
};
const timer = setTimeout(() => stop.abort(), 150_000);
const t0 = nowMs();
try {
  if (mode === 'package') await runPackage();
  else if (mode === 'plain') await runPlain();
  else throw new Error(`unknown mode ${mode}`);
} catch (err) {
  failure = String(err?.stack ?? err);
}
clearTimeout(timer);
process.stdout.write(JSON.stringify({ mode, before, samples, count, errors, failure, ms: (tDone || nowMs()) - t0,
  firstMs: tFirst - t0, steadyMs: tDone ? tDone - tFirst : undefined }) + '\n');

async function runPackage() {
  const pkg = await loadConsumer();
  try {
    const raw = await import('@kalamdb/consumer/wasm');
    wasmMemory = raw.initSync?.()?.memory;
  } catch { /* not measurable: reported as 0 */ }
  const client = pkg.createConsumerClient({ url, authProvider: async () => pkg.Auth.basic('bench_worker', 'x') });
  try {
    await pkg.runConsumer({
      client, name: 'bench-memory', topic, groupId: 'memory', start: 'earliest', batchSize, stopSignal: stop.signal,
      // The stub serves one partition and no SQL (system.topics), so the partition is named.
      partitions: [0], logger: false,
      onChange: onMessage, onError: () => { errors++; },
    });
  } finally {
    await client.disconnect?.();
  }
}

async function runPlain() {
  const post = async (route, body, token) => {
    const headers = { 'content-type': 'application/json' };
    if (token) headers.authorization = `Bearer ${token}`;
    const res = await fetch(`${url}${route}`, { method: 'POST', headers, body: JSON.stringify(body) });
    const text = await res.text();
    if (!res.ok) throw new Error(`${route}: HTTP ${res.status}`);
    return JSON.parse(text);
  };
  const { access_token: token } = await post('/v1/api/auth/login', { user: 'bench_worker', password: 'x' });
  while (!stop.signal.aborted) {
    const batch = await post('/v1/api/topics/consume',
      { topic_id: topic, group_id: 'memory-plain', start: 'Earliest', limit: batchSize, partition_id: 0, timeout_seconds: 30 }, token);
    let last = -1;
    for (const m of batch.messages) {
      const payload = JSON.parse(Buffer.from(m.payload, 'base64').toString('utf8'));
      const change = { data: payload, user: m.user, op: m.op, key: m.key, offset: m.offset, partitionId: m.partition_id, topic, groupId: 'memory-plain' };
      onMessage(change);
      last = m.offset;
      if (stop.signal.aborted) break;
    }
    if (last >= 0) await post('/v1/api/topics/ack', { topic_id: topic, group_id: 'memory-plain', partition_id: 0, upto_offset: last }, token);
    if (batch.messages.length === 0) await new Promise((r) => setTimeout(r, 10));
  }
}
