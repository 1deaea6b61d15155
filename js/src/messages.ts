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

export function toMessage<T>(wire: WireMessage): ConsumerMessage<T> {
  const payload = wire.payload as T;
  const message: ConsumerMessage<T> = {
    topic: wire.topic,
    group_id: wire.group_id,
    partition_id: wire.partition_id,
    offset: wire.offset,
    key: wire.key ?? null,
    timestamp_ms: wire.timestamp_ms,
    op: wire.op,
    payload,
    value: payload,
  };
  if (typeof wire.user === 'string') message.user = wire.user;
  if (typeof wire.decode_error === 'string') {
    const init: ConstructorParameters<typeof KalamConsumerError>[1] = { code: 'DECODE_ERROR', kind: 'permanent' };
    if (typeof wire.raw_payload === 'string') init.body = wire.raw_payload;
    message.decode_error = new KalamConsumerError(
      `payload of ${wire.topic}[${wire.partition_id}]@${wire.offset} could not be decoded: ${wire.decode_error}`,
      init,
    );
  }
  return message;
}

export function toBatch<T>(wire: WireBatch): ConsumeBatchResult<T> {
  return {
    messages: (wire.messages ?? []).map((m) => toMessage<T>(m)),
    next_offset: wire.next_offset,
    has_more: wire.has_more,
  };
}
