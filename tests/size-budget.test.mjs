// Size budget (issue 5): CI fails when the published .wasm grows past its budget.
// Runs in CI after `node scripts/build.mjs`; budgets are kB of 1,000 bytes. The unpacked
// package size is a benchmark figure (`npm run bench -- --only=size`), not a CI gate.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import test from 'node:test';
import { WASM_FILE } from '../bench/lib/pkg.mjs';
import { WASM_BUDGET_BYTES, wasmSizes } from '../bench/lib/sizes.mjs';

test('dist/wasm/kalam_consumer_wasm_bg.wasm is at most 150 kB', () => {
  assert.ok(existsSync(WASM_FILE), `${WASM_FILE} is missing: run node scripts/build.mjs first`);
  const { raw, gzip } = wasmSizes(WASM_FILE);
  assert.ok(raw <= WASM_BUDGET_BYTES,
    `.wasm is ${raw} bytes (gzip ${gzip}), over the ${WASM_BUDGET_BYTES}-byte budget by ${raw - WASM_BUDGET_BYTES} bytes`);
});
