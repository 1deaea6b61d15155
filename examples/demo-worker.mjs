// The README demo: a worker that keeps a per-customer order total up to date.
//
// It starts kalam-devserver on a temporary data directory, creates the tables, a topic fed by
// the orders table's INSERTs, two customers and a service account for the worker, then runs
// `runConsumer` while the customers place orders. It stops the worker once every order is
// counted and checks the totals against the orders themselves.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Auth, createConsumerClient, runConsumer } from '@kalamdb/consumer';

const repoRoot = fileURLToPath(new URL('..', import.meta.url));
const serverBin = process.env.KALAM_DEVSERVER_BIN ?? join(repoRoot, 'target/release/kalam-devserver');
const ROOT_PASSWORD = 'demo-root-password';
const ORDERS_PER_CUSTOMER = 25;

const dataDir = mkdtempSync(join(tmpdir(), 'kalam-demo-'));
const server = spawn(serverBin, ['--port', '0', '--data-dir', dataDir], {
  env: { ...process.env, KALAMDB_ROOT_PASSWORD: ROOT_PASSWORD },
  stdio: ['ignore', 'pipe', 'inherit'],
});

try {
  const url = await firstLineUrl(server);
  console.log(`dev server: ${url} (data in ${dataDir})`);

  const root = createConsumerClient({ url, authProvider: async () => Auth.basic('root', ROOT_PASSWORD) });
  for (const statement of [
    'CREATE NAMESPACE IF NOT EXISTS shop',
    'CREATE USER TABLE shop.orders (id BIGINT PRIMARY KEY DEFAULT SNOWFLAKE_ID(), item TEXT NOT NULL, amount INT NOT NULL)',
    'CREATE SHARED TABLE shop.customer_totals (customer TEXT PRIMARY KEY, orders INT NOT NULL, amount INT NOT NULL)',
    'CREATE TOPIC shop.order_events PARTITIONS 2',
    "ALTER TOPIC shop.order_events ADD SOURCE shop.orders ON INSERT WITH (payload = 'full')",
    "CREATE USER worker WITH PASSWORD 'worker-pass' ROLE service",
    "CREATE USER alice WITH PASSWORD 'alice-pass' ROLE user",
    "CREATE USER bob WITH PASSWORD 'bob-pass' ROLE user",
  ]) {
    await root.query(statement);
  }
  console.log('schema ready: shop.orders -> topic shop.order_events -> worker -> shop.customer_totals');

  const worker = createConsumerClient({ url, authProvider: async () => Auth.basic('worker', 'worker-pass') });
  const stop = new AbortController();
  let handled = 0;
  // The two partitions run side by side and both carry orders of every customer. A KalamDB
  // UPDATE is a read then a write, not an atomic step (docs/PROTOCOL.md §11): two concurrent
  // `amount = amount + $2` on one row can lose one. So the worker takes a customer's totals
  // row one change at a time.
  const customerLocks = new Map();
  const oneAtATime = (customer, work) => {
    const run = (customerLocks.get(customer) ?? Promise.resolve()).then(work);
    customerLocks.set(customer, run.catch(() => {}));
    return run;
  };
  const running = runConsumer({
    client: worker,
    name: 'order-totals',
    topic: 'shop.order_events',
    groupId: 'order-totals',
    start: 'earliest',
    partitions: [0, 1],
    stopSignal: stop.signal,
    onChange: (ctx, change) =>
      oneAtATime(change.user, async () => {
        const amount = Number(change.data.amount);
        const current = await ctx.queryOne('SELECT orders, amount FROM shop.customer_totals WHERE customer = $1', [change.user]);
        if (current) {
          await ctx.sql('UPDATE shop.customer_totals SET orders = orders + 1, amount = amount + $2 WHERE customer = $1', [change.user, amount]);
        } else {
          await ctx.sql('INSERT INTO shop.customer_totals (customer, orders, amount) VALUES ($1, 1, $2)', [change.user, amount]);
        }
        handled += 1;
      }),
    onError: (info) => console.error('worker error:', info.error?.message ?? info),
  });

  // Customers place orders while the worker runs.
  const expected = new Map();
  for (const name of ['alice', 'bob']) {
    const customer = createConsumerClient({ url, authProvider: async () => Auth.basic(name, `${name}-pass`) });
    let total = 0;
    for (let i = 1; i <= ORDERS_PER_CUSTOMER; i += 1) {
      const amount = i * (name === 'alice' ? 3 : 5);
      total += amount;
      await customer.query('INSERT INTO shop.orders (item, amount) VALUES ($1, $2)', [`item-${i}`, amount]);
    }
    expected.set(name, total);
  }
  console.log(`placed ${2 * ORDERS_PER_CUSTOMER} orders`);

  const deadline = Date.now() + 30_000;
  while (handled < 2 * ORDERS_PER_CUSTOMER && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  stop.abort();
  await running;

  const totals = await root.queryAll('SELECT customer, orders, amount FROM shop.customer_totals ORDER BY customer');
  console.table(totals);
  const offsets = await root.queryAll("SELECT partition_id, last_acked_offset FROM system.topic_offsets WHERE group_id = 'order-totals' ORDER BY partition_id");
  console.log('committed offsets:', offsets.map((row) => `p${row.partition_id}=${row.last_acked_offset}`).join(' '));

  const wrong = [...expected].filter(([name, amount]) => {
    const row = totals.find((candidate) => candidate.customer === name);
    return !row || Number(row.amount) !== amount || Number(row.orders) !== ORDERS_PER_CUSTOMER;
  });
  if (wrong.length > 0) {
    throw new Error(`totals do not match the orders for: ${wrong.map(([name]) => name).join(', ')}`);
  }
  console.log('demo ok: every order was counted exactly once');
} finally {
  server.kill('SIGTERM');
  rmSync(dataDir, { recursive: true, force: true });
}

/** Resolves with the URL the dev server prints as its first stdout line. */
function firstLineUrl(child) {
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout });
    child.once('exit', (code) => reject(new Error(`kalam-devserver exited early (code ${code})`)));
    lines.once('line', (line) => {
      const match = /^listening on (http:\/\/\S+)$/.exec(line.trim());
      if (match) resolve(match[1]);
      else reject(new Error(`unexpected first line from kalam-devserver: ${line}`));
    });
  });
}
