// Builds a consume batch from the columns of `kalam_consumer_core::columns` (layout there).
//
// Why this runs in JS: creating objects field by field from wasm, or parsing a metadata JSON
// text, cost more than the whole plain-JS decode (bench/README.md). Here the columns cross
// the boundary as views, and V8 runs the per-message loop: one `JSON.parse` per payload (the
// parse also validates it) and one object literal. Payload bytes become text with one
// `TextDecoder.decode` for the whole batch when they are all ASCII (the usual CDC payload:
// byte offsets are then UTF-16 offsets, and each payload is a slice of that one string), and
// with one call per payload otherwise (a decode per message cost about as much as its parse).
//
// `fields`, `payloads` and `ends` are views into wasm memory: valid only during this call,
// which never calls back into wasm, so they cannot be detached under it.

// The column layout, under the names of `kalam_consumer_core::columns` (`STRIDE`, `field::*`,
// `string::GROUP_ID`). crates/kalam-consumer-core/tests/columns.rs reads this block and fails
// when a value differs from the Rust constant or a field is read by a bare number.
// layout:begin
const STRIDE = 10;
const OFFSET = 0;
const TIMESTAMP_MS = 1;
const PARTITION_ID = 2;
const TOPIC = 3;
const KEY = 4;
const USER = 5;
const OP = 6;
const PAYLOAD_START = 7;
const PAYLOAD_END = 8;
const DECODE_ERROR = 9;
const GROUP_ID = 3;
// layout:end

// Payload bytes are checked here, not in Rust: `fatal` makes bad UTF-8 throw (never U+FFFD),
// and `ignoreBOM` keeps a BOM so JSON.parse rejects it, as the batch-text decoder does.
const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * A number from the Float64Array as a small integer where it is one. V8 then keeps it untagged
 * (a Smi) in the message and in every object that copies it (change, metadata), instead of a
 * heap-allocated double per field per object; larger values pass through unchanged.
 * @param {number} n
 */
const small = (n) => (n >= 0 && n <= 0x3fffffff ? n | 0 : n);

/** @param {unknown} error */
const reason = (error) => (error instanceof Error ? error.message : String(error));

/**
 * @param {Float64Array} fields STRIDE numbers per message
 * @param {Uint8Array} payloads decoded payload texts, back to back
 * @param {string} text the string table
 * @param {Uint32Array} ends UTF-16 end of each string in `text`
 * @param {number} nextOffset
 * @param {boolean} hasMore
 * @param {boolean} ascii every byte of `payloads` is below 0x80 (Rust checked it)
 * @param {number[]} failures receives the index of each message whose payload is not JSON
 */
export function assembleBatch(fields, payloads, text, ends, nextOffset, hasMore, ascii, failures) {
  // ASCII is valid UTF-8 and holds no BOM, so one decode cannot fail and changes nothing.
  const all = ascii ? decoder.decode(payloads) : undefined;
  const strings = new Array(ends.length);
  for (let i = 0, start = 0; i < ends.length; i++) {
    strings[i] = text.slice(start, ends[i]);
    start = ends[i];
  }
  const group = strings[GROUP_ID];
  const count = fields.length / STRIDE;
  const messages = new Array(count);
  for (let i = 0, f = 0; i < count; i++, f += STRIDE) {
    const keyIndex = fields[f + KEY];
    const userIndex = fields[f + USER];
    const start = fields[f + PAYLOAD_START];
    // Key order is the documented one (it is what JSON.stringify shows): topic, group_id,
    // partition_id, offset, key, timestamp_ms, user (only when known), op, then payload or
    // decode_error + raw_payload. Hence two literals: `user` set afterwards would land after
    // `op`, and a spread per message would be slower than either literal.
    const message =
      userIndex < 0
        ? {
            topic: strings[fields[f + TOPIC]],
            group_id: group,
            partition_id: small(fields[f + PARTITION_ID]),
            offset: small(fields[f + OFFSET]),
            key: keyIndex < 0 ? null : strings[keyIndex],
            timestamp_ms: fields[f + TIMESTAMP_MS],
            op: strings[fields[f + OP]],
          }
        : {
            topic: strings[fields[f + TOPIC]],
            group_id: group,
            partition_id: small(fields[f + PARTITION_ID]),
            offset: small(fields[f + OFFSET]),
            key: keyIndex < 0 ? null : strings[keyIndex],
            timestamp_ms: fields[f + TIMESTAMP_MS],
            user: strings[userIndex],
            op: strings[fields[f + OP]],
          };
    if (start >= 0) {
      // Never `{}`: a failure becomes decode_error, and the caller adds raw_payload from the
      // response body.
      let text;
      if (all !== undefined) {
        text = all.slice(start, fields[f + PAYLOAD_END]);
      } else {
        try {
          text = decoder.decode(payloads.subarray(start, fields[f + PAYLOAD_END]));
        } catch (error) {
          message.decode_error = `payload is not valid UTF-8: ${reason(error)}`;
          failures.push(i);
        }
      }
      if (text !== undefined) {
        try {
          message.payload = JSON.parse(text);
        } catch (error) {
          message.decode_error = `payload is not valid JSON: ${reason(error)}`;
          failures.push(i);
        }
      }
    } else {
      message.decode_error = strings[fields[f + DECODE_ERROR]];
      const raw = fields[f + PAYLOAD_END];
      if (raw >= 0) message.raw_payload = strings[raw];
    }
    messages[i] = message;
  }
  return { messages, next_offset: nextOffset, has_more: hasMore };
}
