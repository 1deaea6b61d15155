// The bundle keeps class fields native. scripts/build.mjs builds without class static blocks
// (Safari < 16.4), and esbuild then lowers a class that has a `#private` field: the private
// field becomes a WeakMap entry per object and every other field of that class an
// Object.defineProperty call. On AttemptContext (one per message) that was about a fifth of the
// package's own time per message (bench `throughput.vs_plain`), so js/src uses no `#private`
// fields; this test finds the helpers esbuild emits when one comes back.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import test from 'node:test';
import { DIST } from '../bench/lib/pkg.mjs';

/** Text only esbuild's lowered-field helpers contain (they survive minification as strings or shapes). */
const LOWERED_FIELD_MARKS = [
  ['a #private field lowered to a WeakMap', 'Cannot add the same private member more than once'],
  ['a #private field lowered to a WeakMap', 'read from private field'],
  ['class fields lowered to Object.defineProperty', 'enumerable:!0,configurable:!0,writable:!0,value:'],
];

function bundleFiles() {
  const files = [];
  for (const entry of readdirSync(DIST, { recursive: true })) {
    const name = String(entry);
    if (name.endsWith('.js') || name.endsWith('.cjs')) files.push(path.join(DIST, name));
  }
  return files;
}

test('no class of the bundle has its fields lowered by esbuild (no #private fields in js/src)', () => {
  const files = bundleFiles();
  assert.ok(files.length > 0, `no .js file under ${DIST}: run node scripts/build.mjs first`);
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    for (const [what, mark] of LOWERED_FIELD_MARKS) {
      assert.ok(!text.includes(mark), `${path.relative(DIST, file)} holds ${what} ("${mark}"): replace the #private field (see AttemptContext's SLOT)`);
    }
  }
});
