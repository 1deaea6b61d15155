#!/usr/bin/env node
// Where a runConsumer worker spends its time at full speed: preloads 20,000 messages into a
// fresh kalam-devserver, runs one warm-up pass, then CPU-profiles one pass with a no-op
// onChange and groups self time (wasm code, wasm glue, package TS, fetch, GC, idle = waiting on
// the server). Not part of `npm run bench`:
//
//   node bench/profile-throughput.mjs [batchSize=1000]
import { Session } from 'node:inspector/promises';
import { adminSession, createWorker, startDevServer, WORKER } from './lib/devserver.mjs';
import { loadConsumer } from './lib/pkg.mjs';
import { ORDER_COLUMNS, createSource, preloadOrders } from './lib/source.mjs';
const log = (m) => console.error(m);
const server = await startDevServer({ log });
try {
  const admin = await adminSession(server.url); await createWorker(admin);
  const topic = await createSource(admin, { table: 'orders', topic: 'orders_events', columns: ORDER_COLUMNS });
  await preloadOrders(admin, { table: 'orders', count: 20000 });
  const pkg = await loadConsumer();
  const run = async (groupId, batchSize) => {
    const stop = new AbortController(); let n = 0; const t0 = performance.now(); let t1;
    const client = pkg.createConsumerClient({ url: server.url, authProvider: async () => pkg.Auth.basic(WORKER.user, WORKER.password) });
    await pkg.runConsumer({ client, name: 'p', topic, groupId, start: 'earliest', batchSize, stopSignal: stop.signal, partitions: [0], logger: false,
      onChange: () => { if (++n === 20000) { t1 = performance.now(); stop.abort(); } } });
    return 20000 / (t1 - t0) * 1000;
  };
  await run('warm', 1000);
  const session = new Session(); session.connect();
  await session.post('Profiler.enable'); await session.post('Profiler.setSamplingInterval', { interval: 200 });
  await session.post('Profiler.start');
  const rate = await run('prof', Number(process.argv[2] ?? 1000));
  const { profile } = await session.post('Profiler.stop');
  console.log('rate', rate | 0);
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const agg = new Map(); let total = 0;
  for (const id of profile.samples) { const f = byId.get(id).callFrame; let k;
    if (f.url.startsWith('wasm://') || f.functionName.startsWith('$')) k = 'wasm code';
    else if (f.functionName === '(idle)') k = 'idle (waiting on the server)';
    else if (f.functionName === '(garbage collector)') k = 'GC';
    else if (f.functionName === '(program)') k = 'program';
    else if (f.url.includes('kalam_consumer_wasm.js')) k = 'wasm glue: ' + (f.functionName || 'anon');
    else if (f.url.includes('undici') || f.url.includes('node:internal/deps')) k = 'undici (fetch)';
    else if (f.url.includes('@kalamdb') || f.url.includes('/dist/')) k = 'package TS';
    else k = 'other: ' + (f.url.split('/').pop() || f.functionName);
    agg.set(k, (agg.get(k) ?? 0) + 1); total++; }
  for (const [k, c] of [...agg].sort((a, b) => b[1] - a[1]).slice(0, 12)) console.log((100 * c / total).toFixed(1).padStart(5) + '%', k);
} finally { await server.stop(); }
