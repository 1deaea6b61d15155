// Figure 5: RSS and heap growth of one worker over 200,000 messages.
// The worker (memory-worker.mjs) runs alone in a child process, so its RSS is its own; the
// messages come from an in-process stub server (lib/stub-server.mjs) in this, the parent,
// process, so the test measures the worker and not SQLite or the dev server.
// Growth = last sample minus the first sample (taken after the first 1,000 messages, with the
// module loaded and connection pools warm); trend = least-squares slope over the second half of the run
// versus the first half, in MB per 100,000 messages.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startStubServer } from './lib/stub-server.mjs';
import { slope } from './lib/stats.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const MB = 2 ** 20;

export async function runMemory({ total = 200_000, batchSize = 100, sampleEvery = 5_000, log }) {
  const topic = 'bench.memory';
  const stub = await startStubServer({ topic, total });
  let result;
  try {
    result = await runChild([path.join(HERE, 'memory-worker.mjs'), stub.url, topic, String(total), String(batchSize), String(sampleEvery)]);
  } finally {
    await stub.close();
  }
  const { samples } = result;
  if (result.failure || result.count < total || samples.length < 4) {
    return [{ id: 'memory.rss_growth', figure: 'memory: RSS growth over 200k msgs (MB)', unit: 'MB', value: null, baseline: null,
      ratio: null, target: '< 30 MB', pass: false, error: result.failure ?? `worker processed ${result.count}/${total}`,
      detail: { stub: stub.stats, result } }];
  }
  const first = samples[0], last = samples[samples.length - 1];
  const half = samples.filter((s) => s.messages <= total / 2);
  const second = samples.filter((s) => s.messages >= total / 2);
  const per100k = (pts, field) => (slope(pts.map((s) => ({ x: s.messages, y: s[field] }))) * 100_000) / MB;
  const rssGrowth = (last.rss - first.rss) / MB;
  const heapGrowth = (last.heapUsed - first.heapUsed) / MB;
  const trend = {
    rss_first_half: per100k(half, 'rss'), rss_second_half: per100k(second, 'rss'),
    heap_first_half: per100k(half, 'heapUsed'), heap_second_half: per100k(second, 'heapUsed'),
    external_second_half: per100k(second, 'external'),
  };
  const rate = (result.count / result.ms) * 1000;
  log(`memory: ${result.count} msgs in ${(result.ms / 1000).toFixed(1)} s (${Math.round(rate)} msg/s); RSS ${(first.rss / MB).toFixed(1)} -> ${(last.rss / MB).toFixed(1)} MB, heap ${(first.heapUsed / MB).toFixed(1)} -> ${(last.heapUsed / MB).toFixed(1)} MB; slopes MB/100k (1st/2nd half) rss ${trend.rss_first_half.toFixed(2)}/${trend.rss_second_half.toFixed(2)} heap ${trend.heap_first_half.toFixed(2)}/${trend.heap_second_half.toFixed(2)}`);
  // "No upward trend": over the second half (100k messages) the fitted line may rise by less
  // than 1 MB of heap and 2 MB of RSS (RSS moves in allocator-sized steps).
  const flat = trend.heap_second_half < 1 && trend.rss_second_half < 2;
  const detail = {
    samples_mb: samples.map((s) => ({ messages: s.messages, rss: +(s.rss / MB).toFixed(2), heap: +(s.heapUsed / MB).toFixed(2), external: +(s.external / MB).toFixed(2) })),
    before_start_mb: { rss: +(result.before.rss / MB).toFixed(2), heap: +(result.before.heapUsed / MB).toFixed(2) },
    rss_startup_mb: (first.rss - result.before.rss) / MB,
    slopes_mb_per_100k: trend, worker_msg_per_s: rate, errors: result.errors, stub: stub.stats, batch_size: batchSize,
  };
  return [
    { id: 'memory.rss_growth', figure: 'memory: RSS growth over 200k msgs (MB)', unit: 'MB', value: rssGrowth, baseline: null,
      ratio: null, target: '< 30 MB', pass: rssGrowth < 30, detail },
    { id: 'memory.heap_growth', figure: 'memory: heap growth over 200k msgs (MB)', unit: 'MB', value: heapGrowth, baseline: null,
      ratio: null, target: '< 30 MB', pass: heapGrowth < 30 },
    { id: 'memory.trend', figure: 'memory: 2nd-half slope RSS / heap (MB per 100k msgs)', unit: 'MB/100k',
      value: `${trend.rss_second_half.toFixed(2)} / ${trend.heap_second_half.toFixed(2)}`,
      baseline: `1st half ${trend.rss_first_half.toFixed(2)} / ${trend.heap_first_half.toFixed(2)}`, ratio: null,
      target: 'rss < 2, heap < 1', pass: flat },
  ];
}

function runChild(args) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--expose-gc', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', err = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { err = (err + d).slice(-4000); });
    child.on('exit', (code) => {
      const line = out.trim().split('\n').pop();
      try { resolve(JSON.parse(line)); } catch { reject(new Error(`memory worker exited ${code}: ${err || out.slice(-1000)}`)); }
    });
  });
}
