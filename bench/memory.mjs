// Figure 5: RSS and heap growth of one worker over 200,000 messages.
// The worker (memory-worker.mjs) runs alone in a child process, so its RSS is its own; the
// messages come from a stub server (lib/stub-server.mjs) in this, the parent, process, so the
// test measures the worker and not SQLite or the dev server. The baseline is a hand-written
// plain-fetch worker (same stub, same batch size, one ack per batch) in its own child process:
// what any Node worker doing this I/O costs.
// Each worker first handles `warmup` messages, then the measured `total`. Growth = last sample
// minus the sample at the end of the warm-up; trend = least-squares slope over the second half
// of the measured messages versus the first half, in MB per 100,000 messages.
// Why a warm-up: in every run so far V8 grew its heap reservation (heapTotal, mostly the young
// generation growing to its default maximum) by ~30 MB within the first 20,000-30,000
// messages and then held it flat, in the plain baseline as much as in the package. That is
// V8 sizing itself to the allocation rate, once, not the worker growing; measured from the
// first messages it dominated the figure (RSS growth 16-43 MB across runs, baseline likewise).
// The warm-up growth is still reported, side by side with the baseline's, as its own row.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startStubServer } from './lib/stub-server.mjs';
import { slope } from './lib/stats.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const MB = 2 ** 20;

export async function runMemory({ total = 200_000, warmup = 40_000, batchSize = 100, sampleEvery = 5_000, log }) {
  const topic = 'bench.memory';
  const runs = {};
  for (const mode of ['package', 'plain']) {
    const stub = await startStubServer({ topic, total: warmup + total });
    try {
      runs[mode] = await runChild([path.join(HERE, 'memory-worker.mjs'), mode, stub.url, topic, String(warmup + total), String(batchSize), String(sampleEvery)]);
      runs[mode].stub = { ...stub.stats };
    } catch (err) {
      runs[mode] = { failure: String(err?.message ?? err), count: 0, samples: [] };
    } finally {
      await stub.close();
    }
  }
  const pkg = analyse(runs.package, warmup, total), base = analyse(runs.plain, warmup, total);
  for (const [name, a] of [['package', pkg], ['plain baseline', base]]) {
    if (a.error) { log(`memory ${name}: ${a.error}`); continue; }
    log(`memory ${name}: ${a.count} msgs in ${(a.ms / 1000).toFixed(1)} s (${Math.round(a.rate)} msg/s); warm-up RSS ${a.startup.rss.toFixed(1)} -> ${a.first.rss.toFixed(1)} MB; measured RSS ${a.first.rss.toFixed(1)} -> ${a.last.rss.toFixed(1)} MB, heap ${a.first.heap.toFixed(1)} -> ${a.last.heap.toFixed(1)} MB, heapTotal ${a.first.heapTotal.toFixed(1)} -> ${a.last.heapTotal.toFixed(1)} MB; slopes MB/100k (1st/2nd half) rss ${a.trend.rss_first_half.toFixed(2)}/${a.trend.rss_second_half.toFixed(2)} heap ${a.trend.heap_first_half.toFixed(2)}/${a.trend.heap_second_half.toFixed(2)}`);
  }
  if (pkg.error) {
    return [{ id: 'memory.rss_growth', figure: `memory: RSS growth over ${total / 1000}k msgs (MB)`, unit: 'MB', value: null, baseline: null,
      ratio: null, target: '< 30 MB', pass: false, error: pkg.error, detail: { package: runs.package } }];
  }
  const b = (field) => (base.error ? null : base[field]);
  // "No upward trend": over the second half (100k messages) the fitted line may rise by less
  // than 1 MB of heap and 2 MB of RSS (RSS moves in allocator-sized steps).
  const flat = pkg.trend.heap_second_half < 1 && pkg.trend.rss_second_half < 2;
  const detail = { package: pkg.detail, plain_baseline: base.error ? { error: base.error } : base.detail, batch_size: batchSize, warmup };
  const k = (n) => `${n / 1000}k`;
  return [
    { id: 'memory.rss_growth', figure: `memory: RSS growth over ${k(total)} msgs after ${k(warmup)} warm-up (MB)`, unit: 'MB', value: pkg.rssGrowth,
      baseline: b('rssGrowth'), ratio: base.error ? null : pkg.rssGrowth / base.rssGrowth, target: '< 30 MB', pass: pkg.rssGrowth < 30, detail },
    { id: 'memory.heap_growth', figure: `memory: heap growth over ${k(total)} msgs after ${k(warmup)} warm-up (MB)`, unit: 'MB', value: pkg.heapGrowth,
      baseline: b('heapGrowth'), ratio: base.error ? null : pkg.heapGrowth / base.heapGrowth, target: '< 30 MB', pass: pkg.heapGrowth < 30 },
    { id: 'memory.warmup_rss_growth', figure: `memory: RSS / V8 heapTotal growth in the ${k(warmup)}-msg warm-up (MB)`, unit: 'MB',
      value: `${pkg.warmupRss.toFixed(1)} / ${pkg.warmupHeapTotal.toFixed(1)}`,
      baseline: base.error ? null : `${base.warmupRss.toFixed(1)} / ${base.warmupHeapTotal.toFixed(1)}`, ratio: null, target: 'report', pass: null },
    { id: 'memory.heap_total_growth', figure: 'memory: V8 heapTotal growth after warm-up, for reading RSS (MB)', unit: 'MB',
      value: pkg.last.heapTotal - pkg.first.heapTotal, baseline: base.error ? null : base.last.heapTotal - base.first.heapTotal,
      ratio: null, target: 'report', pass: null },
    { id: 'memory.trend', figure: 'memory: 2nd-half slope RSS / heap (MB per 100k msgs)', unit: 'MB/100k',
      value: `${pkg.trend.rss_second_half.toFixed(2)} / ${pkg.trend.heap_second_half.toFixed(2)}`,
      baseline: base.error ? null : `${base.trend.rss_second_half.toFixed(2)} / ${base.trend.heap_second_half.toFixed(2)}`, ratio: null,
      target: 'rss < 2, heap < 1', pass: flat },
  ];
}

