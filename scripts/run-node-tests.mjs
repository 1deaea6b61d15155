// @ts-check
// Runs every Node test file of the package with node:test.
// Files are listed explicitly (Node 18/20 differ in how `node --test DIR` searches), in a fixed
// order: fast unit tests first, then end-to-end, the trap tests of issue 11, fleet leases, scenarios, faults and browser tests.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const groups = ['tests/unit', 'tests', 'tests/traps', 'tests/fleet', 'tests/scenarios', 'tests/faults', 'tests/browser'];

/** @param {string} dir */
function testFilesIn(dir) {
  const abs = join(root, dir);
  if (!existsSync(abs)) return [];
  return readdirSync(abs, { withFileTypes: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.test.mjs'))
    .map((entry) => relative(root, join(abs, entry.name)))
    .sort();
}

const only = process.argv.slice(2);
const files = groups.flatMap(testFilesIn).filter((file) => only.length === 0 || only.some((o) => file.startsWith(o)));
if (files.length === 0) {
  console.error('no Node test files found');
  process.exit(1);
}
const result = spawnSync(process.execPath, ['--test', ...files], { cwd: root, stdio: 'inherit' });
process.exit(result.status ?? 1);
