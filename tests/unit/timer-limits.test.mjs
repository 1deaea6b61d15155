// Delays beyond what a timer holds (2^31 - 1 ms): Node fires such a timer after 1 ms, with a
// TimeoutOverflowWarning. js/src/timing.ts `timerFor` reads them as never, for every timer the
// runtime sets from an option: sleeps (idle backoff), request timeouts (linkSignals) and the
// drain deadline (StopControl; tests/unit/stop-drain.test.mjs runs it through the workers).
// Internal modules, so this imports the unbundled tsc output in build/tsc/.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { warningsDuring } from '../support/warnings.mjs';

const tscOut = new URL('../../build/tsc/', import.meta.url);
for (const file of ['timing.js', 'worker/stop-control.js']) {
  if (!existsSync(fileURLToPath(new URL(file, tscOut)))) throw new Error(`build/tsc/${file} is missing: run node scripts/build.mjs first`);
}
const { MAX_TIMER_MS, sleep, linkSignals } = await import(new URL('timing.js', tscOut).href);
const { StopControl } = await import(new URL('worker/stop-control.js', tscOut).href);

const wait = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

test('the limit is the largest 32-bit signed integer', () => {
  assert.equal(MAX_TIMER_MS, 2 ** 31 - 1);
});

test('sleep longer than a timer holds lasts until its signal aborts, not 1 ms', async () => {
  for (const ms of [Infinity, MAX_TIMER_MS + 1, 1e15]) {
    const controller = new AbortController();
    let resolved = false;
    const warnings = await warningsDuring(() => {
      sleep(ms, controller.signal).then(() => { resolved = true; });
    });
    assert.equal(resolved, false, `sleep(${ms}) still waiting after 50 ms`);
    controller.abort();
    await wait(0);
    assert.equal(resolved, true, `sleep(${ms}) ends when its signal aborts`);
    assert.deepEqual(warnings, []);
  }
});

test('sleep within the limit still ends on its own', async () => {
  const t0 = Date.now();
  await sleep(20);
  assert.ok(Date.now() - t0 >= 15);
});

test('a request timeout longer than a timer holds is no timeout', async () => {
  for (const ms of [Infinity, MAX_TIMER_MS + 1]) {
    let linked;
    const warnings = await warningsDuring(() => { linked = linkSignals([], ms); });
    assert.equal(linked.signal.aborted, false, `timeout ${ms} has not fired after 50 ms`);
    assert.equal(linked.timedOut(), false);
    assert.deepEqual(warnings, []);
    linked.dispose();
  }
  const short = linkSignals([], 10);
  await wait(40);
  assert.equal(short.timedOut(), true, 'a 10 ms timeout still fires');
  short.dispose();
});

test('a drain deadline longer than a timer holds never fires; a short one does', async () => {
  for (const ms of [Infinity, MAX_TIMER_MS + 1]) {
    const stop = new StopControl(ms);
    const warnings = await warningsDuring(() => stop.stop());
    assert.equal(stop.halted, true);
    assert.equal(stop.drain.aborted, false, `drainTimeoutMs ${ms}: no drain 50 ms after stop`);
    assert.deepEqual(warnings, []);
    stop.dispose();
  }
  const stop = new StopControl(5);
  stop.stop();
  await wait(30);
  assert.equal(stop.drain.aborted, true);
  stop.dispose();
});
