// Assembles the public batch from the wasm `ConsumeParts` (HACKING.md, contract).
//
// Why this loop is in TS: building each message through per-field wasm -> JS calls was ~45% of
// decode time (bench/profile-decode.mjs); here wasm crosses the boundary a fixed number of
// times per batch and V8 runs the per-message work (UTF-8 decode + JSON.parse) natively.
import { toMessage, type ConsumeBatchResult, type ConsumerMessage } from './messages.js';
import type { WireMessage, WireParts } from './wasm-contract.js';

/** `payload_ranges_bytes[4i]` when wasm already set the message's decode_error. */
const NO_PAYLOAD = 0xffff_ffff;

// Payload bytes were checked to be UTF-8 in Rust, so the non-fatal decoder never replaces.
const decoder = new TextDecoder();

/** The payload as received, for `raw_payload`: a JSON string's content, else the JSON text. */
function rawPayload(body: Uint8Array, startBytes: number, endBytes: number): string {
  const text = decoder.decode(body.subarray(startBytes, endBytes));
  if (text.startsWith('"')) {
    try {
      return JSON.parse(text) as string;
    } catch {
      return text;
    }
  }
  return text;
}

export function assembleBatch<T>(parts: WireParts): ConsumeBatchResult<T> {
  const { batch, payloads, payload_ranges_bytes: ranges, body } = parts;
  const wire = batch.messages;
  const messages = new Array<ConsumerMessage<T>>(wire.length);
  for (let i = 0; i < wire.length; i++) {
    const w = wire[i] as WireMessage;
    const startBytes = ranges[4 * i] as number;
    if (startBytes === NO_PAYLOAD) {
      messages[i] = toMessage<T>(w);
      continue;
    }
    let payload: T;
    try {
      payload = JSON.parse(decoder.decode(payloads.subarray(startBytes, ranges[4 * i + 1]))) as T;
    } catch (error) {
      // Never `{}`: the message carries a DECODE_ERROR, exactly as the wasm `consume` sets it.
      delete w.payload;
      w.decode_error = `payload is not valid JSON: ${(error as Error).message}`;
      w.raw_payload = rawPayload(body, ranges[4 * i + 2] as number, ranges[4 * i + 3] as number);
      messages[i] = toMessage<T>(w);
      continue;
    }
    const message: ConsumerMessage<T> = {
      topic: w.topic,
      group_id: w.group_id,
      partition_id: w.partition_id,
      offset: w.offset,
      key: w.key ?? null,
      timestamp_ms: w.timestamp_ms,
      op: w.op,
      payload,
      value: payload,
    };
    if (typeof w.user === 'string') message.user = w.user;
    messages[i] = message;
  }
  return { messages, next_offset: batch.next_offset, has_more: batch.has_more };
}
