/**
 * The legacy payload envelope `{ "row": { ... } }` (docs/PROTOCOL.md §7.3): when the payload is
 * an object whose `row` property is itself an object (not an array, not null), the row is that
 * inner object; any other payload is the row as it is.
 *
 * The rule's owner is the core crate (`crates/kalam-consumer-core/src/legacy.rs`, exported as
 * the wasm `unwrapLegacyRow`). This copy exists because the worker applies it to every message
 * and a call across the wasm boundary per message costs more than the rule itself;
 * `tests/unit/legacy-row.test.mjs` checks that both agree on every shape of payload.
 */
export function unwrapLegacyRow(payload: unknown): unknown {
  if (!isPlainObject(payload)) return payload;
  const row = (payload as { row?: unknown }).row;
  return isPlainObject(row) && Object.prototype.hasOwnProperty.call(payload, 'row') ? row : payload;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
