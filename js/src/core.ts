import { makeCreateConsumerClient } from './client.js';
import { KalamConsumerError } from './errors.js';
import { makeRunAgent } from './run-agent.js';
import { makeRunConsumer } from './run-consumer.js';
import { VERSION } from './version.js';
import type { WasmBindings, WasmRuntime } from './wasm-contract.js';

// The public API over an injected wasm module (docs/STYLE.md point 11): the entry files pick a
// loader, build a runtime and call `createApi` once; nothing here imports the bindings.

/** Throws when the loaded wasm module belongs to another release of the package. */
export function checkWasmVersion(bindings: WasmBindings): void {
  let version: string;
  try {
    version = bindings.wasmReleaseInfo().version;
  } catch (cause) {
    throw new KalamConsumerError('the wasm module does not report its version', { code: 'WASM_LOAD_FAILED', kind: 'permanent', cause });
  }
  if (version !== VERSION) {
    throw new KalamConsumerError(
      `@kalamdb/consumer ${VERSION} loaded kalam_consumer_wasm ${version}: the .wasm file comes from another release`,
      { code: 'WASM_VERSION_MISMATCH', kind: 'permanent' },
    );
  }
}

export function createApi(runtime: WasmRuntime) {
  return {
    createConsumerClient: makeCreateConsumerClient(runtime),
    runConsumer: makeRunConsumer(runtime),
    runAgent: makeRunAgent(runtime),
  };
}
