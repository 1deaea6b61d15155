// Figure 1: decode speed of 1,000-message consume responses (300 B and 3 KB CDC rows).
//
// Package side: `decodeConsumeResponse` from `@kalamdb/consumer/wasm` (the export consumeBatch
// decodes with), plus what consumeBatch does with its result (`toBatch`). Baseline: the plain-JS path
// (JSON.parse of the body, Buffer.from(b64, 'base64'), JSON.parse, the same message objects).
// A second pair runs the whole `client.consumeBatch` with an injected in-memory fetch against a
// baseline that goes through the same fetch and then decodes in plain JS.
// Both sides alternate in short slices within each round (a full GC before each slice); the
// figure is the median over rounds of msg/s.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { consumeResponseBody, encodedPayloads } from './lib/cdc.mjs';
import { fakeJwt } from './lib/jwt.mjs';
import { loadConsumer, loadWasm } from './lib/pkg.mjs';
import { median } from './lib/stats.mjs';
import { nowMs } from './lib/timing.mjs';
import { forceGc } from './lib/gc.mjs';

const TOPIC = 'shop.orders';
// Issue 10 raised the target of all four rows from 0.8x (issue 5) to 1.0x.
const TARGET = 1.0;
const REQ = { topic_id: TOPIC, group_id: 'bench-decode', partition_id: 0 };

// The plain-JS baseline: what a hand-written client does with the same response text.
export function plainDecode(body, req) {
  const parsed = JSON.parse(body);
  const raw = Array.isArray(parsed.messages) ? parsed.messages : [];
  const messages = new Array(raw.length);
  for (let i = 0; i < raw.length; i++) {
    const m = raw[i];
    let payload, decodeError, rawPayload;
    try {
      payload = JSON.parse(Buffer.from(m.payload, 'base64').toString('utf8'));
    } catch (err) {
      decodeError = String(err?.message ?? err);
      rawPayload = m.payload;
    }
    const msg = {
      topic: m.topic_id ?? req.topic_id,
      group_id: req.group_id,
      partition_id: m.partition_id ?? req.partition_id,
      offset: m.offset ?? 0,
      key: m.key ?? null,
      timestamp_ms: m.timestamp_ms,
      user: m.user,
      op: m.op,
      payload,
      value: payload,
    };
    if (decodeError !== undefined) { msg.decode_error = decodeError; msg.raw_payload = rawPayload; }
    messages[i] = msg;
  }
  return { messages, next_offset: parsed.next_offset ?? 0, has_more: parsed.has_more ?? false };
}

// What consumeBatch does with the wasm result: `toBatch` of js/src/messages.ts, imported from the
// unbundled tsc output (build/tsc/, written by the same build as dist/), so this row times the
// package's own code. It works in place: adds the deprecated `value` alias and, for an
// undecodable payload, a typed error. Until 2026-12-03 this file rebuilt every message in a new
// literal here, as consumeBatch did before issue 10: a second object per message that the
// package no longer makes, charged to the package (about 5% of this row at 300 B).
const TSC_MESSAGES = new URL('../build/tsc/messages.js', import.meta.url);
async function loadToBatch() {
  if (!existsSync(fileURLToPath(TSC_MESSAGES))) throw new Error('build/tsc/messages.js is missing: run node scripts/build.mjs');
  return (await import(TSC_MESSAGES.href)).toBatch;
}

function timeSync(fn, minMs) {
  forceGc(); // each side starts on a clean heap, not paying for the other side's garbage
  let n = 0, sink = 0;
  const t0 = nowMs();
  let t;
  do {
    const batch = fn();
    sink += batch.messages.length;
    n++;
    t = nowMs();
  } while (t - t0 < minMs);
  return { msgs: sink, ms: t - t0, rate: (sink / (t - t0)) * 1000 };
}

async function timeAsync(fn, minMs) {
  forceGc();
  let n = 0, sink = 0;
  const t0 = nowMs();
  let t;
  do {
    const batch = await fn();
    sink += batch.messages.length;
    n++;
    t = nowMs();
  } while (t - t0 < minMs);
  return { msgs: sink, ms: t - t0, rate: (sink / (t - t0)) * 1000 };
}

