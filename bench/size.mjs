// Figure 4: size of what a user downloads: the .wasm (raw and gzip -9) and the `npm pack`
// tarball of dist/ with npm's own unpacked size. No baseline: the targets are absolute budgets.
// tests/size-budget.test.mjs gates the same figures in CI through the same helpers.
import { DIST, WASM_FILE } from './lib/pkg.mjs';
import { UNPACKED_BUDGET_BYTES, WASM_BUDGET_BYTES, npmPackSize, sizeParts, unpackedVerdict, wasmSizes } from './lib/sizes.mjs';

export async function runSize({ log }) {
  const wasm = wasmSizes(WASM_FILE);
  let pack;
  try {
    pack = npmPackSize(DIST);
  } catch (err) {
    pack = { error: String(err?.stderr ?? err?.message ?? err).slice(0, 500) };
  }
  const { unpacked, tree, pass } = unpackedVerdict(DIST, pack.error ? undefined : pack);
  const parts = pack.files ? sizeParts(pack.files) : undefined;
  log(`size: wasm ${wasm.raw} B raw / ${wasm.gzip} B gzip; dist/ ${tree.bytes} B in ${tree.files} files; npm pack ${pack.tarball ?? '?'} B tarball, ${pack.unpacked ?? '?'} B unpacked`);
  if (parts) log(`size: unpacked by part: ${Object.entries(parts).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  const kb = (b) => b / 1000;
  return [
    { id: 'size.wasm_raw', figure: '.wasm raw (kB)', unit: 'kB', value: kb(wasm.raw), baseline: null, ratio: wasm.raw / WASM_BUDGET_BYTES,
      ratio_meaning: 'of budget', target: '<= 150 kB', pass: wasm.raw <= WASM_BUDGET_BYTES },
    { id: 'size.wasm_gzip', figure: '.wasm gzip -9 (kB)', unit: 'kB', value: kb(wasm.gzip), baseline: null, ratio: null,
      target: 'report', pass: null },
    { id: 'size.tarball', figure: 'npm pack tarball (kB)', unit: 'kB', value: pack.tarball === undefined ? null : kb(pack.tarball),
      baseline: null, ratio: null, target: 'report', pass: pack.error ? false : null, error: pack.error },
    { id: 'size.unpacked', figure: 'unpacked package (kB)', unit: 'kB', value: kb(unpacked), baseline: null,
      ratio: unpacked / UNPACKED_BUDGET_BYTES, ratio_meaning: 'of budget', target: `<= ${UNPACKED_BUDGET_BYTES / 1000} kB`, pass,
      detail: { npm_unpacked_bytes: pack.unpacked, dist_tree_bytes: tree.bytes, dist_files: tree.files, npm_entries: pack.entries, parts } },
  ];
}
