#!/usr/bin/env node
// `npm run bench`: every figure side by side with its baseline, in one run, in one table.
//
//   node bench/run.mjs [--only=decode,vs_plain,concurrency,throughput,latency,size,memory,fleet] [--quick]
//
// See bench/README.md for what each figure means and how to read the table.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runConcurrency } from './concurrency.mjs';
import { runDecode } from './decode.mjs';
import { FLEET_VISIBILITY_S, runFleet } from './fleet.mjs';
import { adminSession, createWorker, startDevServer } from './lib/devserver.mjs';
import { describeMachine } from './lib/machine.mjs';
import { ensureBuilt, packageVersion } from './lib/pkg.mjs';
import { printTable, writeResults } from './lib/report.mjs';
import { nowMs } from './lib/timing.mjs';
import { runLatency } from './latency.mjs';
import { runMemory } from './memory.mjs';
import { runSize } from './size.mjs';
import { runThroughput } from './throughput.mjs';
import { runVsPlain } from './vs-plain.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const quick = args.includes('--quick');
const onlyArg = args.find((a) => a.startsWith('--only='));
const ALL = ['decode', 'vs_plain', 'concurrency', 'throughput', 'latency', 'size', 'memory', 'fleet'];
const only = onlyArg ? onlyArg.slice('--only='.length).split(',') : ALL;
for (const name of only) if (!ALL.includes(name)) throw new Error(`unknown figure group ${name}; known: ${ALL.join(', ')}`);

const t0 = nowMs();
const log = (msg) => console.error(`[bench ${((nowMs() - t0) / 1000).toFixed(1).padStart(5)} s] ${msg}`);
const options = {
  quick, only,
  decode: { rounds: quick ? 3 : 7, roundMs: quick ? 150 : 300 },
  throughput: { messages: quick ? 5_000 : 20_000, naiveMessages: quick ? 2_000 : 5_000, rounds: quick ? 1 : 3 },
  latency: { count: quick ? 100 : 500, spacingMs: 20 },
  vs_plain: { messages: quick ? { 100: 20_000, 1000: 50_000 } : undefined, rounds: quick ? 1 : 5 }, // undefined: vs-plain.mjs MESSAGES_PER_RUN
  concurrency: { messages: quick ? 320 : 1_000, baselineMessages: quick ? 25 : 100, rounds: quick ? 1 : 3 },
  memory: { total: quick ? 50_000 : 200_000, warmup: quick ? 10_000 : 40_000, batchSize: 100, sampleEvery: quick ? 2_500 : 5_000 },
  fleet: { messages: quick ? 3_000 : 10_000, scalingRounds: quick ? 1 : 3, moveRounds: quick ? 1 : 3, leaseMs: 3_000 },
};

const rows = [];
const section = async (name, fn) => {
  if (!only.includes(name)) return;
  log(`${name}: start`);
  try {
    rows.push(...(await fn()));
  } catch (err) {
    log(`${name}: FAILED ${err?.stack ?? err}`);
    rows.push({ id: `${name}.error`, figure: `${name} (did not run)`, value: null, baseline: null, ratio: null,
      target: '', pass: false, error: String(err?.message ?? err) });
  }
};

ensureBuilt({ log });
const machine = { ...describeMachine(), package_version: packageVersion() };
log(`machine: ${machine.cpu_model}, ${machine.cores} cores, ${machine.os}, node ${machine.node_version}`);

await section('decode', () => runDecode({ ...options.decode, log }));
await section('vs_plain', () => runVsPlain({ ...options.vs_plain, log }));
await section('concurrency', () => runConcurrency({ ...options.concurrency, log }));

if (only.includes('throughput') || only.includes('latency')) {
  let server;
  try {
    server = await startDevServer({ log });
    log(`kalam-devserver at ${server.url} (pid ${server.pid})`);
    const admin = await adminSession(server.url);
    await createWorker(admin);
    await section('throughput', () => runThroughput({ server, admin, ...options.throughput, log }));
    await section('latency', () => runLatency({ server, admin, ...options.latency, log }));
  } catch (err) {
    log(`dev server: FAILED ${err?.stack ?? err}`);
    rows.push({ id: 'devserver.error', figure: 'throughput/latency (dev server unavailable)', value: null, baseline: null,
      ratio: null, target: '', pass: false, error: String(err?.message ?? err) });
  } finally {
    await server?.stop();
  }
}

await section('size', () => runSize({ log }));
await section('memory', () => runMemory({ ...options.memory, log }));

// The fleet figures need a server of their own: a 5 s visibility timeout bounds the failover.
if (only.includes('fleet')) {
  let server;
  try {
    server = await startDevServer({ log, args: ['--visibility-timeout-secs', String(FLEET_VISIBILITY_S)] });
    log(`kalam-devserver for the fleet at ${server.url} (pid ${server.pid}, visibility timeout ${FLEET_VISIBILITY_S} s)`);
    const admin = await adminSession(server.url);
    await createWorker(admin);
    await section('fleet', () => runFleet({ server, admin, ...options.fleet, log }));
  } catch (err) {
    log(`fleet dev server: FAILED ${err?.stack ?? err}`);
    rows.push({ id: 'fleet.devserver.error', figure: 'fleet (dev server unavailable)', value: null, baseline: null,
      ratio: null, target: '', pass: false, error: String(err?.message ?? err) });
  } finally {
    await server?.stop();
  }
}

const durationS = (nowMs() - t0) / 1000;
console.log('');
printTable(rows);
console.log(`\n${rows.filter((r) => r.pass === true).length} pass, ${rows.filter((r) => r.pass === false).length} fail; ` +
  `${machine.cpu_model}, ${machine.cores} cores, node ${machine.node_version}; ${durationS.toFixed(0)} s`);
const file = path.join(HERE, 'results.json');
writeResults(file, { machine, rows, startedAt: new Date(performance.timeOrigin).toISOString(), durationS, options });
console.log(`written ${path.relative(process.cwd(), file) || file}`);
// A missed target is a result, not a crash: exit non-zero only when a figure could not be measured.
process.exitCode = rows.some((r) => r.error) ? 1 : 0;
