// @ts-check
// Decode throughput of the wasm consume path against a plain-JS baseline.
//
//   node crates/kalam-consumer-wasm/bench/decode.mjs   (after `node scripts/build.mjs --step wasm`)
//
// Both sides start from the response body text (what `fetch().text()` gives) of a 1,000-message
// consume response and end with plain JS objects:
//   baseline  JSON.parse(body), then per message Buffer.from(b64, 'base64') + JSON.parse + object
//   wasm      decodeConsumeResponse(body, request): the same path KalamConsumerClient.consume runs
// The baseline does less work than the wasm side: Buffer.from does not reject bad base64.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const wasmDir = process.env.KALAM_WASM_DIR ?? join(root, 'js', 'src', 'wasm');
const wasm = await import(join(wasmDir, 'kalam_consumer_wasm.js'));
wasm.initSync({ module: readFileSync(join(wasmDir, 'kalam_consumer_wasm_bg.wasm')) });

const request = { topic_id: 'app.events', group_id: 'bench', partition_id: 0 };

/** A CDC-like row of about `bytes` bytes of JSON. @param {number} i @param {number} bytes */
function row(i, bytes) {
  const base = {
    id: String(7292000000000000000n + BigInt(i)), status: i % 3 ? 'paid' : 'new', amount: i * 1.25,
    customer: `customer-${i % 97}`, meta: '{"source":"web","tags":["a","b"]}', created_at: 1730000000123456 + i,
    _seq: String(7292000000000012345n + BigInt(i)), _commit_seq: String(117 + i), _deleted: false, _table: 'app:orders',
  };
  const filler = Math.max(0, bytes - JSON.stringify(base).length - 12);
  return { ...base, note: 'lorem ipsum dolor sit amet, é✓ '.repeat(Math.ceil(filler / 32)).slice(0, filler) };
}

/** @param {number} rowBytes */
function body(rowBytes) {
  const messages = [];
  for (let i = 0; i < 1000; i++) {
    messages.push({
      topic_id: 'app.events', partition_id: 0, offset: i,
      payload: Buffer.from(JSON.stringify(row(i, rowBytes))).toString('base64'),
      key: String(i), timestamp_ms: 1730000000123 + i, user: 'alice', op: 'Insert',
    });
  }
  return JSON.stringify({ messages, next_offset: 1000, has_more: true });
}

/** @param {string} text */
function baseline(text) {
  const response = JSON.parse(text);
  const messages = [];
  for (const m of response.messages ?? []) {
    /** @type {Record<string, unknown>} */
    const out = {
      topic: m.topic_id ?? request.topic_id, group_id: request.group_id,
      partition_id: m.partition_id ?? request.partition_id, offset: m.offset ?? 0,
      key: m.key ?? null, timestamp_ms: m.timestamp_ms ?? 0,
    };
    if (m.user != null) out.user = m.user;
    out.op = m.op;
    try {
      out.payload = JSON.parse(Buffer.from(m.payload, 'base64').toString('utf8'));
    } catch (e) {
      out.decode_error = String(e);
      out.raw_payload = m.payload;
    }
    messages.push(out);
  }
  return { messages, next_offset: response.next_offset ?? 0, has_more: response.has_more ?? false };
}

/** @param {string} text */
const viaWasm = (text) => wasm.decodeConsumeResponse(text, request);

/**
 * Best CPU ms per call over `rounds` rounds. CPU time (process.cpuUsage), not wall time: the
 * build machine is shared, and wall time mostly measured the neighbours.
 * @param {(t: string) => unknown} fn @param {string} text
 */
function measure(fn, text, rounds = 15, perRound = 10) {
  for (let i = 0; i < 20; i++) fn(text); // warm up
  const times = [];
  for (let r = 0; r < rounds; r++) {
    const start = process.cpuUsage();
    for (let i = 0; i < perRound; i++) fn(text);
    const used = process.cpuUsage(start);
    times.push((used.user + used.system) / 1000 / perRound);
  }
  return Math.min(...times);
}

for (const size of [300, 3000]) {
  const text = body(size);
  const a = JSON.stringify(baseline(text));
  const b = JSON.stringify(viaWasm(text));
  if (a !== b) throw new Error(`outputs differ for ${size} B rows`);
  // Interleave to even out noise from other processes on the machine.
  const js = [], wa = [];
  for (let k = 0; k < 3; k++) {
    js.push(measure(baseline, text));
    wa.push(measure(viaWasm, text));
  }
  const jsMs = Math.min(...js), waMs = Math.min(...wa);
  const mb = text.length / 1e6;
  console.log(
    `${String(size).padStart(4)} B rows, body ${mb.toFixed(2)} MB: js ${jsMs.toFixed(2)} ms (${(mb / jsMs * 1000).toFixed(0)} MB/s), ` +
    `wasm ${waMs.toFixed(2)} ms (${(mb / waMs * 1000).toFixed(0)} MB/s), wasm/js throughput ratio ${(jsMs / waMs).toFixed(2)}`,
  );
}

// End to end, as the TS layer sees it: one consume through an injected fetch returning a
// Response over the same bytes. Baseline: response.text() + the JS decode above; wasm:
// KalamConsumerClient.consume (reads arrayBuffer(), no UTF-16 round trip of the body).
/** @param {() => Promise<unknown>} fn */
async function measureAsync(fn, rounds = 15, perRound = 10) {
  for (let i = 0; i < 20; i++) await fn();
  const times = [];
  for (let r = 0; r < rounds; r++) {
    const start = process.cpuUsage();
    for (let i = 0; i < perRound; i++) await fn();
    const used = process.cpuUsage(start);
    times.push((used.user + used.system) / 1000 / perRound);
  }
  return Math.min(...times);
}

for (const size of [300, 3000]) {
  const bytes = Buffer.from(body(size));
  const fetchStub = async () => new Response(bytes);
  const client = new wasm.KalamConsumerClient('http://bench.invalid', { fetch: fetchStub });
  const consumeRequest = { topic_id: request.topic_id, group_id: request.group_id, start: 'Earliest', limit: 1000, partition_id: 0 };
  const jsE2e = async () => baseline(await (await fetchStub()).text());
  const wasmE2e = () => client.consume('Bearer x', consumeRequest);
  if (JSON.stringify(await jsE2e()) !== JSON.stringify(await wasmE2e())) throw new Error('end-to-end outputs differ');
  const js = [], wa = [];
  for (let k = 0; k < 3; k++) {
    js.push(await measureAsync(jsE2e));
    wa.push(await measureAsync(wasmE2e));
  }
  const jsMs = Math.min(...js), waMs = Math.min(...wa);
  console.log(`${String(size).padStart(4)} B rows, through fetch: js ${jsMs.toFixed(2)} ms, wasm consume ${waMs.toFixed(2)} ms, wasm/js throughput ratio ${(jsMs / waMs).toFixed(2)}`);
  client.free();
}
