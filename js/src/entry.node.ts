// Node entry (`exports["."].node`): the wasm module is instantiated at import from the file
// next to the package, so `import { createConsumerClient } from '@kalamdb/consumer'` just works.
import { createApi } from './core.js';
import { nodeRuntime } from './loader.node.js';

const api = createApi(nodeRuntime);

export const createConsumerClient = api.createConsumerClient;
export const runConsumer = api.runConsumer;
/** @deprecated use runConsumer */
export const runAgent = api.runAgent;

/** Loads the wasm module (already done at import in Node; `input` is used only if that failed). */
export function initConsumerWasm(input?: string | URL): Promise<void> {
  return nodeRuntime.ready(input);
}

export * from './public.js';
