// Node entry (`exports["."].node`): the wasm module is instantiated at import from the file
// next to the package, so `import { createConsumerClient } from '@kalamdb/consumer'` just works.
import { createApi } from './core.js';
import { nodeRuntime } from './loader.node.js';

const api = createApi(nodeRuntime);

/**
 * Creates a client for one server and identity: `consumeBatch`, `ack`, `consumer()`, SQL
 * helpers. Throws a typed `INVALID_URL` / `INVALID_OPTION` error for bad options.
 */
export const createConsumerClient = api.createConsumerClient;
/**
 * The worker runtime: polls `partitions` side by side, calls `onChange(ctx, change)` per message
 * in offset order, retries, dead-letters, commits once per batch and survives connection
 * failures. Resolves after `stopSignal` aborts; rejects on permanent errors (403, 404, bad
 * credentials, invalid options).
 */
export const runConsumer = api.runConsumer;
/** @deprecated Use `runConsumer` with `onChange(ctx, change)`; logs a one-time warning. */
export const runAgent = api.runAgent;

/** Loads the wasm module (already done at import in Node; `input` is used only if that failed). */
export function initConsumerWasm(input?: string | URL): Promise<void> {
  return nodeRuntime.ready(input);
}

export * from './public.js';
