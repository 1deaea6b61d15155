// The source side on the dev server: a USER table routed into a topic (so every message carries
// its owner in `user`, as runConsumer requires), filled by multi-row INSERTs.
import { cdcRow, rng } from './cdc.mjs';

// Creates namespace (once), `ns.table` and topic `ns.topic` with an ON INSERT route.
export async function createSource(admin, { ns = 'bench', table, topic, columns }) {
  await admin.sql(`CREATE NAMESPACE IF NOT EXISTS ${ns}`);
  await admin.sql(`CREATE USER TABLE ${ns}.${table} (${columns})`);
  await admin.sql(`CREATE TOPIC ${ns}.${topic}`);
  await admin.sql(`ALTER TOPIC ${ns}.${topic} ADD SOURCE ${ns}.${table} ON INSERT`);
  return `${ns}.${topic}`;
}

export const ORDER_COLUMNS =
  'id BIGINT PRIMARY KEY, customer_id BIGINT, status TEXT, amount DOUBLE, currency TEXT, items INT, note TEXT, created_at BIGINT';

const quote = (s) => `'${String(s).replace(/'/g, "''")}'`;

// Inserts `count` order rows (about 300 B of payload JSON each) in statements of `chunk` rows.
export async function preloadOrders(admin, { ns = 'bench', table, count, chunk = 500, seed = 7 }) {
  const rand = rng(seed);
  for (let start = 0; start < count; start += chunk) {
    const values = [];
    for (let i = start; i < Math.min(count, start + chunk); i++) {
      const r = cdcRow(rand, i, 240); // ~240 B of columns + ~90 B of system columns in the payload
      values.push(`(${i + 1}, ${r.customer_id}, ${quote(r.status)}, ${Number(r.amount)}, ${quote(r.currency)}, ${r.items}, ${quote(r.note)}, ${r.created_at})`);
    }
    await admin.sql(`INSERT INTO ${ns}.${table} (id, customer_id, status, amount, currency, items, note, created_at) VALUES ${values.join(', ')}`);
  }
}
