// Fair share over a real lease table: workers converge, cover for one that stops or dies, make
// room for one that joins, and do not move partitions while the membership is steady.
// Each "round" is what the engine does every renewIntervalMs: tick every worker at once, then
// drain (instantly here) and release what a worker was told to give up.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { uniqueName } from '../support/devserver.mjs';
import { fleetFixture, leasesFor, ManualClock, ownership } from './support.mjs';

const fx = await fleetFixture({ partitions: 4 });
const PARTITIONS = [0, 1, 2, 3];

function assertNoOverlap(workers, when) {
  for (const p of PARTITIONS) {
    const holders = workers.filter((w) => w.owned().includes(p)).map((w) => w.workerId);
    assert.ok(holders.length <= 1, `${when}: partition ${p} owned by ${holders}`);
    const committers = workers.filter((w) => w.canCommit(p)).map((w) => w.workerId);
    assert.ok(committers.length <= 1, `${when}: partition ${p} committable by ${committers}`);
  }
}

function shares(workers) {
  return workers.map((w) => w.owned().length).sort((a, b) => a - b);
}

function covered(workers) {
  return workers.flatMap((w) => w.owned()).sort((a, b) => a - b);
}

async function round(workers, clock, when) {
  clock.advance(300);
  const results = await Promise.all(workers.map((w) => w.tick()));
  assertNoOverlap(workers, when);
  for (const [i, result] of results.entries()) {
    for (const error of result.errors) assert.fail(`${when}: ${workers[i].workerId}: ${error.message}`);
    for (const p of result.shouldRelease) await workers[i].release(p);
  }
  assertNoOverlap(workers, `${when}, after releases`);
  return results.reduce((moves, r) => moves + r.acquired.length + r.lost.length, 0);
}

/** Rounds until `done()` holds; fails after `max`. Returns how many it took. */
async function roundsUntil(workers, clock, max, done, what) {
  for (let n = 1; n <= max; n += 1) {
    await round(workers, clock, `${what}, round ${n}`);
    if (done()) return n;
  }
  assert.fail(`${what}: not reached in ${max} rounds; ownership ${JSON.stringify(ownership(workers))}`);
}

test('3 workers on 4 partitions: 2/1/1, steady; one stops, one joins, one dies', async () => {
  const groupId = uniqueName('g');
  const clock = new ManualClock();
  const make = (id) => leasesFor(fx, { groupId, partitions: PARTITIONS, clock, workerId: id });
  let workers = ['w1', 'w2', 'w3'].map(make);
  await workers[0].ensureTable();

  await roundsUntil(workers, clock, 5, () => shares(workers).join() === '1,1,2' && covered(workers).join() === '0,1,2,3', 'start');
  // Steady membership: nothing moves.
  const settled = JSON.stringify(ownership(workers));
  for (let n = 0; n < 10; n += 1) assert.equal(await round(workers, clock, `steady ${n}`), 0);
  assert.equal(JSON.stringify(ownership(workers)), settled);

  // A graceful stop: the other two take everything, 2/2.
  const leaving = workers.find((w) => w.owned().length === 2) ?? workers[0];
  await leaving.stop();
  workers = workers.filter((w) => w !== leaving);
  await roundsUntil(workers, clock, 3, () => shares(workers).join() === '2,2', 'after a stop');

  // A joiner gets its share once one of the others has released (2/1/1 again).
  const joiner = make('w4');
  workers = [...workers, joiner];
  const joinRounds = await roundsUntil(
    workers,
    clock,
    4,
    () => joiner.owned().length === 1 && shares(workers).join() === '1,1,2' && covered(workers).join() === '0,1,2,3',
    'after a join',
  );
  assert.ok(joinRounds <= 3, `join took ${joinRounds} rounds`);

  // A worker that dies (no stop, no more ticks): after its lease and member row lapse
  // (1000 ms = 3.3 rounds) the two left cover all partitions.
  const dead = workers.find((w) => w.owned().length >= 1 && w !== joiner) ?? workers[0];
  workers = workers.filter((w) => w !== dead);
  const deadRounds = await roundsUntil(workers, clock, 8, () => covered(workers).join() === '0,1,2,3', 'after a crash');
  assert.ok(deadRounds >= 3, `taken over after ${deadRounds} rounds: before the dead worker's lease ran out?`);
  assert.deepEqual(shares(workers), [2, 2]);
  await Promise.all(workers.map((w) => w.stop()));
});

test('two workers started at the same moment on 4 partitions end at 2/2 without a partition in two hands', async () => {
  const groupId = uniqueName('g');
  const clock = new ManualClock();
  const workers = ['s1', 's2'].map((id) => leasesFor(fx, { groupId, partitions: PARTITIONS, clock, workerId: id }));
  await workers[0].ensureTable();
  await roundsUntil(workers, clock, 5, () => shares(workers).join() === '2,2', 'simultaneous start');
  for (let n = 0; n < 5; n += 1) assert.equal(await round(workers, clock, `steady ${n}`), 0);
  await Promise.all(workers.map((w) => w.stop()));
});
