// The worker's stats (js/src/worker/stats.ts): duration percentiles over a bounded window, and
// the stall rule (work pending and no progress) on a hand-driven partition view. Imports the
// unbundled tsc output that `node scripts/build.mjs` leaves in build/tsc/.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const tscOut = new URL('../../build/tsc/', import.meta.url);
if (!existsSync(fileURLToPath(new URL('worker/stats.js', tscOut)))) {
  throw new Error('build/tsc/worker/stats.js is missing: run node scripts/build.mjs first');
}
const { DurationWindow, WorkerMonitor } = await import(new URL('worker/stats.js', tscOut).href);

test('DurationWindow: nearest-rank percentiles, and only the latest 1024 samples count', () => {
  const w = new DurationWindow();
  assert.deepEqual(w.summary(), { samples: 0, p50: 0, p95: 0, p99: 0, max: 0 });
  for (let ms = 100; ms >= 1; ms--) w.add(ms);
  assert.deepEqual(w.summary(), { samples: 100, p50: 50, p95: 95, p99: 99, max: 100 });
  for (let i = 0; i < 1024; i++) w.add(7);
  assert.deepEqual(w.summary(), { samples: 1024, p50: 7, p95: 7, p99: 7, max: 7 }, 'the first hundred left the window');
});

test('a partition is stuck only while it has work and makes no progress; progress or no work resets it', () => {
  const monitor = new WorkerMonitor();
  const stats = monitor.partition(3);
  const view = { committed: -1, inFlight: 0, heldBack: 0 };
  stats.attach(view);
  const t0 = Date.now();
  assert.equal(stats.observe(t0), false, 'nothing fetched: no work');
  assert.equal(stats.stuckFor(t0 + 10_000), 0);
  view.inFlight = 2;
  assert.equal(stats.observe(t0 + 1_000), true);
  assert.equal(stats.stuckFor(t0 + 5_000), 4_000, 'counted from when the work was first seen, not from the last progress');
  stats.handled++;
  stats.observe(t0 + 6_000);
  assert.equal(stats.stuckFor(t0 + 6_500), 500, 'a finished message is progress');
  view.inFlight = 0;
  stats.fullFetch = true;
  assert.equal(stats.observe(t0 + 7_000), true, 'a full last poll means more is waiting');
  stats.fullFetch = false;
  assert.equal(stats.observe(t0 + 8_000), false);
  assert.equal(stats.stuckFor(t0 + 8_000), 0);
  const h = stats.health(t0 + 8_000);
  assert.equal(h.partitionId, 3);
  assert.equal(h.lastCommittedOffset, null);
  assert.equal(h.lastDeliveredOffset, null);
  assert.equal(h.secondsSinceProgress, 2, 'since the finished message at +6 s');
  assert.deepEqual(monitor.health().partitions.map((p) => p.partitionId), [3]);
  stats.attach(undefined);
  assert.deepEqual(monitor.health().partitions, [], 'a partition no loop runs is not listed');
  assert.equal(monitor.metrics().handled, 1, 'its counters still count');
});
