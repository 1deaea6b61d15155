// CommitTracker: which offset a partition may commit. Pure TS, no server: imported from the
// built package directory (it is internal, not part of the public exports).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';

// Resolve dist/ through the linked package, so the test runs against what build.mjs produced.
const require = createRequire(import.meta.url);
const pkgDir = dirname(require.resolve('@kalamdb/consumer/package.json'));
const { CommitTracker } = await import(pathToFileURL(join(pkgDir, 'commit-tracker.js')).href);

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
