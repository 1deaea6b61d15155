// @ts-check
/**
 * Builds the publishable package into dist/.
 *
 *   node scripts/build.mjs                 # all steps
 *   node scripts/build.mjs --step wasm     # wasm-pack + wasm-opt only (also: ts, package)
 *
 * Steps (HACKING.md "Build"):
 *   wasm     wasm-pack build (profile wasm-release, --target web, --weak-refs) into js/src/wasm, then
 *            Debian's wasm-opt -Oz when it is installed; prints the .wasm size.
 *   ts       tsc -p tsconfig.json (type check; unbundled output in build/tsc/ for tests of
 *            internal modules, never published), then esbuild bundles and minifies the entry
 *            points into dist/ (one shared chunk) plus a self-contained CommonJS Node entry,
 *            dts-bundle-generator rolls the public declarations into dist/index.d.ts (copied to
 *            index.d.cts for require), then checks and bundles the command line (js/src/cli,
 *            tsconfig.cli.json) into dist/cli.js; skipped while js/src holds no .ts file.
 *   package  wasm glue into dist/wasm/ (the .js bundled with its snippets and minified by
 *            esbuild, the .d.ts as generated),
 *            README.md + LICENSE, dist/package.json from pkg-template/ with the workspace
 *            version (every `exports` target must exist), node_modules/@kalamdb/consumer -> dist.
 *
 * Node >= 18; node: builtins plus the typescript, esbuild and dts-bundle-generator devDependencies.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CRATE = join(ROOT, 'crates', 'kalam-consumer-wasm');
const WASM_OUT = join(ROOT, 'js', 'src', 'wasm');
const OUT_NAME = 'kalam_consumer_wasm';
const DIST = join(ROOT, 'dist');
/** Unbundled tsc output (tsconfig.json outDir): tests of internal modules import it. */
const TSC_OUT = join(ROOT, 'build', 'tsc');
/**
 * The package's JS entry points (pkg-template/package.json `exports`). The browser `./wasm`
 * export is the generated glue itself (dist/wasm/, minified in the package step): every entry
 * imports it as an external module, so one glue instance is shared by all of them and its
 * `new URL('kalam_consumer_wasm_bg.wasm', import.meta.url)` still points next to it.
 */
const JS_ENTRIES = {
  'entry.node': join(ROOT, 'js', 'src', 'entry.node.ts'),
  'entry.browser': join(ROOT, 'js', 'src', 'entry.browser.ts'),
  'wasm.node': join(ROOT, 'js', 'src', 'wasm.node.ts'),
};
/**
 * The command line (the package's `bin`): bundled on its own for Node, importing the package
 * through the node entry at run time, so it adds only its own code to dist/.
 */
const CLI_ENTRY = join(ROOT, 'js', 'src', 'cli', 'main.ts');
const CLI_OUT = 'cli.js';
/**
 * CommonJS build of the Node entry (`exports["."].require`), for `require('@kalamdb/consumer')`
 * on every supported Node. One self-contained file: the TS layer and the glue are bundled in,
 * because a CommonJS file cannot `require` the ESM glue before Node 20.19/22.12.
 */
const CJS_ENTRY = join(ROOT, 'js', 'src', 'entry.node.ts');
const CJS_OUT = 'entry.node.cjs';
/**
 * CommonJS has no `import.meta`: the CJS bundle gets this variable instead, declared by a
 * banner from `__filename`, so `new URL('./wasm/...', import.meta.url)` still finds the .wasm.
 */
const CJS_IMPORT_META_URL = '__kalamImportMetaUrl';
/** The `.` export's declarations (both conditions export the same names). */
const TYPES_ENTRY = join(ROOT, 'js', 'src', 'entry.browser.ts');
const TYPES_OUT = 'index.d.ts';
/**
 * The same declarations for `require` (`exports["."].require.types`). TypeScript reads a
 * `.d.ts` of a `"type": "module"` package as ESM and refuses to `require` it (TS1479), and a
 * `.d.cts` that re-exports the `.d.ts` hits the same error, so it is a copy.
 */
const TYPES_CJS_OUT = 'index.d.cts';
/**
 * wasm-bindgen output shipped in dist/wasm/. Its `_bg.wasm.d.ts` is not shipped: it types a
 * `--target bundler` import of the raw module exports, which `--target web` never does, and
 * the glue's .d.ts declares the same exports as `InitOutput`.
 */
