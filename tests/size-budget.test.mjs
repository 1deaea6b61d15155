// Size budget (issue 5): the published .wasm and the unpacked package must stay small.
// Runs in CI after `node scripts/build.mjs`; budgets are kB of 1,000 bytes.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import test from 'node:test';
import { DIST, WASM_FILE } from '../bench/lib/pkg.mjs';
import { UNPACKED_BUDGET_BYTES, WASM_BUDGET_BYTES, treeSize, wasmSizes } from '../bench/lib/sizes.mjs';

test('dist/wasm/kalam_consumer_wasm_bg.wasm is at most 150 kB', () => {
  assert.ok(existsSync(WASM_FILE), `${WASM_FILE} is missing: run node scripts/build.mjs first`);
  const { raw, gzip } = wasmSizes(WASM_FILE);
  assert.ok(raw <= WASM_BUDGET_BYTES,
    `.wasm is ${raw} bytes (gzip ${gzip}), over the ${WASM_BUDGET_BYTES}-byte budget by ${raw - WASM_BUDGET_BYTES} bytes`);
});

test('the unpacked package (dist/) is at most 250 kB', () => {
  assert.ok(existsSync(DIST), `${DIST} is missing: run node scripts/build.mjs first`);
  const { bytes, files } = treeSize(DIST);
  assert.ok(bytes <= UNPACKED_BUDGET_BYTES,
    `dist/ holds ${bytes} bytes in ${files} files, over the ${UNPACKED_BUDGET_BYTES}-byte budget by ${bytes - UNPACKED_BUDGET_BYTES} bytes`);
});
