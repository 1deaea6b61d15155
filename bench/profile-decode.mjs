#!/usr/bin/env node
// Where the decode time goes: CPU profile of `decodeConsumeResponse` on a 1,000-message body,
// self time grouped into wasm code, JS glue, JSON.parse, text encoding and GC, next to the
// plain-JS baseline's own profile. Not part of `npm run bench`; run it when figure 1 moves:
//
//   node bench/profile-decode.mjs [rowBytes=300] [seconds=3]
import { Session } from 'node:inspector/promises';
import { plainDecode } from './decode.mjs';
import { consumeResponseBody, encodedPayloads } from './lib/cdc.mjs';
import { loadWasm } from './lib/pkg.mjs';
import { nowMs } from './lib/timing.mjs';

const rowBytes = Number(process.argv[2] ?? 300);
const seconds = Number(process.argv[3] ?? 3);
const wasm = await loadWasm();
const payloads = encodedPayloads(1000, rowBytes);
const body = consumeResponseBody({ topic: 'shop.orders', payloads });
const req = { topic_id: 'shop.orders', group_id: 'g', partition_id: 0 };

const session = new Session();
session.connect();
await session.post('Profiler.enable');
await session.post('Profiler.setSamplingInterval', { interval: 200 });

for (const [label, fn] of [['decodeConsumeResponse (wasm)', () => wasm.decodeConsumeResponse(body, req)],
  ['plain JS baseline', () => plainDecode(body, req)]]) {
  for (let i = 0; i < 20; i++) fn(); // warm-up
  await session.post('Profiler.start');
  let n = 0;
  const t0 = nowMs();
  while (nowMs() - t0 < seconds * 1000) { fn(); n++; }
  const ms = nowMs() - t0;
  const { profile } = await session.post('Profiler.stop');
  console.log(`\n${label}: ${rowBytes} B rows, ${Math.round((n * 1000 * 1000) / ms).toLocaleString('en-US')} msg/s, ${(ms / n).toFixed(2)} ms per 1,000-message body`);
  for (const [name, share] of breakdown(profile)) console.log(`  ${(share * 100).toFixed(1).padStart(5)}%  ${name}`);
}
session.disconnect();

// The floor of the columns design (crates/kalam-consumer-core/src/columns.rs): what the JS
// side (js/assemble.js) costs if the wasm work (envelope scan, base64) were free, i.e. per
// message one TextDecoder.decode + JSON.parse of payload bytes already in memory plus the
// object literal. Timed in interleaved slices (the machine is noisy); medians over 15 slices.
{
  const texts = payloads.map((p) => Buffer.from(p.json));
  const all = new Uint8Array(Buffer.concat(texts));
  const ends = [];
  texts.reduce((end, t) => (ends.push(end + t.length), end + t.length), 0);
  const dec = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  const assembleOnly = () => {
    const out = new Array(ends.length);
    for (let i = 0, start = 0; i < ends.length; start = ends[i], i++) {
      out[i] = { topic: 'shop.orders', group_id: 'g', partition_id: 0, offset: i, key: null, timestamp_ms: 0, user: 'alice', op: 'Insert',
        payload: JSON.parse(dec.decode(all.subarray(start, ends[i]))) };
    }
    return out;
  };
  const parts = { base: () => plainDecode(body, req), package: () => wasm.decodeConsumeResponse(body, req), floor: assembleOnly };
  const per = { base: [], package: [], floor: [] };
  for (const fn of Object.values(parts)) for (let i = 0; i < 5; i++) fn();
  for (let slice = 0; slice < 15; slice++) {
    for (const [k, fn] of Object.entries(parts)) {
      let n = 0; const t0 = nowMs();
      while (nowMs() - t0 < 60) { fn(); n++; }
      per[k].push((nowMs() - t0) / n);
    }
  }
  const med = (xs) => [...xs].sort((x, y) => x - y)[xs.length >> 1];
  const base = med(per.base), pkg = med(per.package), floor = med(per.floor);
  console.log(`\ncolumns floor, ms per 1,000-message body (${rowBytes} B rows), medians:`);
  console.log(`  plain JS baseline, whole decode                         ${base.toFixed(2)}`);
  console.log(`  decodeConsumeResponse                                   ${pkg.toFixed(2)}  (${(base / pkg).toFixed(2)}x)`);
  console.log(`  JS side alone (decode + JSON.parse + object per message) ${floor.toFixed(2)}  => best ratio with free wasm: ${(base / floor).toFixed(2)}x`);
}
function category(frame) {
  const { functionName: fn, url } = frame;
  if (url.startsWith('wasm://') || /^\$?(wasm-function|func)\[?\d/.test(fn) || fn.startsWith('$')) return 'wasm code';
  if (fn === '(garbage collector)') return 'GC';
  if (fn === '(program)' || fn === '(idle)') return 'runtime (program)';
  if (url.includes('kalam_consumer_wasm.js')) return `glue: ${fn || '(anonymous)'}`;
  if (url === '' && fn) return `builtin: ${fn}`;
  return `${fn || '(anonymous)'} ${url.split('/').pop()}`;
}

function breakdown(profile) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const counts = new Map();
  for (const id of profile.samples) counts.set(id, (counts.get(id) ?? 0) + 1);
  const total = profile.samples.length;
  const agg = new Map();
  for (const [id, c] of counts) {
    const k = category(byId.get(id).callFrame);
    agg.set(k, (agg.get(k) ?? 0) + c);
  }
  return [...agg].map(([k, c]) => [k, c / total]).sort((a, b) => b[1] - a[1]).slice(0, 12);
}
