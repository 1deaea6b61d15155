import { KalamConsumerError } from './errors.js';
import type { WireBatch, WireMessage } from './wasm-contract.js';

/** Kind of row change a topic message carries. Usable as a type and as values (`TopicOp.Insert`). */
export const TopicOp = {
  Insert: 'Insert',
  Update: 'Update',
  Delete: 'Delete',
} as const;
export type TopicOp = (typeof TopicOp)[keyof typeof TopicOp];

/**
 * Where a group starts when the server has no committed offset for it:
 * `'earliest'`, `'latest'` (default), an offset number, or `{ offset: n }`.
 * (`'Earliest'`/`'Latest'` and `{ Offset: n }`, the wire spellings, are accepted too.)
 */
export type StartPosition =
  | 'earliest'
  | 'latest'
  | 'Earliest'
  | 'Latest'
  | number
  | { offset: number }
  | { Offset: number };

export interface ConsumerMessage<T = Record<string, unknown>> {
  topic: string;
  group_id: string;
  partition_id: number;
  offset: number;
  /** The row's primary key as a string, or null. */
  key: string | null;
  timestamp_ms: number;
  /** The producing user; absent for shared tables and unknown users (docs/PROTOCOL.md §3.2). */
  user?: string;
  op: TopicOp;
  /** The decoded JSON payload; `undefined` when `decode_error` is set. */
  payload: T;
  /** @deprecated use `payload`. */
  value: T;
  /** Set when the payload was not valid base64 or not JSON; the message is never faked as `{}`. */
  decode_error?: KalamConsumerError;
}

export interface ConsumeBatchResult<T = Record<string, unknown>> {
  messages: ConsumerMessage<T>[];
  next_offset: number;
  has_more: boolean;
}

export interface AckResult {
  success: boolean;
  acknowledged_offset: number;
}

/**
 * Turns the decoder's message into the public one in place: the wasm side (assemble.js) already
 * builds each object in its final key order, so only the `value` alias is added and, for the
 * rare undecodable payload, the error text becomes a typed error. Rebuilding every message in a
 * new literal cost a second object per message and lost the key order (docs/STYLE.md 22).
 */
export function toMessage<T>(wire: WireMessage): ConsumerMessage<T> {
  const message = wire as unknown as ConsumerMessage<T> & { raw_payload?: string; decode_error?: unknown };
  message.value = message.payload;
  if (typeof wire.decode_error === 'string') {
    const init: ConstructorParameters<typeof KalamConsumerError>[1] = { code: 'DECODE_ERROR', kind: 'permanent' };
    if (typeof wire.raw_payload === 'string') init.body = wire.raw_payload;
    delete message.raw_payload;
    message.decode_error = new KalamConsumerError(
      `payload of ${wire.topic}[${wire.partition_id}]@${wire.offset} could not be decoded: ${wire.decode_error}`,
      init,
    );
  }
  return message;
}

export function toBatch<T>(wire: WireBatch): ConsumeBatchResult<T> {
  const messages = wire.messages ?? [];
  for (let i = 0; i < messages.length; i++) toMessage<T>(messages[i]!);
  return wire as unknown as ConsumeBatchResult<T>;
}
