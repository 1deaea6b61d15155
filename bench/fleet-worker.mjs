// Child process of the fleet figures (fleet.mjs), started with fork(): one runConsumer worker
// with `fleet` on, as one replica of a deployment.
//
//   argv[2]: JSON { url, user, password, topic, groupId, partitionCount, leaseMs, workerId, busyMs, waitMs, start }
//
// IPC, child -> parent: { type: 'ready' } once the package is loaded; { type: 'done', items }
// every 50 ms with [partition, offset, startMs, endMs] per finished handler call (epoch ms,
// sub-millisecond, comparable across the processes of one machine); { type: 'exit', ok, error }.
// Parent -> child: { type: 'go' } starts runConsumer (so process start-up and module loading
// are not timed, and every worker of a run starts at the same moment). SIGTERM aborts
// stopSignal: drain, commit, release the leases, exit 0.
import { loadConsumer } from './lib/pkg.mjs';
import { nowMs } from './lib/timing.mjs';

const cfg = JSON.parse(process.argv[2]);
const pkg = await loadConsumer();
const stop = new AbortController();
process.on('SIGTERM', () => stop.abort());

let items = [];
const flush = () => {
  if (items.length === 0) return;
  process.send({ type: 'done', items });
  items = [];
};
const flusher = setInterval(flush, 50);

const go = new Promise((resolve) => process.on('message', (m) => { if (m?.type === 'go') resolve(); }));
process.send({ type: 'ready' });
await go;

// The CPU-bound handler of the scaling figure: busyMs of busy work per message (a handler that
// only waits would not show the fleet, one process already runs its partitions side by side).
const busy = cfg.busyMs ?? 0;
// The handler of the failover and handover figures waits waitMs instead (I/O, not CPU).
const wait = cfg.waitMs ?? 0;
let outcome = { ok: true };
try {
  await pkg.runConsumer({
    client: pkg.createConsumerClient({ url: cfg.url, authProvider: async () => pkg.Auth.basic(cfg.user, cfg.password) }),
    name: 'bench-fleet', topic: cfg.topic, groupId: cfg.groupId, partitionCount: cfg.partitionCount,
    start: cfg.start ?? 'earliest', stopSignal: stop.signal,
    fleet: { leaseMs: cfg.leaseMs, workerId: cfg.workerId },
    logger: { debug() {}, info() {}, warn() {}, error: (m) => console.error(`[${cfg.workerId}] ${m}`) },
    onChange: async (_ctx, change) => {
      const t0 = nowMs();
      if (busy > 0) while (nowMs() - t0 < busy) { /* busy work */ }
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      items.push([change.partitionId, change.offset, t0, nowMs()]);
    },
  });
} catch (error) {
  outcome = { ok: false, error: String(error?.stack ?? error) };
}
clearInterval(flusher);
flush();
process.send({ type: 'exit', ...outcome }, () => process.exit(outcome.ok ? 0 : 1));
