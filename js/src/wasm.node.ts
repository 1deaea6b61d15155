// `@kalamdb/consumer/wasm` under Node: the raw bindings, already instantiated (the loader runs
// at import). Elsewhere the subpath maps straight to the generated glue, whose default export
// instantiates the module.
import { loadPackagedWasm } from './loader.node.js';

// A call, not a bare import: see loadPackagedWasm.
loadPackagedWasm();

export * from './wasm/kalam_consumer_wasm.js';
export { default } from './wasm/kalam_consumer_wasm.js';
