// @ts-check
/**
 * Builds the publishable package into dist/.
 *
 *   node scripts/build.mjs                 # all steps
 *   node scripts/build.mjs --step wasm     # wasm-pack + wasm-opt only (also: ts, package)
 *
 * Steps (HACKING.md "Build"):
 *   wasm     wasm-pack build (release, --target web, --weak-refs) into js/src/wasm, then
 *            Debian's wasm-opt -Oz when it is installed; prints the .wasm size.
 *   ts       tsc -p tsconfig.json (js/src -> dist/); skipped while js/src holds no .ts file.
 *   package  wasm glue into dist/wasm/, README.md + LICENSE, dist/package.json from
 *            pkg-template/ with the workspace version, node_modules/@kalamdb/consumer -> dist.
 *
 * Node >= 18, no dependencies beyond node: builtins and the typescript devDependency.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CRATE = join(ROOT, 'crates', 'kalam-consumer-wasm');
const WASM_OUT = join(ROOT, 'js', 'src', 'wasm');
const OUT_NAME = 'kalam_consumer_wasm';
const DIST = join(ROOT, 'dist');
const GLUE_FILES = [`${OUT_NAME}.js`, `${OUT_NAME}.d.ts`, `${OUT_NAME}_bg.wasm`, `${OUT_NAME}_bg.wasm.d.ts`];
/** Size budget of the optimised module (STYLE.md 16). */
const WASM_BUDGET_BYTES = 150 * 1024;
const STEPS = ['wasm', 'ts', 'package'];

/** @param {string} message */
function log(message) {
  process.stderr.write(`[build] ${message}\n`);
}

/** @param {string} message */
function warn(message) {
  process.stderr.write(`[build] warning: ${message}\n`);
}

/** @param {string} message @returns {never} */
function fail(message) {
  process.stderr.write(`[build] error: ${message}\n`);
  process.exit(1);
}

/** @param {string[]} argv @returns {string[]} */
function parseSteps(argv) {
  /** @type {string[]} */
  const steps = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    let value;
    if (arg === '--step') value = argv[++i];
    else if (arg.startsWith('--step=')) value = arg.slice('--step='.length);
    else if (arg === '--help' || arg === '-h') {
      process.stdout.write('usage: node scripts/build.mjs [--step wasm|ts|package]...\n');
      process.exit(0);
    } else fail(`unknown argument ${JSON.stringify(arg)}`);
    if (!value) fail('--step needs a value: wasm, ts or package');
    for (const step of value.split(',')) {
      if (!STEPS.includes(step)) fail(`unknown step ${JSON.stringify(step)}: expected ${STEPS.join(', ')}`);
      steps.push(step);
    }
  }
  return steps.length ? STEPS.filter((s) => steps.includes(s)) : STEPS;
}

/**
 * Runs a command, inheriting stdio; exits on failure.
 * @param {string} command @param {string[]} args @param {{ env?: NodeJS.ProcessEnv, cwd?: string }} [options]
 */
function run(command, args, options = {}) {
  log(`$ ${command} ${args.join(' ')}`);
  const result = spawnSync(command, args, { stdio: 'inherit', cwd: options.cwd ?? ROOT, env: options.env ?? process.env });
  if (result.error) fail(`${command}: ${result.error.message}`);
  if (result.status !== 0) fail(`${command} exited with ${result.status ?? result.signal}`);
}

/** @param {string} name @returns {string | undefined} the executable's path on PATH */
function which(name) {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      if (statSync(candidate).isFile()) return candidate;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

/** The workspace version from Cargo.toml's [workspace.package]. */
function workspaceVersion() {
  const toml = readFileSync(join(ROOT, 'Cargo.toml'), 'utf8');
  const section = toml.split(/^\[workspace\.package\]\s*$/m)[1] ?? '';
  const match = /^version\s*=\s*"([^"]+)"/m.exec(section.split(/^\[/m)[0] ?? '');
  if (!match?.[1]) fail('no version in [workspace.package] of Cargo.toml');
  return match[1];
}

function reportWasmSize() {
  const file = join(WASM_OUT, `${OUT_NAME}_bg.wasm`);
  const bytes = readFileSync(file);
  const gzip = gzipSync(bytes, { level: 9 }).length;
  const kib = (/** @type {number} */ n) => `${(n / 1024).toFixed(1)} KiB`;
  log(`${relative(ROOT, file)}: ${bytes.length} bytes (${kib(bytes.length)}) raw, ${gzip} bytes (${kib(gzip)}) gzip`);
  if (bytes.length > WASM_BUDGET_BYTES) warn(`.wasm is over the ${kib(WASM_BUDGET_BYTES)} budget`);
}

