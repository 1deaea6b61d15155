// Production build of the inspector page: `npx vite build --config examples/topic-inspector/vite.config.mjs`.
// The package is bundled from node_modules (linked to dist/); its .wasm is emitted as an
// asset through the `new URL(..., import.meta.url)` pattern in the browser entry.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  logLevel: 'warn',
  build: {
    outDir: fileURLToPath(new URL('../../build/topic-inspector', import.meta.url)),
    emptyOutDir: true,
  },
});
