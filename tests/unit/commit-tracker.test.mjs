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

/**
 * The tracker against a model made of plain sets (what it did before it became arrays), through
 * random batches, redeliveries, finishes, holds, forgets and commits, including compactions.
 */
class ModelTracker {
  pending = new Set();
  done = new Set();
  held = new Set();
  committed = -1;
  seen(o) { return o <= this.committed || this.pending.has(o); }
  track(offsets) {
    const fresh = [...new Set(offsets.filter((o) => !this.seen(o)))].sort((a, b) => a - b);
    for (const o of fresh) this.pending.add(o);
    return fresh;
  }
  finish(o, ack) { if (!this.pending.has(o)) return; this.done.add(o); if (ack === false) this.held.add(o); }
  forget(o) { if (!this.pending.delete(o)) return; this.done.delete(o); this.held.delete(o); }
  committable() {
    let upto;
    for (const o of [...this.pending].sort((a, b) => a - b)) {
      if (!this.done.has(o)) break;
      if (!this.held.has(o)) upto = o;
    }
    return upto;
  }
  committedUpTo(c) {
    if (c <= this.committed) return;
    this.committed = c;
    for (const o of [...this.pending]) if (o <= c) { this.pending.delete(o); this.done.delete(o); this.held.delete(o); }
  }
  get inFlight() { return this.pending.size - this.done.size; }
}

test('the tracker agrees with a set-based model through random operations', () => {
  let seed = 7;
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
  const pick = (list) => list[Math.floor(random() * list.length)];
  for (let run = 0; run < 40; run++) {
    const t = new CommitTracker();
    const m = new ModelTracker();
    let next = 0;
    const history = [];
    const where = (step, what) => `run ${run} step ${step}: ${what} after\n  ${history.slice(-12).join('\n  ')}`;
    for (let step = 0; step < 400; step++) {
      const roll = random();
      if (roll < 0.3) {
        // A fresh batch, sometimes with holes (deleted messages), sometimes a redelivery overlap.
        const from = random() < 0.2 ? Math.max(0, next - 5) : next;
        const batch = [];
        for (let o = from; o < from + 1 + Math.floor(random() * 40); o++) if (random() > 0.1) batch.push(o);
        if (random() < 0.1) batch.reverse();
        next = Math.max(next, from + 41);
        history.push(`track ${JSON.stringify(batch)}`);
        assert.deepEqual(t.track(batch), m.track(batch), where(step, 'track'));
      } else if (roll < 0.75) {
        const live = [...m.pending];
        if (live.length) {
          const o = pick(live);
          const ack = random() < 0.1 ? false : undefined;
          history.push(`finish ${o}${ack === false ? ' ack:false' : ''}`);
          t.finish(o, ack === false ? { ack } : undefined);
          m.finish(o, ack);
        }
      } else if (roll < 0.78) {
        const live = [...m.pending];
        if (live.length) { const o = pick(live); history.push(`forget ${o}`); t.forget(o); m.forget(o); }
      } else {
        const upto = t.committable();
        assert.equal(upto, m.committable(), where(step, 'committable'));
        if (upto !== undefined && random() < 0.8) { history.push(`committedUpTo ${upto}`); t.committedUpTo(upto); m.committedUpTo(upto); }
      }
      assert.equal(t.inFlight, m.inFlight, where(step, 'inFlight'));
      const probe = Math.floor(random() * (next + 3));
      assert.equal(t.seen(probe), m.seen(probe), where(step, `seen(${probe})`));
      assert.equal(t.isFinished(probe), m.pending.has(probe) && m.done.has(probe), where(step, `isFinished(${probe})`));
    }
  }
});

test('a long run in offset order stays correct across compactions of the settled prefix', () => {
  const t = new CommitTracker();
  for (let batch = 0; batch < 30; batch++) {
    const offsets = Array.from({ length: 100 }, (_, i) => batch * 100 + i);
    assert.deepEqual(t.track(offsets), offsets);
    for (const o of offsets) t.finish(o);
    assert.equal(t.inFlight, 0);
    assert.equal(t.committable(), batch * 100 + 99);
    t.committedUpTo(batch * 100 + 99);
  }
  assert.equal(t.seen(2999), true);
  assert.equal(t.seen(3000), false);
  assert.deepEqual(t.track([2998, 3000, 3001]), [3000, 3001]);
  t.finish(3001);
  assert.equal(t.committable(), undefined, '3000 is unfinished');
  t.finish(3000);
  assert.equal(t.committable(), 3001);
});