// `messages` in the samples counts from the worker's start, warm-up included.
function analyse(run, warmup, total) {
  const samples = run?.samples ?? [];
  if (run?.failure || run?.count < warmup + total || samples.length < 4) {
    return { error: run?.failure ?? `worker processed ${run?.count}/${warmup + total}` };
  }
  const mb = (s) => ({ messages: s.messages, rss: s.rss / MB, heap: s.heapUsed / MB, heapTotal: s.heapTotal / MB,
    external: s.external / MB, wasm: s.wasmMemory / MB });
  const all = samples.map(mb);
  const startup = all[0];
  const pts = all.filter((s) => s.messages >= warmup);
  if (pts.length < 4 || pts[0].messages !== warmup) return { error: `no memory sample at the end of the warm-up (${warmup} msgs)` };
  const first = pts[0], last = pts[pts.length - 1];
  const middle = warmup + total / 2;
  const firstHalf = pts.filter((s) => s.messages <= middle);
  const secondHalf = pts.filter((s) => s.messages >= middle);
  const per100k = (list, field) => slope(list.map((s) => ({ x: s.messages, y: s[field] }))) * 100_000;
  const trend = {
    rss_first_half: per100k(firstHalf, 'rss'), rss_second_half: per100k(secondHalf, 'rss'),
    heap_first_half: per100k(firstHalf, 'heap'), heap_second_half: per100k(secondHalf, 'heap'),
  };
  const rate = (run.count / run.ms) * 1000;
  const r2 = (x) => +x.toFixed(2);
  return {
    count: run.count, ms: run.ms, rate, startup, first, last, trend,
    rssGrowth: last.rss - first.rss, heapGrowth: last.heap - first.heap,
    warmupRss: first.rss - startup.rss, warmupHeapTotal: first.heapTotal - startup.heapTotal,
    detail: {
      samples_mb: all.map((s) => Object.fromEntries(Object.entries(s).map(([k, v]) => [k, k === 'messages' ? v : r2(v)]))),
      before_start_mb: { rss: r2(run.before.rss / MB), heap: r2(run.before.heapUsed / MB) },
      rss_startup_mb: r2(startup.rss - run.before.rss / MB),
      slopes_mb_per_100k: trend, worker_msg_per_s: rate, errors: run.errors, stub: run.stub,
    },
  };
}

export function runChild(args) {
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
