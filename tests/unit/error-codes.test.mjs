// One owner for the error codes (HACKING.md "Who owns which rule"): the core crate's codes.rs
// lists them, and the two hand-written copies must say the same: the wasm module's `.d.ts`
// union (crates/kalam-consumer-wasm/src/types.rs) and the public TS union (js/src/errors.ts).
// Read as text, so this runs without a build.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const read = (path) => readFileSync(join(root, path), 'utf8');

/** Text between `start` and the first `end` after it. */
function between(text, start, end, what) {
  const from = text.indexOf(start);
  assert.ok(from >= 0, `${what}: cannot find ${JSON.stringify(start)}`);
  const to = text.indexOf(end, from + start.length);
  assert.ok(to >= 0, `${what}: cannot find the end ${JSON.stringify(end)}`);
  return text.slice(from + start.length, to);
}

/** The quoted SCREAMING_SNAKE_CASE words of a text, comments removed. */
function codesIn(text, quote) {
  const plain = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');
  return [...plain.matchAll(new RegExp(`${quote}([A-Z][A-Z_]*)${quote}`, 'g'))].map((m) => m[1]);
}

const codesRs = read('crates/kalam-consumer-core/src/codes.rs');
const wasmCodes = codesIn(between(codesRs, 'pub fn as_str(self)', '\n    }\n', 'codes.rs Code::as_str'), '"');
const runtimeCodes = codesIn(between(codesRs, 'pub const RUNTIME_CODES', '];', 'codes.rs RUNTIME_CODES'), '"');

test('codes.rs lists codes, each once', () => {
  assert.ok(wasmCodes.length >= 7, `Code::as_str: ${wasmCodes}`);
  assert.ok(runtimeCodes.length >= 1, `RUNTIME_CODES: ${runtimeCodes}`);
  const all = [...wasmCodes, ...runtimeCodes];
  assert.equal(new Set(all).size, all.length, `listed twice: ${all}`);
});

test("the wasm .d.ts union is exactly codes.rs's Code", () => {
  const union = between(read('crates/kalam-consumer-wasm/src/types.rs'), 'export type KalamConsumerErrorCode =', ';', 'types.rs');
  assert.deepEqual(codesIn(union, "'"), wasmCodes);
});

const errorsTs = read('js/src/errors.ts');
const tsUnion = codesIn(between(errorsTs, 'export type KalamConsumerErrorCode =', ';', 'errors.ts'), "'");

test("js/src/errors.ts's union is exactly codes.rs's Code then RUNTIME_CODES", () => {
  assert.deepEqual(tsUnion, [...wasmCodes, ...runtimeCodes]);
});

test('every code js/src raises is in the union', () => {
  /** @type {string[]} */
  const unlisted = [];
  const walk = (dir) => {
    for (const entry of readdirSync(join(root, dir), { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        if (path !== join('js', 'src', 'wasm')) walk(path); // generated
      } else if (entry.name.endsWith('.ts')) {
        for (const m of read(path).matchAll(/\bcode: '([A-Za-z_]+)'/g)) {
          if (!tsUnion.includes(m[1])) unlisted.push(`${path}: ${m[1]}`);
        }
      }
    }
  };
  walk(join('js', 'src'));
  assert.deepEqual(unlisted, [], 'raise only listed codes (add new ones to codes.rs RUNTIME_CODES and errors.ts)');
});