// Runs A and B in short alternating slices (order flipped every slice) so both sides see the
// same machine load, and returns one rate per round per side (messages over summed time).
async function sideBySide({ a, b, rounds, roundMs, isAsync, slices = 6 }) {
  const time = isAsync ? timeAsync : async (fn, ms) => timeSync(fn, ms);
  await time(a, roundMs / 2); // warm-up: JIT, wasm memory growth
  await time(b, roundMs / 2);
  const ra = [], rb = [];
  for (let r = 0; r < rounds; r++) {
    const acc = { a: { msgs: 0, ms: 0 }, b: { msgs: 0, ms: 0 } };
    for (let s = 0; s < slices; s++) {
      const order = (r * slices + s) % 2 === 0 ? ['a', 'b'] : ['b', 'a'];
      for (const side of order) {
        const t = await time(side === 'a' ? a : b, roundMs / slices);
        acc[side].msgs += t.msgs;
        acc[side].ms += t.ms;
      }
    }
    ra.push((acc.a.msgs / acc.a.ms) * 1000);
    rb.push((acc.b.msgs / acc.b.ms) * 1000);
  }
  return { a: ra, b: rb };
}

function checkSame(pkgBatch, jsBatch) {
  if (pkgBatch.messages.length !== jsBatch.messages.length) throw new Error('decode: message counts differ');
  const i = pkgBatch.messages.length - 1;
  const p = pkgBatch.messages[i], j = jsBatch.messages[i];
  if (JSON.stringify(p.payload) !== JSON.stringify(j.payload) || p.offset !== j.offset || p.key !== j.key) {
    throw new Error('decode: package and baseline decode different messages');
  }
}

export async function runDecode({ rounds = 7, roundMs = 250, log }) {
  const wasm = await loadWasm();
  const pkg = await loadConsumer();
  const toBatch = await loadToBatch();
  const rows = [];
  for (const [label, rowBytes] of [['300 B', 300], ['3 KB', 3000]]) {
    const body = consumeResponseBody({ topic: TOPIC, payloads: encodedPayloads(1000, rowBytes), hasMore: true });
    const viaWasm = () => toBatch(wasm.decodeConsumeResponse(body, REQ));
    const viaJs = () => plainDecode(body, REQ);
    checkSame(viaWasm(), viaJs());
    log(`decode ${label}: body ${(body.length / 1e6).toFixed(2)} MB, ${rounds} rounds x ${roundMs} ms per side`);
    const r = await sideBySide({ a: viaWasm, b: viaJs, rounds, roundMs });
    rows.push(decodeRow(`decode ${label} rows: decodeConsumeResponse`, r, { bodyBytes: body.length }));

    // The same, through the public client: consumeBatch with an in-memory fetch.
    const fakeFetch = async () => new Response(body, { status: 200, headers: { 'content-type': 'application/json' } });
    const client = pkg.createConsumerClient({
      url: 'http://127.0.0.1:9', authProvider: async () => pkg.Auth.jwt(fakeJwt()), fetch: fakeFetch,
    });
    const opts = { topic: TOPIC, group_id: REQ.group_id, start: 'earliest', batch_size: 1000, partition_id: 0, timeout_seconds: 5 };
    const viaClient = () => client.consumeBatch(opts);
    const viaFetchJs = async () => {
      const res = await fakeFetch('http://127.0.0.1:9/v1/api/topics/consume', {
        method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer x' },
        body: JSON.stringify({ topic_id: TOPIC, group_id: REQ.group_id, start: 'Earliest', limit: 1000, partition_id: 0, timeout_seconds: 5 }),
      });
      return plainDecode(await res.text(), REQ);
    };
    try {
      checkSame(await viaClient(), await viaFetchJs());
      const r2 = await sideBySide({ a: viaClient, b: viaFetchJs, rounds, roundMs, isAsync: true });
      rows.push(decodeRow(`decode ${label} rows: client.consumeBatch (in-memory fetch)`, r2, { bodyBytes: body.length }));
    } catch (err) {
      rows.push({ id: `decode.consumeBatch.${rowBytes}`, figure: `decode ${label} rows: client.consumeBatch (in-memory fetch)`,
        unit: 'msg/s', value: null, baseline: null, ratio: null, target: `>= ${TARGET}x`, pass: false, error: String(err?.stack ?? err) });
    }
    await client.disconnect?.();
  }
  return rows;
}

function decodeRow(figure, r, extra) {
  const value = median(r.a), baseline = median(r.b);
  const perRound = r.a.map((x, i) => x / r.b[i]);
  return {
    id: figure.replace(/[^a-z0-9]+/gi, '_').toLowerCase(),
    figure, unit: 'msg/s', value, baseline, ratio: value / baseline, target: `>= ${TARGET}x`,
    pass: value / baseline >= TARGET,
    detail: { rounds_value: r.a, rounds_baseline: r.b, ratio_per_round: perRound, ...extra },
  };
}
