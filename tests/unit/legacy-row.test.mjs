// The worker unwraps the legacy `{ row: {...} }` envelope in TypeScript (js/src/legacy-row.ts),
// because a wasm call per message costs more than the rule. The rule's owner is the core crate,
// exported as the wasm `unwrapLegacyRow`: this holds the port to it on every shape of payload.
// Internal module, so this imports the unbundled tsc output in build/tsc/.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { unwrapLegacyRow as owner } from '@kalamdb/consumer/wasm';

const { unwrapLegacyRow: port } = await import(new URL('../../build/tsc/legacy-row.js', import.meta.url).href);

const inner = { id: '1', body: 'x' };
const payloads = [
  { row: inner },
  { row: {} },
  { row: inner, extra: 1 },
  { extra: 1, row: inner },
  { row: null },
  { row: [1, 2] },
  { row: 'text' },
  { row: 5 },
  { row: true },
  { rows: inner },
  { Row: inner },
  { row: { row: inner } },
  {},
  [],
  [{ row: inner }],
  null,
  'row',
  0,
  false,
  { id: '1', _table: 'app:t' },
  JSON.parse('{"__proto__": {"row": {"id": "proto"}}}'),
  JSON.parse('{"row": {"__proto__": {"x": 1}}}'),
];

test('the TypeScript unwrap agrees with the core rule on every payload shape', () => {
  for (const payload of payloads) {
    assert.deepEqual(port(payload), owner(payload), `payload ${JSON.stringify(payload)}`);
  }
});

test('both return the inner object itself for an envelope, and the payload itself otherwise', () => {
  const envelope = { row: inner };
  assert.equal(port(envelope), inner);
  const plain = { id: '2' };
  assert.equal(port(plain), plain);
});
