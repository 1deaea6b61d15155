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
const body = consumeResponseBody({ topic: 'shop.orders', payloads: encodedPayloads(1000, rowBytes) });
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

// What any "decode in wasm, hand back JSON" design pays in JS before the wasm code itself:
// the body into wasm memory, the result out of it, and one JSON.parse of the result. The three
// are timed in interleaved slices (the machine is noisy); medians over 15 slices each.
{
  const out = new TextEncoder().encode(JSON.stringify(wasm.decodeConsumeResponse(body, req)));
  const scratch = new Uint8Array(body.length * 3);
  const enc = new TextEncoder(), dec = new TextDecoder();
  const parts = {
    base: () => plainDecode(body, req),
    copyIn: () => enc.encodeInto(body, scratch),
    outParse: () => JSON.parse(dec.decode(out)),
  };
  const per = { base: [], copyIn: [], outParse: [] };
  for (const fn of Object.values(parts)) for (let i = 0; i < 5; i++) fn();
  for (let slice = 0; slice < 15; slice++) {
    for (const [k, fn] of Object.entries(parts)) {
      let n = 0; const t0 = nowMs();
      while (nowMs() - t0 < 60) { fn(); n++; }
      per[k].push((nowMs() - t0) / n);
    }
  }
  const med = (xs) => [...xs].sort((x, y) => x - y)[xs.length >> 1];
  const base = med(per.base), copyIn = med(per.copyIn), outParse = med(per.outParse);
  console.log(`\nboundary floor, ms per 1,000-message body (${rowBytes} B rows), medians:`);
  console.log(`  plain JS baseline, whole decode                   ${base.toFixed(2)}`);
  console.log(`  body into wasm memory (TextEncoder.encodeInto)    ${copyIn.toFixed(2)}`);
  console.log(`  result out: TextDecoder.decode + JSON.parse (${(out.length / 1e6).toFixed(2)} MB) ${outParse.toFixed(2)}`);
  console.log(`  => best ratio if the wasm code were free: ${(base / (outParse + copyIn)).toFixed(2)}x`);
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
