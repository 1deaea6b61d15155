// Realistic CDC rows and consume-response bodies (docs/PROTOCOL.md §2.3, §3.2, §4.3):
// BIGINT and DECIMAL columns as strings, TIMESTAMP as microseconds, JSON columns as JSON text,
// system columns `_seq`, `_commit_seq`, `_deleted`, `_table`. Deterministic (seeded) so runs
// compare.

const STATUSES = ['new', 'paid', 'shipped', 'cancelled', 'refunded'];
const CITIES = ['Lisbon', 'Amman', 'Osaka', 'Nairobi', 'Bogotá', 'Tallinn', 'Montréal'];
const WORDS = ('order item customer payment shipment warehouse refund invoice discount coupon ' +
  'express standard priority fragile gift wrap note café über naïve déjà vu').split(' ');

export function rng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const pick = (rand, list) => list[Math.floor(rand() * list.length)];
const words = (rand, n) => Array.from({ length: n }, () => pick(rand, WORDS)).join(' ');
const bigint = (rand, base) => (BigInt(base) + BigInt(Math.floor(rand() * 1e12))).toString();

function pad(text, rand, length) {
  let out = text;
  while (out.length < length) out += ' ' + pick(rand, WORDS);
  return out.slice(0, Math.max(0, length));
}

// A row of about `targetBytes` of UTF-8 JSON. `kind` 'small' is an order (~300 B),
// 'large' an order with a customer profile, JSON metadata and line items (~3 KB).
export function cdcRow(rand, i, targetBytes) {
  const row = {
    id: bigint(rand, 7292000000000000000n),
    customer_id: bigint(rand, 1000000000000n),
    status: pick(rand, STATUSES),
    amount: `${Math.floor(rand() * 100000)}.${String(Math.floor(rand() * 100)).padStart(2, '0')}`,
    currency: 'EUR',
    items: 1 + Math.floor(rand() * 9),
    note: '',
    created_at: 1730000000000000 + i * 1000 + Math.floor(rand() * 1000),
  };
  if (targetBytes > 1000) {
    row.customer = JSON.stringify({
      name: words(rand, 3), email: `user${i}@example.com`, city: pick(rand, CITIES),
      tier: pick(rand, ['gold', 'silver', 'bronze']), marketing_opt_in: rand() < 0.5,
    });
    row.lines = JSON.stringify(Array.from({ length: 12 }, (_, k) => ({
      sku: `SKU-${bigint(rand, 100000)}`, qty: 1 + Math.floor(rand() * 5),
      price: `${Math.floor(rand() * 500)}.${String(Math.floor(rand() * 100)).padStart(2, '0')}`,
      title: words(rand, 4), line: k,
    })));
    row.shipping_address = `${Math.floor(rand() * 999)} ${words(rand, 2)} street, ${pick(rand, CITIES)}`;
    row.tags = JSON.stringify(Array.from({ length: 6 }, () => pick(rand, WORDS)));
  }
  row._seq = bigint(rand, 7292000000000000000n);
  row._commit_seq = String(100 + i);
  row._deleted = false;
  row._table = 'shop:orders';
  const size = Buffer.byteLength(JSON.stringify(row));
  row.note = pad(words(rand, 2), rand, Math.max(0, row.note.length + targetBytes - size));
  return row;
}

// Base64 payloads of `count` rows of about `rowBytes` each.
export function encodedPayloads(count, rowBytes, seed = 42) {
  const rand = rng(seed);
  const out = [];
  for (let i = 0; i < count; i++) {
    const json = JSON.stringify(cdcRow(rand, i, rowBytes));
    out.push({ b64: Buffer.from(json, 'utf8').toString('base64'), json, key: null });
  }
  return out;
}

// A consume response body (HTTP 200 text) carrying `payloads` from `firstOffset` on.
export function consumeResponseBody({ topic, partition = 0, firstOffset = 0, payloads, hasMore, user = 'alice' }) {
  const messages = payloads.map((p, i) => ({
    topic_id: topic,
    partition_id: partition,
    offset: firstOffset + i,
    payload: p.b64,
    key: String(firstOffset + i + 1),
    timestamp_ms: 1730000000123 + i,
    user,
    op: 'Insert',
  }));
  return JSON.stringify({
    messages,
    next_offset: firstOffset + payloads.length,
    has_more: hasMore ?? true,
  });
}
