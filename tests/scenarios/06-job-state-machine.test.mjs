// @ts-check
// Scenario 6: job state transitions driven by UPDATE events.
//
// Users own jobs (USER table). Each job is inserted `queued` and then updated through scripted
// states, some of which are not legal transitions: repeated states (an UPDATE that only
// touches the note column carries the same state again), skipped states (queued -> done) and
// moves out of a final state (done -> running). The worker keeps the accepted state per job in
// a SHARED table and records every rejected event; a redelivery of an event it already applied
// (forced retry after the write) is recognised by its offset and is neither applied twice nor
// rejected as a repeat.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createConsumerClient, Auth, runConsumer, TopicOp } from '@kalamdb/consumer';
import {
  Ledger,
  USER_PASSWORD,
  assertCommittedAtEnd,
  cmp,
  committedCount,
  createUsers,
  isDuplicate,
  pool,
  rootSession,
  runWorkerUntil,
  startServer,
} from './support.mjs';

const server = await startServer();
after(() => server.stop());

const TOPIC = 'ops.job_events';
const GROUP = 'job-state-machine';
const WORKER = 'job_tracker';
const USERS = ['tara', 'umar', 'vera'];

/** Scripted state sequences (first one is the INSERT). */
const SCRIPTS = {
  happy: ['queued', 'running', 'done'],
  fails: ['queued', 'running', 'failed'],
  repeat_running: ['queued', 'running', 'running', 'done'],
  skip_to_done: ['queued', 'done', 'running', 'done'],
  after_final: ['queued', 'running', 'done', 'running', 'failed'],
  repeat_queued: ['queued', 'queued', 'running', 'failed', 'done'],
  never_started: ['queued'],
};

/** The legal transitions of the worker ('' = no state yet). */
const ALLOWED = /** @type {Record<string, string[]>} */ ({ '': ['queued'], queued: ['running'], running: ['done', 'failed'], done: [], failed: [] });

/** The test's own model of the expected result. @param {string[]} states */
function model(states) {
  let state = '';
  let accepted = 0;
  /** @type {{ from: string, to: string, reason: string }[]} */
  const rejected = [];
  for (const to of states) {
    if (ALLOWED[state].includes(to)) {
      state = to;
      accepted++;
    } else rejected.push({ from: state, to, reason: state === to ? 'repeated' : 'invalid transition' });
  }
  return { state, accepted, rejected };
}

