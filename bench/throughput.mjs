// Figure 2: end-to-end throughput against kalam-devserver on loopback, no-op onChange.
// runConsumer at batch sizes 100 and 1,000 against the naive loop (lib/naive.mjs) at the same
// batch size. Messages are preloaded (multi-row INSERTs of 500 rows); every run uses a fresh
// consumer group reading from the earliest offset, and is timed from the moment the worker is
// started (client creation and login included) until every message has reached the handler.
import { WORKER } from './lib/devserver.mjs';
import { runNaiveConsumer } from './lib/naive.mjs';
import { loadConsumer } from './lib/pkg.mjs';
import { ORDER_COLUMNS, createSource, preloadOrders } from './lib/source.mjs';
import { median } from './lib/stats.mjs';
import { nowMs } from './lib/timing.mjs';

const RUN_TIMEOUT_MS = 90_000;

export async function runThroughput({ server, admin, messages = 20_000, naiveMessages = 5_000, rounds = 3, log }) {
  const pkg = await loadConsumer();
  const topic = await createSource(admin, { table: 'orders', topic: 'orders_events', columns: ORDER_COLUMNS });
  const t0 = nowMs();
  await preloadOrders(admin, { table: 'orders', count: messages });
  log(`throughput: preloaded ${messages} messages in ${((nowMs() - t0) / 1000).toFixed(1)} s`);

  const configs = [
    { kind: 'runConsumer', batch: 100, n: messages },
    { kind: 'naive', batch: 100, n: naiveMessages },
    { kind: 'runConsumer', batch: 1000, n: messages },
    { kind: 'naive', batch: 1000, n: naiveMessages },
  ];
  // Unmeasured warm-up of both paths (server page cache, JIT, connection pools), so round 1
  // does not charge a cold start to whichever side happens to go first.
  await timeRunConsumer(pkg, { url: server.url, topic, groupId: 'tp-warmup-rc', batchSize: 1000, n: messages });
  await timeNaive({ url: server.url, topic, groupId: 'tp-warmup-naive', batchSize: 100, n: Math.min(500, naiveMessages) });
  const rates = new Map(configs.map((c) => [`${c.kind}:${c.batch}`, []]));
  const failures = [];
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? configs : [...configs].reverse();
    for (const c of order) {
      const groupId = `tp-${c.kind}-${c.batch}-r${round}`;
      const r = c.kind === 'runConsumer'
        ? await timeRunConsumer(pkg, { url: server.url, topic, groupId, batchSize: c.batch, n: c.n })
        : await timeNaive({ url: server.url, topic, groupId, batchSize: c.batch, n: c.n });
      log(`throughput round ${round + 1} ${c.kind} batch ${c.batch}: ${r.count}/${c.n} in ${r.ms.toFixed(0)} ms = ${Math.round(r.rate)} msg/s${r.error ? ` (${r.error})` : ''}`);
      if (r.error) failures.push(`${c.kind} batch ${c.batch} round ${round + 1}: ${r.error}`);
      else rates.get(`${c.kind}:${c.batch}`).push(r.rate);
    }
  }
  const rows = [];
  for (const batch of [100, 1000]) {
    const value = median(rates.get(`runConsumer:${batch}`));
    const baseline = median(rates.get(`naive:${batch}`));
    const ratio = value / baseline;
    const needsAbs = batch === 1000;
    rows.push({
      id: `throughput.batch_${batch}`,
      figure: `throughput, runConsumer batch ${batch} (msg/s)`,
      unit: 'msg/s', value, baseline, ratio,
      target: needsAbs ? '>= 10x and >= 10,000 msg/s' : '>= 10x',
      pass: ratio >= 10 && (!needsAbs || value >= 10_000) && failures.length === 0,
      detail: {
        rounds_value: rates.get(`runConsumer:${batch}`), rounds_baseline: rates.get(`naive:${batch}`),
        messages_per_run: messages, baseline_messages_per_run: naiveMessages, failures,
      },
    });
  }
  return rows;
}

async function timeRunConsumer(pkg, { url, topic, groupId, batchSize, n }) {
  const seen = new Uint8Array(n);
  let count = 0, tDone = 0;
  const errors = [];
  const stop = new AbortController();
  const t0 = nowMs();
  const client = pkg.createConsumerClient({ url, authProvider: async () => pkg.Auth.basic(WORKER.user, WORKER.password) });
  const timer = setTimeout(() => stop.abort(), RUN_TIMEOUT_MS);
  let error;
  try {
    await pkg.runConsumer({
      client, name: 'bench-throughput', topic, groupId, start: 'earliest', partitions: [0], batchSize, stopSignal: stop.signal,
      onChange: (_ctx, change) => {
        const off = Number(change.offset);
        if (off < n && seen[off] === 0) {
          seen[off] = 1;
          if (++count === n) { tDone = nowMs(); stop.abort(); }
        }
      },
      onError: (info) => { if (errors.length < 5) errors.push(String(info?.error?.message ?? info?.message ?? info)); },
    });
  } catch (err) {
    error = String(err?.message ?? err);
  } finally {
    clearTimeout(timer);
    await client.disconnect?.();
  }
  if (count < n) error ??= `timed out with ${count}/${n}${errors.length ? `; onError: ${errors.join(' | ')}` : ''}`;
  const ms = (tDone || nowMs()) - t0;
  return { count, ms, rate: (count / ms) * 1000, error };
}

async function timeNaive({ url, topic, groupId, batchSize, n }) {
  const seen = new Uint8Array(n);
  let count = 0, tDone = 0;
  const stop = new AbortController();
  const timer = setTimeout(() => stop.abort(), RUN_TIMEOUT_MS);
  const t0 = nowMs();
  let error;
  try {
    await runNaiveConsumer({
      url, user: WORKER.user, password: WORKER.password, topic, groupId, batchSize, signal: stop.signal,
      onMessage: (m) => {
        const off = Number(m.offset);
        if (off < n && seen[off] === 0) {
          seen[off] = 1;
          if (++count === n) { tDone = nowMs(); stop.abort(); }
        }
      },
    });
  } catch (err) {
    error = String(err?.message ?? err);
  } finally {
    clearTimeout(timer);
  }
  if (count < n) error ??= `timed out with ${count}/${n}`;
  const ms = (tDone || nowMs()) - t0;
  return { count, ms, rate: (count / ms) * 1000, error };
}