const GLUE_JS = `${OUT_NAME}.js`;
const GLUE_FILES = [GLUE_JS, `${OUT_NAME}.d.ts`, `${OUT_NAME}_bg.wasm`];
/** esbuild settings shared by the bundle and the glue; `target` matches tsconfig.json. */
const ESBUILD_COMMON = {
  format: /** @type {const} */ ('esm'),
  target: 'es2022',
  minify: process.env.KALAM_NO_MINIFY ? false : true,
  // Users see class and function names (`KalamConsumerError` in a logged error, the glue's
  // `KalamConsumerClient`): keep them through minification (~2 kB of the bundle, ~3 kB of glue).
  keepNames: true,
  // keepNames names classes in `static {}` blocks (Safari >= 16.4); neither the TS layer nor
  // the glue uses them, so name them after the class instead and keep the browser floor.
  supported: { 'class-static-blocks': false },
  charset: /** @type {const} */ ('utf8'),
  sourcemap: false,
  logLevel: /** @type {const} */ ('warning'),
};
/** Size budget of the optimised module (docs/STYLE.md 16). */
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
  run('wasm-pack', [
    'build', CRATE,
    // Every size and speed setting of the module is in Cargo.toml's [profile.wasm-release].
    '--target', 'web', '--profile', 'wasm-release', '--weak-refs',
    // Use the wasm-bindgen that install-tools.sh put on PATH; never download one.
    '--mode', 'no-install',
    '--no-pack', '--no-gitignore',
    '--out-dir', WASM_OUT,
    '--out-name', OUT_NAME,
  ]);

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

/** @returns {Promise<typeof import('esbuild')>} */
async function loadEsbuild() {
  try {
    return await import('esbuild');
  } catch (error) {
    fail(`esbuild is not installed (run npm ci): ${error instanceof Error ? error.message : String(error)}`);
  }
}

/** Removes what an earlier ts step left in dist/ (top-level .js, .cjs, .d.ts, .d.cts and maps; dist/wasm/ stays). */
function cleanDistModules() {
  if (!existsSync(DIST)) return;
  for (const entry of readdirSync(DIST, { withFileTypes: true })) {
    if (entry.isFile() && /\.(c?js|c?ts|map)$/.test(entry.name)) rmSync(join(DIST, entry.name));
  }
}

/**
 * Bundles the entry points into dist/: ESM, minified, `splitting` so the node and browser
 * entries share one chunk instead of each carrying the whole TS layer. Every output lands in
 * dist/ itself, so `new URL('./wasm/...', import.meta.url)` in any of them still resolves.
 */
async function bundleJs() {
  const esbuild = await loadEsbuild();
  /** @type {import('esbuild').Plugin} */
  const glueExternal = {
    name: 'kalam-glue-external',
    setup(build) {
      // The generated glue stays its own module (see JS_ENTRIES); outputs sit in dist/, next to wasm/.
      build.onResolve({ filter: /^\.\/wasm\/kalam_consumer_wasm\.js$/ }, () => ({ path: `./wasm/${GLUE_JS}`, external: true }));
    },
  };
  const result = await esbuild.build({
    ...ESBUILD_COMMON,
    entryPoints: JS_ENTRIES,
    bundle: true,
    splitting: true,
    platform: 'neutral',
    external: ['node:*'],
    tsconfig: join(ROOT, 'tsconfig.json'),
    outdir: DIST,
    chunkNames: 'chunk-[hash]',
    plugins: [glueExternal],
    write: false,
  });
  // esbuild gives a module that only re-exports (public.ts, shared by both entries) an empty
  // chunk of its own and a bare `import "./chunk-X.js"` in each entry (evanw/esbuild#2922, open).
  // Importing an empty module does nothing, so drop the file and the imports.
  const empty = result.outputFiles.filter((f) => f.text.trim() === '').map((f) => relative(DIST, f.path));
  /** @type {string[]} */
  const written = [];
  for (const file of result.outputFiles) {
    const name = relative(DIST, file.path);
    if (name.includes('/') || name.startsWith('..')) fail(`esbuild wrote ${name} outside dist/ itself: relative URLs would break`);
    if (empty.includes(name)) continue;
    let text = file.text;
    for (const gone of empty) {
      text = text.split(`import"./${gone}";`).join('');
      if (text.includes(gone)) fail(`${name} still refers to the empty chunk ${gone}`);
    }
    writeFileSync(file.path, text);
    written.push(`${name} ${Buffer.byteLength(text)} B`);
  }
  log(`esbuild: ${written.join(', ')}${empty.length ? ` (dropped the empty ${empty.join(', ')})` : ''}`);
}

/**
 * The CommonJS Node entry (see CJS_ENTRY): the wasm module is still read and instantiated
 * synchronously at load, from dist/wasm/ next to this file. It has its own copy of the TS
 * layer and glue, so a process that both imports and requires the package holds two
 * instances (`isKalamConsumerError` works across them; `instanceof` does not).
 */
async function bundleCjs() {
  const esbuild = await loadEsbuild();
  await esbuild.build({
    ...ESBUILD_COMMON,
    format: 'cjs',
    entryPoints: [CJS_ENTRY],
    bundle: true,
    platform: 'node',
    tsconfig: join(ROOT, 'tsconfig.json'),
    outfile: join(DIST, CJS_OUT),
    define: { 'import.meta.url': CJS_IMPORT_META_URL },
    banner: { js: `var ${CJS_IMPORT_META_URL}=require("node:url").pathToFileURL(__filename).href;` },
  });
  log(`esbuild: ${CJS_OUT} ${statSync(join(DIST, CJS_OUT)).size} B`);
}

/**
 * Rolls the public declarations of the `.` export into one file. Only what entry.browser.ts
 * exports is exported from it; internal types the public ones refer to (EngineOptions,
 * BaseContext, ...) are declared unexported in the same file, with their JSDoc.
 */
