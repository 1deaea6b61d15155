// The one Node API the node entry uses. Declared here instead of pulling @types/node into the
// whole (isomorphic) compilation; nothing in the emitted .d.ts refers to it.
declare module 'node:fs' {
  export function readFileSync(path: URL | string): Uint8Array;
}