/**
 * Reads an unsigned LEB128 at `pos`.
 * @param {Uint8Array} bytes @param {number} pos @returns {[number, number]} value, next position
 */
function readLeb(bytes, pos) {
  let result = 0;
  let shift = 0;
  for (;;) {
    const byte = bytes[pos++];
    if (byte === undefined) throw new Error('truncated LEB128');
    result += (byte & 0x7f) * 2 ** shift;
    if ((byte & 0x80) === 0) return [result, pos];
    shift += 7;
  }
}

/**
 * The reference type of every table (imported ones first) and the table exports of a module.
 * @param {Uint8Array} bytes
 * @returns {{ tables: number[], exports: { name: string, index: number, indexPos: number }[] }}
 */
function tableLayout(bytes) {
  /** @type {number[]} */
  const tables = [];
  /** @type {{ name: string, index: number, indexPos: number }[]} */
  const exports = [];
  const decoder = new TextDecoder();
  let pos = 8; // magic + version
  const skipLimits = (/** @type {number} */ p) => {
    const flags = bytes[p++] ?? 0;
    [, p] = readLeb(bytes, p);
    if (flags & 1) [, p] = readLeb(bytes, p);
    return p;
  };
  while (pos < bytes.length) {
    const id = bytes[pos++];
    let size;
    [size, pos] = readLeb(bytes, pos);
    const end = pos + size;
    let p = pos;
    if (id === 2 || id === 4 || id === 7) {
      let count;
      [count, p] = readLeb(bytes, p);
      for (let i = 0; i < count; i++) {
        if (id === 4) {
          tables.push(bytes[p++] ?? 0);
          p = skipLimits(p);
          continue;
        }
        let len;
        if (id === 2) {
          for (let s = 0; s < 2; s++) { [len, p] = readLeb(bytes, p); p += len; }
          const kind = bytes[p++];
          if (kind === 0) [, p] = readLeb(bytes, p); // func: type index
          else if (kind === 1) { tables.push(bytes[p++] ?? 0); p = skipLimits(p); }
          else if (kind === 2) p = skipLimits(p); // memory
          else if (kind === 3) p += 2; // global: valtype + mutability
          else if (kind === 4) { p += 1; [, p] = readLeb(bytes, p); } // tag
          else throw new Error(`unknown import kind ${kind}`);
          continue;
        }
        [len, p] = readLeb(bytes, p);
        const name = decoder.decode(bytes.subarray(p, p + len));
        p += len;
        const kind = bytes[p++];
        const indexPos = p;
        let index;
        [index, p] = readLeb(bytes, p);
        if (kind === 1) exports.push({ name, index, indexPos });
      }
    }
    pos = end;
  }
  return { tables, exports };
}

/**
 * Binaryen <= 108 writes every table export as table 0 (WebAssembly/binaryen#4711, fixed in
 * version 110 by #4736; Debian bookworm ships 108). wasm-bindgen's externref table is table 1,
 * so the optimised module would export the funcref table under `__wbindgen_externrefs` and
 * fail at init. Re-point each table export at the table of the type it had before wasm-opt.
 * @param {Uint8Array} before @param {string} file
 */
function repairTableExports(before, file) {
  const original = tableLayout(before);
  const bytes = readFileSync(file);
  const optimised = tableLayout(bytes);
  let patched = 0;
  for (const exp of optimised.exports) {
    const was = original.exports.find((e) => e.name === exp.name);
    if (!was) continue;
    const wantType = original.tables[was.index];
    if (optimised.tables[exp.index] === wantType) continue;
    const target = optimised.tables.indexOf(/** @type {number} */ (wantType));
    // Both indexes fit one LEB byte in every module this script builds; refuse anything else.
    if (target < 0 || target > 0x7f || exp.index > 0x7f) fail(`cannot repair table export ${exp.name}`);
    bytes[exp.indexPos] = target;
    patched++;
  }
  if (patched) {
    writeFileSync(file, bytes);
    warn(`wasm-opt mis-wrote ${patched} table export(s) (binaryen < 110, WebAssembly/binaryen#4711): repaired`);
  }
}

