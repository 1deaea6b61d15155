// CommitTracker: which offset a partition may commit. Pure TS, no server. It is internal (the
// package ships it inside its bundled chunk, not as a module), so this test imports the
// unbundled tsc output that `node scripts/build.mjs` leaves in build/tsc/.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const tscOut = new URL('../../build/tsc/', import.meta.url);
if (!existsSync(fileURLToPath(new URL('commit-tracker.js', tscOut)))) {
  throw new Error('build/tsc/commit-tracker.js is missing: run node scripts/build.mjs first');
}
const { CommitTracker } = await import(new URL('commit-tracker.js', tscOut).href);

test('nothing is committable before anything finished', () => {
  const t = new CommitTracker();
  t.track([0, 1, 2]);
  assert.equal(t.committable(), undefined);
  assert.equal(t.committed, -1);
});

test('the highest contiguous finished offset is committable, never past an unfinished one', () => {
  const t = new CommitTracker();
  t.track([0, 1, 2, 3]);
  t.finish(0);
  t.finish(2);
  assert.equal(t.committable(), 0, 'offset 1 is unfinished, so 2 must wait');
  t.finish(1);
  assert.equal(t.committable(), 2);
  t.finish(3);
  assert.equal(t.committable(), 3, 'one ack covers the whole batch');
});

test('gaps in offsets (deleted messages) do not block commits', () => {
  const t = new CommitTracker();
  t.track([3, 7, 9]);
  t.finish(3);
  t.finish(7);
  assert.equal(t.committable(), 7);
  t.finish(9);
  assert.equal(t.committable(), 9);
});

test('after a commit, committed offsets are settled and re-deliveries are recognised', () => {
  const t = new CommitTracker();
  t.track([0, 1, 2]);
  [0, 1, 2].forEach((o) => t.finish(o));
  t.committedUpTo(2);
  assert.equal(t.committed, 2);
  assert.equal(t.committable(), undefined, 'nothing new to commit');
  assert.equal(t.seen(0), true);
  assert.equal(t.seen(2), true);
  assert.equal(t.seen(3), false);
  // The server re-delivers a whole expired claim: only the new offsets are handed out.
  assert.deepEqual(t.track([1, 2, 3, 4]), [3, 4]);
});

test('in-flight offsets are not handed out twice', () => {
  const t = new CommitTracker();
  assert.deepEqual(t.track([5, 6]), [5, 6]);
  assert.deepEqual(t.track([5, 6, 7]), [7]);
  assert.equal(t.inFlight, 3);
});

test('track sorts and de-duplicates', () => {
  const t = new CommitTracker();
  assert.deepEqual(t.track([2, 0, 1, 1]), [0, 1, 2]);
});

test('a lower commit is ignored (ack is monotonic on the server too)', () => {
  const t = new CommitTracker();
  t.track([0, 1]);
  t.finish(0);
  t.finish(1);
  t.committedUpTo(1);
  t.committedUpTo(0);
  assert.equal(t.committed, 1);
});

test('a held (ack: false) message is never the committed offset but can be committed past', () => {
  const t = new CommitTracker();
  t.track([0, 1, 2]);
  t.finish(0);
  t.finish(1, { ack: false });
  assert.equal(t.committable(), 0, 'the held message itself is not acked');
  t.finish(2);
  assert.equal(t.committable(), 2, 'a later finished message commits past it');

  const alone = new CommitTracker();
  alone.track([0]);
  alone.finish(0, { ack: false });
  assert.equal(alone.committable(), undefined);
});

test('finishing an untracked offset has no effect', () => {
  const t = new CommitTracker();
  t.track([1]);
  t.finish(0);
  assert.equal(t.committable(), undefined);
});

test('expected: raised by probes and commits, never lowered', () => {
  const t = new CommitTracker();
  assert.equal(t.expected, undefined, 'unknown until a probe or a batch tells');
  t.expect(8);
  t.expect(3);
  assert.equal(t.expected, 8);
  t.committedUpTo(19);
  assert.equal(t.expected, 20, 'a commit (ours or learned) settles everything up to it');
});

test('forget lets a redelivery of an unacked offset through again', () => {
  const t = new CommitTracker();
  t.track([4]);
  assert.equal(t.seen(4), true);
  t.forget(4);
  assert.equal(t.seen(4), false);
});

// OffsetSequencer: the ordering rule behind "never commit past a claim we never received".
const { OffsetSequencer } = await import(new URL('sequencer.js', tscOut).href);
const msgs = (...offsets) => offsets.map((offset) => ({ offset }));

test('sequencer: a batch starting beyond the expected offset is kept back until the gap arrives', () => {
  const t = new CommitTracker();
  t.expect(10);
  const seq = new OffsetSequencer(t, 1_000, () => 0);
  const later = seq.offer(msgs(20, 21));
  assert.deepEqual(later.ready, [], 'nothing handed out past the gap');
  assert.equal(later.accepted, false);
  assert.deepEqual(seq.gap, { from: 10, to: 19 });
  assert.equal(t.committable(), undefined, 'nothing tracked, so nothing committable');
  const redelivered = seq.offer(msgs(10, 11, 12, 13, 14, 15, 16, 17, 18, 19));
  assert.equal(redelivered.accepted, true);
  assert.deepEqual(redelivered.ready.map((m) => m.offset), [10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21], 'the gap, then what was kept back');
  assert.equal(seq.gap, undefined);
});

test('sequencer: holes inside one batch are deleted messages, not gaps; committed offsets are skipped', () => {
  const t = new CommitTracker();
  t.committedUpTo(4);
  const seq = new OffsetSequencer(t, 1_000, () => 0);
  assert.deepEqual(seq.offer(msgs(0, 3, 5, 9, 12)).ready.map((m) => m.offset), [5, 9, 12]);
  assert.equal(t.expected, 13);
});

test('sequencer: a gap open for gapTimeoutMs is given up and returned for reporting', () => {
  let now = 0;
  const t = new CommitTracker();
  t.expect(10);
  const seq = new OffsetSequencer(t, 500, () => now);
  assert.deepEqual(seq.offer(msgs(15, 16)).skipped, []);
  now = 499;
  assert.deepEqual(seq.offer([]).ready, []);
  now = 500;
  const late = seq.offer([]);
  assert.deepEqual(late.skipped, [{ from: 10, to: 14 }]);
  assert.deepEqual(late.ready.map((m) => m.offset), [15, 16]);
});
