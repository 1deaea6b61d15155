// Size measurements shared by the benchmark and tests/size-budget.test.mjs.
// Budgets are in kB of 1,000 bytes (what npm prints), the stricter reading of "KB".
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';

export const WASM_BUDGET_BYTES = 150_000;
export const UNPACKED_BUDGET_BYTES = 250_000;

export function wasmSizes(file) {
  const bytes = readFileSync(file);
  return { raw: bytes.length, gzip: gzipSync(bytes, { level: 9 }).length };
}

// Sum of the sizes of every file under `dir` (what `npm pack` would publish from dist/).
export function treeSize(dir) {
  let total = 0, files = 0;
  const walk = (d) => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, entry.name);
      if (entry.isDirectory()) walk(p);
      else if (entry.isFile()) { total += statSync(p).size; files++; }
    }
  };
  walk(dir);
  return { bytes: total, files };
}
