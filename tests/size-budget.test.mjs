// Size budgets (issue 5): CI fails when the published .wasm or the unpacked package grows past
// its budget. Runs in CI after `node scripts/build.mjs`; budgets are kB of 1,000 bytes. The
// sizes come from the helpers the benchmark uses (`npm run bench -- --only=size`), so the gate
// and the bench figure are the same number.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import test from 'node:test';
import { DIST, WASM_FILE } from '../bench/lib/pkg.mjs';
import { UNPACKED_BUDGET_BYTES, WASM_BUDGET_BYTES, npmPackSize, sizeParts, unpackedVerdict, wasmSizes } from '../bench/lib/sizes.mjs';

test('dist/wasm/kalam_consumer_wasm_bg.wasm is at most 150 kB', () => {
  assert.ok(existsSync(WASM_FILE), `${WASM_FILE} is missing: run node scripts/build.mjs first`);
  const { raw, gzip } = wasmSizes(WASM_FILE);
  assert.ok(raw <= WASM_BUDGET_BYTES,
    `.wasm is ${raw} bytes (gzip ${gzip}), over the ${WASM_BUDGET_BYTES}-byte budget by ${raw - WASM_BUDGET_BYTES} bytes`);
});

test('the unpacked package (npm pack of dist/) is at most 512 kB', () => {
  assert.ok(existsSync(WASM_FILE), `${WASM_FILE} is missing: run node scripts/build.mjs first`);
  const pack = npmPackSize(DIST);
  const { unpacked, tree, pass } = unpackedVerdict(DIST, pack);
  const parts = Object.entries(sizeParts(pack.files)).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v}`).join(', ');
  assert.ok(pass,
    `unpacked package is ${unpacked} bytes by npm (dist/ tree ${tree.bytes} bytes), budget ${UNPACKED_BUDGET_BYTES}: ${parts}`);
});