function stepWasm() {
  for (const tool of ['wasm-pack', 'wasm-bindgen']) {
    if (!which(tool)) fail(`${tool} is not installed: run scripts/install-tools.sh`);
  }
  // Size and speed settings for the module only: the dev server shares the release profile.
  const env = {
    ...process.env,
    CARGO_PROFILE_RELEASE_LTO: 'fat',
    CARGO_PROFILE_RELEASE_PANIC: 'abort',
    CARGO_PROFILE_RELEASE_CODEGEN_UNITS: '1',
  };
  run('wasm-pack', [
    'build', CRATE,
    '--target', 'web', '--release', '--weak-refs',
    // Use the wasm-bindgen that install-tools.sh put on PATH; never download one.
    '--mode', 'no-install',
    '--no-pack', '--no-gitignore',
    '--out-dir', WASM_OUT,
    '--out-name', OUT_NAME,
    // The decode hot path (base64, envelope parsing) lives in the core crate; at the
    // workspace's opt-level "z" it is ~25% slower (crates/kalam-consumer-wasm/bench/decode.mjs:
    // wasm/js ratio 0.50 -> 0.65) for ~10 KB of module. The glue crate stays at "z".
    '--', '--config', 'profile.release.package.kalam-consumer-core.opt-level=3',
  ], { env });

  const wasmOpt = which('wasm-opt');
  const file = join(WASM_OUT, `${OUT_NAME}_bg.wasm`);
  if (wasmOpt) {
    const before = readFileSync(file);
    // rustc's default wasm32 features; wasm-opt must accept what the module uses.
    run(wasmOpt, [
      '-Oz', '--enable-bulk-memory', '--enable-mutable-globals', '--enable-nontrapping-float-to-int',
      '--enable-sign-ext', '--enable-reference-types', '--enable-multivalue',
      file, '-o', file,
    ]);
    repairTableExports(before, file);
  } else {
    warn('wasm-opt not found (Debian package binaryen): the .wasm is not size-optimised');
  }
  reportWasmSize();
}

/** @param {string} dir @returns {boolean} */
function hasTsSources(dir) {
  if (!existsSync(dir)) return false;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory() && path !== WASM_OUT && hasTsSources(path)) return true;
    if (entry.isFile() && entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) return true;
  }
  return false;
}

function stepTs() {
  if (!hasTsSources(join(ROOT, 'js', 'src'))) {
    warn('js/src has no .ts file yet: skipping tsc');
    return;
  }
  const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  if (!existsSync(tsc)) fail('typescript is not installed: run npm install');
  run(process.execPath, [tsc, '-p', join(ROOT, 'tsconfig.json')]);
}

function stepPackage() {
  const distWasm = join(DIST, 'wasm');
  mkdirSync(distWasm, { recursive: true });
  for (const name of GLUE_FILES) {
    const from = join(WASM_OUT, name);
    if (!existsSync(from)) fail(`${relative(ROOT, from)} is missing: run the wasm step first`);
    copyFileSync(from, join(distWasm, name));
  }
  for (const name of ['README.md', 'LICENSE']) {
    if (existsSync(join(ROOT, name))) copyFileSync(join(ROOT, name), join(DIST, name));
    else warn(`${name} is missing: not copied into dist/`);
  }
  const template = join(ROOT, 'pkg-template', 'package.json');
  if (existsSync(template)) {
    const pkg = JSON.parse(readFileSync(template, 'utf8'));
    pkg.version = workspaceVersion();
    writeFileSync(join(DIST, 'package.json'), `${JSON.stringify(pkg, null, 2)}\n`);
    // Anything else in pkg-template/ is copied as it is.
    for (const entry of readdirSync(join(ROOT, 'pkg-template'), { withFileTypes: true })) {
      if (entry.isFile() && entry.name !== 'package.json') {
        copyFileSync(join(ROOT, 'pkg-template', entry.name), join(DIST, entry.name));
      }
    }
  } else {
    warn('pkg-template/package.json is missing: dist/package.json not written');
  }

  // node_modules/@kalamdb/consumer -> ../../dist, so tests import the package by name.
  const scopeDir = join(ROOT, 'node_modules', '@kalamdb');
  const link = join(scopeDir, 'consumer');
  mkdirSync(scopeDir, { recursive: true });
  let existing;
  try {
    existing = lstatSync(link);
  } catch {
    existing = undefined;
  }
  if (existing) rmSync(link, { recursive: true, force: true });
  symlinkSync(join('..', '..', 'dist'), link, 'dir');
  log(`linked ${relative(ROOT, link)} -> ../../dist`);
  reportWasmSize();
}

const steps = parseSteps(process.argv.slice(2));
for (const step of steps) {
  log(`step ${step}`);
  if (step === 'wasm') stepWasm();
  else if (step === 'ts') stepTs();
  else stepPackage();
}
log('done');
