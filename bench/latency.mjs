// Figure 3: latency from INSERT to onChange, p50 and p99 over 500 single-row INSERTs spaced
// 20 ms apart, runConsumer at default settings against the naive loop. Each side gets its own
// table and topic. The row carries the time the INSERT request was sent (same process, same
// clock as the handler), so each sample is the whole path: INSERT request + commit + publish +
// the consumer's poll/backoff + decode + dispatch. That upper-bounds "from commit".
import { WORKER } from './lib/devserver.mjs';
import { runNaiveConsumer } from './lib/naive.mjs';
import { loadConsumer } from './lib/pkg.mjs';
import { createSource } from './lib/source.mjs';
import { percentile } from './lib/stats.mjs';
import { nowMs, sleep, sleepUntil } from './lib/timing.mjs';

const COLUMNS = 'id BIGINT PRIMARY KEY, seq INT, sent_ms DOUBLE, note TEXT';

export async function runLatency({ server, admin, count = 500, spacingMs = 20, log }) {
  const pkg = await loadConsumer();
  const sides = {};
  for (const kind of ['runConsumer', 'naive']) {
    const table = `pings_${kind.toLowerCase()}`;
    const topic = await createSource(admin, { table, topic: `${table}_events`, columns: COLUMNS });
    sides[kind] = await measure({ kind, pkg, server, admin, table, topic, count, spacingMs, log });
  }
  const rc = sides.runConsumer, nv = sides.naive;
  const detail = (s) => ({ received: s.latencies.length, expected: count, insert_errors: s.insertErrors, consumer_error: s.error });
  const complete = (s) => s.latencies.length === count && !s.error;
  return [
    {
      id: 'latency.p50', figure: 'latency INSERT -> onChange p50 (ms)', unit: 'ms',
      value: percentile(rc.latencies, 50), baseline: percentile(nv.latencies, 50),
      ratio: percentile(nv.latencies, 50) / percentile(rc.latencies, 50), ratio_meaning: 'baseline / value (x faster)',
      target: '<= 100 ms', pass: complete(rc) && percentile(rc.latencies, 50) <= 100,
      detail: { runConsumer: detail(rc), naive: detail(nv) },
    },
    {
      id: 'latency.p99', figure: 'latency INSERT -> onChange p99 (ms)', unit: 'ms',
      value: percentile(rc.latencies, 99), baseline: percentile(nv.latencies, 99),
      ratio: percentile(nv.latencies, 99) / percentile(rc.latencies, 99), ratio_meaning: 'baseline / value (x faster)',
      target: '<= 300 ms', pass: complete(rc) && percentile(rc.latencies, 99) <= 300,
      detail: {
        runConsumer_max: Math.max(...rc.latencies), naive_max: Math.max(...nv.latencies),
        runConsumer_mean_insert_ms: rc.meanInsertMs, naive_mean_insert_ms: nv.meanInsertMs,
      },
    },
  ];
}

async function measure({ kind, pkg, server, admin, table, topic, count, spacingMs, log }) {
  const latencies = [];
  const seen = new Set();
  let warm = false;
  const stop = new AbortController();
  const onRow = (row) => {
    const t = nowMs();
    const seq = Number(row?.seq);
    if (seq < 0) { warm = true; return; }
    if (!seen.has(seq)) { seen.add(seq); latencies.push(t - Number(row.sent_ms)); }
  };
  let client;
  let running;
  if (kind === 'runConsumer') {
    client = pkg.createConsumerClient({ url: server.url, authProvider: async () => pkg.Auth.basic(WORKER.user, WORKER.password) });
    // Default settings: only what says which messages to read is given.
    running = pkg.runConsumer({
      client, name: 'bench-latency', topic, groupId: 'latency', start: 'earliest', stopSignal: stop.signal,
      onChange: (_ctx, change) => onRow(change.data),
    });
  } else {
    running = runNaiveConsumer({
      url: server.url, user: WORKER.user, password: WORKER.password, topic, groupId: 'latency',
      batchSize: 20, signal: stop.signal, onMessage: (_m, row) => onRow(row),
    });
  }
  let error;
  running = running.catch((err) => { error = String(err?.message ?? err); });

  // Warm-up: one row the consumer must see before the measured inserts start.
  await admin.sql(`INSERT INTO bench.${table} (id, seq, sent_ms, note) VALUES (1000000, -1, ${nowMs()}, 'warm-up')`);
  const warmDeadline = nowMs() + 15000;
  while (!warm && !error && nowMs() < warmDeadline) await sleep(5);
  if (!warm) error ??= 'warm-up row never arrived';

  const inserts = [];
  let insertErrors = 0, insertMs = 0;
  const t0 = nowMs() + 50;
  for (let i = 0; i < count && !error; i++) {
    await sleepUntil(t0 + i * spacingMs);
    const sent = nowMs();
    inserts.push(admin.sql(`INSERT INTO bench.${table} (id, seq, sent_ms, note) VALUES (${i + 1}, ${i}, ${sent}, 'ping ${i}')`)
      .then(() => { insertMs += nowMs() - sent; }, () => { insertErrors++; }));
  }
  await Promise.all(inserts);
  const deadline = nowMs() + 5000;
  while (seen.size < count && !error && nowMs() < deadline) await sleep(10);
  stop.abort();
  await running;
  await client?.disconnect?.();
  log(`latency ${kind}: ${latencies.length}/${count} received, p50 ${percentile(latencies, 50)?.toFixed(1)} ms, p99 ${percentile(latencies, 99)?.toFixed(1)} ms${error ? ` (${error})` : ''}`);
  return { latencies, error, insertErrors, meanInsertMs: insertMs / Math.max(1, count - insertErrors) };
}
