// Finds and loads the built package exactly as a user gets it: by its name, from dist/ (linked
// as node_modules/@kalamdb/consumer by scripts/build.mjs). Builds it first when it is missing.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const DIST = path.join(ROOT, 'dist');
export const WASM_FILE = path.join(DIST, 'wasm', 'kalam_consumer_wasm_bg.wasm');
const LINK = path.join(ROOT, 'node_modules', '@kalamdb', 'consumer', 'package.json');

export function ensureBuilt({ log }) {
  if (existsSync(LINK) && existsSync(WASM_FILE)) return;
  log('package not built: running node scripts/build.mjs');
  const r = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'build.mjs')], { cwd: ROOT, stdio: 'inherit' });
  if (r.status !== 0 || !existsSync(LINK)) {
    throw new Error('node scripts/build.mjs failed; the benchmark needs the built package');
  }
}

export async function loadConsumer() {
  return import('@kalamdb/consumer');
}

// The wasm exports (`@kalamdb/consumer/wasm`), initialised. In Node the package loads the
// module by itself; if this entry point is the raw `--target web` glue it is initialised here
// from the .wasm file, which is what the package's own loader does.
let wasmPromise;
export function loadWasm() {
  wasmPromise ??= (async () => {
    const mod = await import('@kalamdb/consumer/wasm');
    if (!isReady(mod)) {
      if (typeof mod.initSync === 'function') mod.initSync({ module: readFileSync(WASM_FILE) });
      else if (typeof mod.default === 'function') await mod.default({ module_or_path: readFileSync(WASM_FILE) });
      else if (typeof mod.init === 'function') await mod.init();
    }
    if (!isReady(mod)) throw new Error('@kalamdb/consumer/wasm: decodeConsumeResponse is not usable');
    return mod;
  })();
  return wasmPromise;
}

function isReady(mod) {
  if (typeof mod.decodeConsumeResponse !== 'function') return false;
  try {
    mod.decodeConsumeResponse('{"messages":[],"next_offset":0,"has_more":false}',
      { topic_id: 't.t', group_id: 'g', partition_id: 0 });
    return true;
  } catch {
    return false;
  }
}

export function packageVersion() {
  try {
    return JSON.parse(readFileSync(LINK, 'utf8')).version;
  } catch {
    return undefined;
  }
}
