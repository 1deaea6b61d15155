// Must equal the wasm crate's version (Cargo workspace `version`) and pkg-template/package.json:
// the entry points refuse a wasm module built from another release (docs/STYLE.md point 15).
export const VERSION = '0.1.0';
