// Figure 4: size of what a user downloads: the .wasm (raw and gzip -9) and the `npm pack`
// tarball of dist/ with npm's own unpacked size. No baseline: the targets are absolute budgets.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DIST, WASM_FILE } from './lib/pkg.mjs';
import { UNPACKED_BUDGET_BYTES, WASM_BUDGET_BYTES, treeSize, wasmSizes } from './lib/sizes.mjs';

export async function runSize({ log }) {
  const wasm = wasmSizes(WASM_FILE);
  const tree = treeSize(DIST);
  let pack;
  const dest = mkdtempSync(path.join(os.tmpdir(), 'kalam-pack-'));
  try {
    const out = execFileSync('npm', ['pack', '--json', '--pack-destination', dest], {
      cwd: DIST, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'],
    });
    const info = JSON.parse(out)[0];
    pack = { tarball: info.size, unpacked: info.unpackedSize, entries: info.entryCount, filename: info.filename };
  } catch (err) {
    pack = { error: String(err?.stderr ?? err?.message ?? err).slice(0, 500) };
  } finally {
    rmSync(dest, { recursive: true, force: true });
  }
  log(`size: wasm ${wasm.raw} B raw / ${wasm.gzip} B gzip; dist/ ${tree.bytes} B in ${tree.files} files; npm pack ${pack.tarball ?? '?'} B tarball, ${pack.unpacked ?? '?'} B unpacked`);
  const kb = (b) => b / 1000;
  const unpacked = pack.unpacked ?? tree.bytes;
  return [
    { id: 'size.wasm_raw', figure: '.wasm raw (kB)', unit: 'kB', value: kb(wasm.raw), baseline: null, ratio: wasm.raw / WASM_BUDGET_BYTES,
      ratio_meaning: 'of budget', target: '<= 150 kB', pass: wasm.raw <= WASM_BUDGET_BYTES },
    { id: 'size.wasm_gzip', figure: '.wasm gzip -9 (kB)', unit: 'kB', value: kb(wasm.gzip), baseline: null, ratio: null,
      target: 'report', pass: null },
    { id: 'size.tarball', figure: 'npm pack tarball (kB)', unit: 'kB', value: pack.tarball === undefined ? null : kb(pack.tarball),
      baseline: null, ratio: null, target: 'report', pass: pack.error ? false : null, error: pack.error },
    { id: 'size.unpacked', figure: 'unpacked package (kB)', unit: 'kB', value: kb(unpacked), baseline: null,
      ratio: unpacked / UNPACKED_BUDGET_BYTES, ratio_meaning: 'of budget', target: '<= 250 kB',
      pass: unpacked <= UNPACKED_BUDGET_BYTES && tree.bytes <= UNPACKED_BUDGET_BYTES,
      detail: { npm_unpacked_bytes: pack.unpacked, dist_tree_bytes: tree.bytes, dist_files: tree.files, npm_entries: pack.entries } },
  ];
}