function bundleTypes() {
  const cli = join(ROOT, 'node_modules', 'dts-bundle-generator', 'dist', 'bin', 'dts-bundle-generator.js');
  if (!existsSync(cli)) fail('dts-bundle-generator is not installed: run npm ci');
  run(process.execPath, [
    cli, '--silent', '--no-banner', '--export-referenced-types=false',
    // js/src/client.ts declares `SymbolConstructor.dispose` globally (why: there); without
    // this flag the declaration is dropped.
    '--inline-declare-global',
    '--project', join(ROOT, 'tsconfig.json'),
    '-o', join(DIST, TYPES_OUT), TYPES_ENTRY,
  ]);
  copyFileSync(join(DIST, TYPES_OUT), join(DIST, TYPES_CJS_OUT));
  log(`dts-bundle-generator: ${TYPES_OUT} ${statSync(join(DIST, TYPES_OUT)).size} B (copied to ${TYPES_CJS_OUT})`);
}

/**
 * Type-checks js/src/cli against the just-written dist/index.d.ts (tsconfig.cli.json, with
 * Node's types) and bundles it into dist/cli.js with a shebang. `@kalamdb/consumer` stays an
 * import of ./entry.node.js, so the CLI shares the package's one wasm instance and chunk.
 */
async function bundleCli() {
  const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  run(process.execPath, [tsc, '-p', join(ROOT, 'tsconfig.cli.json')]);
  const esbuild = await loadEsbuild();
  /** @type {import('esbuild').Plugin} */
  const packageExternal = {
    name: 'kalam-cli-package-external',
    setup(build) {
      build.onResolve({ filter: /^@kalamdb\/consumer$/ }, () => ({ path: './entry.node.js', external: true }));
    },
  };
  const outfile = join(DIST, CLI_OUT);
  await esbuild.build({
    ...ESBUILD_COMMON,
    entryPoints: [CLI_ENTRY],
    outfile,
    bundle: true,
    platform: 'node',
    target: 'node18',
    banner: { js: '#!/usr/bin/env node' },
    plugins: [packageExternal],
  });
  chmodSync(outfile, 0o755);
  log(`esbuild: ${CLI_OUT} ${statSync(outfile).size} B`);
}

async function stepTs() {
  if (!hasTsSources(join(ROOT, 'js', 'src'))) {
    warn('js/src has no .ts file yet: skipping tsc');
    return;
  }
  const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  if (!existsSync(tsc)) fail('typescript is not installed: run npm install');
  rmSync(TSC_OUT, { recursive: true, force: true });
  run(process.execPath, [tsc, '-p', join(ROOT, 'tsconfig.json')]);
  mkdirSync(DIST, { recursive: true });
  cleanDistModules();
  await bundleJs();
  await bundleCjs();
  bundleTypes();
  await bundleCli();
}

/**
 * Every path pkg-template's `main`, `module`, `types`, `exports` and `bin` name must exist in dist/,
 * and be matched by `files` (npm pack ships nothing else).
 * @param {Record<string, unknown>} pkg
 */
function checkPackageTargets(pkg) {
  /** @type {string[]} */
  const targets = [];
  const collect = (/** @type {unknown} */ value) => {
    if (typeof value === 'string') targets.push(value);
    else if (value && typeof value === 'object') Object.values(value).forEach(collect);
  };
  collect([pkg.main, pkg.module, pkg.types, pkg.exports, pkg.bin]);
  const files = /** @type {string[]} */ (pkg.files ?? []);
  const shipped = (/** @type {string} */ path) => files.some((pattern) =>
    pattern === path || (pattern.startsWith('*') && !path.includes('/') && path.endsWith(pattern.slice(1))));
  for (const target of targets) {
    const path = target.replace(/^\.\//, '');
    if (!existsSync(join(DIST, path))) fail(`package.json names ${target}, which is not in dist/`);
    if (path !== 'package.json' && !shipped(path)) fail(`package.json names ${target}, which its \`files\` do not ship`);
  }
}

async function stepPackage() {
  const distWasm = join(DIST, 'wasm');
  rmSync(distWasm, { recursive: true, force: true });
  mkdirSync(distWasm, { recursive: true });
  for (const name of GLUE_FILES) {
    const from = join(WASM_OUT, name);
    if (!existsSync(from)) fail(`${relative(ROOT, from)} is missing: run the wasm step first`);
    if (name !== GLUE_JS) {
      copyFileSync(from, join(distWasm, name));
      continue;
    }
    // The glue is generated, so it is minified here rather than edited (35 kB -> ~17 kB). It is
    // bundled on its own, so JS snippets it imports (`#[wasm_bindgen(module = ...)]`, emitted
    // under js/src/wasm/snippets/) are inlined and its `import.meta.url` is still dist/wasm/.
    const esbuild = await loadEsbuild();
    await esbuild.build({ ...ESBUILD_COMMON, entryPoints: [from], outfile: join(distWasm, name), bundle: true, platform: 'neutral' });
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
    checkPackageTargets(pkg);
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
  else if (step === 'ts') await stepTs();
  else await stepPackage();
}
log('done');
