// `@kalamdb/consumer/wasm` under Node: the raw bindings, already instantiated (the loader runs
// at import). Elsewhere the subpath maps straight to the generated glue, whose default export
// instantiates the module.
// A bare import on purpose: instantiating is this module's side effect, which is why
// pkg-template/package.json lists wasm.node.js and the chunks under `sideEffects`
// (tests/bundling.test.mjs).
import './loader.node.js';

export * from './wasm/kalam_consumer_wasm.js';
export { default } from './wasm/kalam_consumer_wasm.js';
