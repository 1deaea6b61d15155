// Figure 3: latency from INSERT to onChange, p50 and p99 over 500 single-row INSERTs spaced
// 20 ms apart, runConsumer at default settings against the naive loop. Each side gets its own
// table and topic. The row carries the time the INSERT request was sent (same process, same
// clock as the handler), so each sample is the whole path: INSERT request + commit + publish +
// the consumer's poll/backoff + decode + dispatch. That upper-bounds "from commit", and it
// charges a slow INSERT (a busy server or machine) to the consumer. So a second pair of rows
// measures from the message's own `timestamp_ms` (the server's wall clock at publish, i.e. the
// commit; same host, so the same clock as Date.now() here; 1 ms resolution).
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
        runConsumer_slowest: rc.slowest, naive_slowest: nv.slowest,
      },
    },
    ...[50, 99].map((p) => ({
      id: `latency.commit_p${p}`, figure: `latency commit (message timestamp_ms) -> onChange p${p} (ms)`, unit: 'ms',
      value: percentile(rc.fromCommit, p), baseline: percentile(nv.fromCommit, p),
      ratio: percentile(nv.fromCommit, p) / percentile(rc.fromCommit, p), ratio_meaning: 'baseline / value (x faster)',
      target: p === 50 ? '<= 100 ms' : '<= 300 ms', pass: complete(rc) && percentile(rc.fromCommit, p) <= (p === 50 ? 100 : 300),
    })),
  ];
}

async function measure({ kind, pkg, server, admin, table, topic, count, spacingMs, log }) {
  const latencies = [];
  const bySeq = [];
  const received = new Map(), committed = new Map();
  const seen = new Set();
  let warm = false;
  const stop = new AbortController();
  const fromCommit = [];
  const onRow = (row, publishedMs) => {
    const t = nowMs();
    const seq = Number(row?.seq);
    if (seq < 0) { warm = true; return; }
    if (!seen.has(seq)) { seen.add(seq); latencies.push(t - Number(row.sent_ms)); bySeq.push([seq, t - Number(row.sent_ms)]); received.set(seq, t); fromCommit.push(Date.now() - Number(publishedMs)); }
  };
  let client;
  let running;
  if (kind === 'runConsumer') {
    client = pkg.createConsumerClient({ url: server.url, authProvider: async () => pkg.Auth.basic(WORKER.user, WORKER.password) });
    // Default settings: only what says which messages to read is given.
    running = pkg.runConsumer({
      client, name: 'bench-latency', topic, groupId: 'latency', start: 'earliest', partitions: [0], stopSignal: stop.signal,
      onChange: (_ctx, change) => onRow(change.data, change.timestampMs),
    });
  } else {
    running = runNaiveConsumer({
      url: server.url, user: WORKER.user, password: WORKER.password, topic, groupId: 'latency',
      batchSize: 20, signal: stop.signal, onMessage: (m, row) => onRow(row, m.timestamp_ms),
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
      .then(() => { const t = nowMs(); committed.set(i, t); insertMs += t - sent; }, () => { insertErrors++; }));
  }
  await Promise.all(inserts);
  const deadline = nowMs() + 5000;
  while (seen.size < count && !error && nowMs() < deadline) await sleep(10);
  stop.abort();
  await running;
  await client?.disconnect?.();
  log(`latency ${kind}: ${latencies.length}/${count} received, p50 ${percentile(latencies, 50)?.toFixed(1)} ms, p99 ${percentile(latencies, 99)?.toFixed(1)} ms${error ? ` (${error})` : ''}`);
  // The ten slowest samples with their sequence numbers: clustered numbers mean one stall.
  // insert_ms: the INSERT round trip; after_commit_ms: from its response to onChange (negative
  // when the message reached the handler before the INSERT response reached the inserter).
  const r1 = (x) => Math.round(x * 10) / 10;
  const slowest = [...bySeq].sort((a, b) => b[1] - a[1]).slice(0, 10).map(([seq, ms]) => ({
    seq, ms: r1(ms), insert_ms: r1((committed.get(seq) ?? NaN) - (received.get(seq) - ms)),
    after_commit_ms: r1(received.get(seq) - (committed.get(seq) ?? NaN)),
  }));
  return { latencies, fromCommit, error, insertErrors, meanInsertMs: insertMs / Math.max(1, count - insertErrors), slowest };
}