test('job state machine: UPDATE events drive queued -> running -> done | failed; repeated, skipped and after-final events are rejected and recorded, redeliveries are not double-applied, and final states are correct', async () => {
  const root = await rootSession(server);
  await root.sql('CREATE NAMESPACE IF NOT EXISTS ops');
  await root.sql('CREATE USER TABLE ops.jobs (id TEXT PRIMARY KEY, kind TEXT NOT NULL, state TEXT NOT NULL, note TEXT)');
  await root.sql(
    'CREATE SHARED TABLE ops.job_state (job_id TEXT PRIMARY KEY, owner TEXT NOT NULL, state TEXT NOT NULL, accepted INT NOT NULL, last_offset BIGINT NOT NULL)',
  );
  await root.sql(
    'CREATE SHARED TABLE ops.job_rejections (rejection_id TEXT PRIMARY KEY, job_id TEXT NOT NULL, from_state TEXT NOT NULL, to_state TEXT NOT NULL, reason TEXT NOT NULL)',
  );
  await root.sql(`CREATE TOPIC ${TOPIC} PARTITIONS 2`);
  await root.sql(`ALTER TOPIC ${TOPIC} ADD SOURCE ops.jobs ON INSERT`);
  await root.sql(`ALTER TOPIC ${TOPIC} ADD SOURCE ops.jobs ON UPDATE`);
  const users = await createUsers(root, server.url, USERS, 'user');
  await createUsers(root, server.url, [WORKER], 'service');

  const jobs = USERS.flatMap((user) => Object.entries(SCRIPTS).map(([kind, states]) => ({ id: `job-${user}-${kind}`, user, kind, states })));
  const totalEvents = jobs.reduce((n, j) => n + j.states.length, 0);

  const client = createConsumerClient({ url: server.url, authProvider: async () => Auth.basic(WORKER, USER_PASSWORD) });
  const ledger = new Ledger();
  /** @type {any[]} */
  const errors = [];
  let forced = 0;

  await runWorkerUntil({
    ledger,
    start: (signal) =>
      runConsumer({
        client,
        name: 'job-state-machine',
        topic: TOPIC,
        groupId: GROUP,
        start: 'earliest',
        batchSize: 5,
        partitions: [0, 1],
        retry: { maxAttempts: 3, initialBackoffMs: 5, maxBackoffMs: 20 },
        idleBackoff: { initialMs: 10, maxMs: 100 },
        stopSignal: signal,
        onError: (info) => errors.push(info),
        onChange: async (ctx, change) => {
          ledger.enter(ctx, change);
          try {
            const job = change.data;
            ledger.check(() => {
              assert.ok(change.op === TopicOp.Insert || change.op === TopicOp.Update, `unexpected op ${change.op}`);
              assert.equal(change.key, job.id);
              assert.ok(USERS.includes(change.user));
            });
            const rejectionId = `${job.id}@${change.partitionId}:${change.offset}`;
            const current = await ctx.queryOne('SELECT state, accepted, last_offset FROM ops.job_state WHERE job_id = $1', [job.id]);
            if (current && change.offset <= Number(current.last_offset)) return; // redelivery of an applied event
            if (await ctx.queryOne('SELECT rejection_id FROM ops.job_rejections WHERE rejection_id = $1', [rejectionId])) return; // redelivery of a rejected event
            const from = current ? String(current.state) : '';
            const to = String(job.state);
            if (!ALLOWED[from]?.includes(to)) {
              try {
                await ctx.sql('INSERT INTO ops.job_rejections (rejection_id, job_id, from_state, to_state, reason) VALUES ($1, $2, $3, $4, $5)', [
                  rejectionId,
                  job.id,
                  from,
                  to,
                  from === to ? 'repeated' : 'invalid transition',
                ]);
              } catch (e) {
                if (!isDuplicate(e)) throw e;
              }
              return;
            }
            if (current) {
              await ctx.sql('UPDATE ops.job_state SET state = $2, accepted = $3, last_offset = $4 WHERE job_id = $1 AND last_offset = $5', [
                job.id,
                to,
                Number(current.accepted) + 1,
                change.offset,
                Number(current.last_offset),
              ]);
            } else {
              await ctx.sql('INSERT INTO ops.job_state (job_id, owner, state, accepted, last_offset) VALUES ($1, $2, $3, 1, $4)', [job.id, change.user, to, change.offset]);
            }
            // Crash right after applying a running -> done move, once: the redelivery must be
            // recognised by its offset, not rejected as "done -> done".
            if (to === 'done' && ctx.attempt === 1) {
              forced++;
              throw new Error(`forced failure after applying ${job.id} -> done`);
            }
          } finally {
            ledger.leave();
          }
        },
      }),
    during: () =>
      pool(USERS, USERS.length, async (user) => {
        const mine = jobs.filter((j) => j.user === user);
        for (const j of mine) await users[user].sql('INSERT INTO ops.jobs (id, kind, state, note) VALUES ($1, $2, $3, $4)', [j.id, j.kind, j.states[0], 'created']);
        const longest = Math.max(...mine.map((j) => j.states.length));
        for (let step = 1; step < longest; step++) {
          for (const j of mine) {
            if (step >= j.states.length) continue;
            // Every UPDATE changes the note, so a repeated state still produces an event.
            const res = await users[user].sql('UPDATE ops.jobs SET state = $1, note = $2 WHERE id = $3', [j.states[step], `step ${step}`, j.id]);
            assert.equal(res.results[0].row_count, 1);
          }
        }
      }),
    until: async () => (await committedCount(root, TOPIC, GROUP)) >= totalEvents,
    describe: async () => `committed ${await committedCount(root, TOPIC, GROUP)} of ${totalEvents}; errors ${errors.map((e) => e.error?.message).join('; ')}`,
    timeoutMs: 60000,
  });

  const states = await root.allRows('SELECT job_id, owner, state, accepted FROM ops.job_state ORDER BY job_id');
  const expectedStates = jobs
    .map((j) => ({ job_id: j.id, owner: j.user, state: model(j.states).state, accepted: model(j.states).accepted }))
    .sort((a, b) => cmp(a.job_id, b.job_id));
  assert.deepEqual(
    states.map((s) => ({ ...s, accepted: Number(s.accepted) })),
    expectedStates,
    'each job ends in the state of its last legal transition, each legal event applied once',
  );

  const rejections = await root.allRows('SELECT job_id, from_state, to_state, reason FROM ops.job_rejections ORDER BY rejection_id');
  const key = (/** @type {any} */ r) => `${r.job_id}|${r.from_state}|${r.to_state}|${r.reason}`;
  const expectedRejections = jobs.flatMap((j) => model(j.states).rejected.map((r) => ({ job_id: j.id, from_state: r.from, to_state: r.to, reason: r.reason })));
  assert.deepEqual(rejections.map(key).sort(), expectedRejections.map(key).sort(), 'exactly the illegal events were rejected, each once');
  assert.ok(expectedRejections.some((r) => r.reason === 'repeated') && expectedRejections.some((r) => r.reason === 'invalid transition'));

  const doneMoves = jobs.reduce((n, j) => n + j.states.filter((s, i) => s === 'done' && model(j.states.slice(0, i + 1)).state === 'done' && model(j.states.slice(0, i)).state === 'running').length, 0);
  assert.equal(forced, doneMoves, 'every applied -> done event failed once after its write');
  assert.equal(ledger.calls.length, totalEvents + forced, 'each event handled once, plus its forced retry');
  assert.deepEqual(errors, []);
  await assertCommittedAtEnd(root, TOPIC, GROUP, ledger, totalEvents);
});
