// @ts-check
// Scenario 10: support ticket assignment, round-robin, with executeAsUser.
//
// Customers open tickets (USER table, INSERT route, 2 partitions). The worker assigns each
// ticket to the next of three agents: it records the assignment in a SHARED table (sequence
// number = assignments so far), puts the ticket into the agent's own queue (a USER table,
// written with executeAsUser as the agent) and marks the customer's ticket (executeAsUser as
// the customer). A forced failure after the agent-queue write makes some tickets run twice; no
// ticket may be assigned or queued twice.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createConsumerClient, Auth, runConsumer } from '@kalamdb/consumer';
import {
  KeyedMutex,
  Ledger,
  USER_PASSWORD,
  assertCommittedAtEnd,
  cmp,
  committedCount,
  createUsers,
  isDuplicate,
  namedRows,
  pool,
  rootSession,
  runWorkerUntil,
  startServer,
} from './support.mjs';

const server = await startServer();
after(() => server.stop());

const TOPIC = 'helpdesk.ticket_events';
const GROUP = 'ticket-router';
const WORKER = 'ticket_router';
const CUSTOMERS = ['cust_amy', 'cust_bo', 'cust_cal', 'cust_dia', 'cust_ed'];
const AGENTS = ['agent_kim', 'agent_lee', 'agent_max'];
const PER_CUSTOMER = 6;

test('support ticket assignment: tickets from five customers are assigned round-robin to three agents, each exactly once (retries included), queued in the agent\'s own rows and marked on the customer\'s ticket with executeAsUser', async () => {
  const root = await rootSession(server);
  await root.sql('CREATE NAMESPACE IF NOT EXISTS helpdesk');
  await root.sql('CREATE USER TABLE helpdesk.tickets (id TEXT PRIMARY KEY, subject TEXT NOT NULL, priority TEXT NOT NULL, assigned_agent TEXT)');
  await root.sql('CREATE USER TABLE helpdesk.agent_queue (ticket_id TEXT PRIMARY KEY, customer TEXT NOT NULL, subject TEXT NOT NULL, seq INT NOT NULL)');
  await root.sql('CREATE SHARED TABLE helpdesk.assignments (ticket_id TEXT PRIMARY KEY, customer TEXT NOT NULL, agent TEXT NOT NULL, seq INT NOT NULL)');
  await root.sql(`CREATE TOPIC ${TOPIC} PARTITIONS 2`);
  await root.sql(`ALTER TOPIC ${TOPIC} ADD SOURCE helpdesk.tickets ON INSERT`);
  const customers = await createUsers(root, server.url, CUSTOMERS, 'user');
  const agents = await createUsers(root, server.url, AGENTS, 'user');
  await createUsers(root, server.url, [WORKER], 'service');
  const total = CUSTOMERS.length * PER_CUSTOMER;

  const client = createConsumerClient({ url: server.url, authProvider: async () => Auth.basic(WORKER, USER_PASSWORD) });
  const ledger = new Ledger();
  const assignLock = new KeyedMutex();
  /** @type {any[]} */
  const errors = [];
  let forced = 0;
  /** @type {string[]} */
  const asUserMismatches = [];

  /** executeAsUser and check the statement ran as that user. @param {string} sql @param {string} user @param {unknown[]} params */
  async function asUser(sql, user, params) {
    const res = await client.executeAsUser(sql, user, params);
    const ran = res?.results?.[0]?.as_user;
    if (ran !== user) asUserMismatches.push(`${user} -> ${ran}`);
    return res;
  }

  await runWorkerUntil({
    ledger,
    start: (signal) =>
      runConsumer({
        client,
        name: 'ticket-router',
        topic: TOPIC,
        groupId: GROUP,
        start: 'earliest',
        batchSize: 4,
        partitions: [0, 1],
        retry: { maxAttempts: 3, initialBackoffMs: 5, maxBackoffMs: 20 },
        idleBackoff: { initialMs: 10, maxMs: 100 },
        stopSignal: signal,
        onError: (info) => errors.push(info),
        onChange: async (ctx, change) => {
          ledger.enter(ctx, change);
          try {
            const ticket = change.data;
            const customer = change.user;
            ledger.check(() => assert.ok(CUSTOMERS.includes(customer), `user is the customer, got ${customer}`));
            // 1. The assignment: one per ticket, the next agent in turn (serialised in this worker).
            const assignment = await assignLock.run('assignments', async () => {
              const existing = await ctx.queryOne('SELECT agent, seq FROM helpdesk.assignments WHERE ticket_id = $1', [ticket.id]);
              if (existing) return { agent: String(existing.agent), seq: Number(existing.seq) };
              const counted = await ctx.queryOne('SELECT COUNT(*) AS n FROM helpdesk.assignments');
              const seq = Number(counted?.n ?? 0);
              const agent = AGENTS[seq % AGENTS.length];
              await ctx.sql('INSERT INTO helpdesk.assignments (ticket_id, customer, agent, seq) VALUES ($1, $2, $3, $4)', [ticket.id, customer, agent, seq]);
              return { agent, seq };
            });
            // 2. The agent's own queue (USER table of the agent).
            const queued = await asUser('SELECT ticket_id FROM helpdesk.agent_queue WHERE ticket_id = $1', assignment.agent, [ticket.id]);
            if (namedRows(queued?.results?.[0]).length === 0) {
              try {
                await asUser('INSERT INTO helpdesk.agent_queue (ticket_id, customer, subject, seq) VALUES ($1, $2, $3, $4)', assignment.agent, [
                  ticket.id,
                  customer,
                  ticket.subject,
                  assignment.seq,
                ]);
              } catch (e) {
                if (!isDuplicate(e)) throw e;
              }
            }
            if (Number(ticket.id.split('-').pop()) % 4 === 1 && ctx.attempt === 1) {
              forced++;
              throw new Error(`forced failure after queueing ${ticket.id}`);
            }
            // 3. The customer's ticket shows who has it (no UPDATE route, so no new event).
            await asUser('UPDATE helpdesk.tickets SET assigned_agent = $1 WHERE id = $2', customer, [assignment.agent, ticket.id]);
          } finally {
            ledger.leave();
          }
        },
      }),
    during: () =>
      pool(CUSTOMERS, CUSTOMERS.length, async (c) => {
        for (let i = 0; i < PER_CUSTOMER; i++) {
          await customers[c].sql('INSERT INTO helpdesk.tickets (id, subject, priority) VALUES ($1, $2, $3)', [`tkt-${c}-${i}`, `${c} problem ${i}`, i % 3 === 0 ? 'high' : 'normal']);
        }
      }),
    until: async () => (await committedCount(root, TOPIC, GROUP)) >= total,
    describe: async () => `committed ${await committedCount(root, TOPIC, GROUP)} of ${total}; errors ${errors.map((e) => e.error?.message).join('; ')}`,
    timeoutMs: 60000,
  });

  const allTickets = CUSTOMERS.flatMap((c) => Array.from({ length: PER_CUSTOMER }, (_, i) => ({ id: `tkt-${c}-${i}`, customer: c, subject: `${c} problem ${i}` })));

  // Assignments: every ticket once, sequence numbers 0..n-1, agent = AGENTS[seq % 3].
  const assignments = await root.allRows('SELECT ticket_id, customer, agent, seq FROM helpdesk.assignments ORDER BY ticket_id');
  assert.deepEqual(
    assignments.map((a) => a.ticket_id),
    allTickets.map((t) => t.id).sort(cmp),
    'every ticket is assigned exactly once',
  );
  const seqs = assignments.map((a) => Number(a.seq)).sort((x, y) => x - y);
  assert.deepEqual(seqs, Array.from({ length: total }, (_, i) => i), 'assignment sequence numbers are gapless and unique');
  for (const a of assignments) {
    assert.equal(a.agent, AGENTS[Number(a.seq) % AGENTS.length], `${a.ticket_id}: round-robin agent for seq ${a.seq}`);
    assert.equal(a.customer, allTickets.find((t) => t.id === a.ticket_id)?.customer);
  }
  /** @type {Record<string, number>} */
  const load = {};
  for (const a of assignments) load[a.agent] = (load[a.agent] ?? 0) + 1;
  assert.deepEqual(load, Object.fromEntries(AGENTS.map((a) => [a, total / AGENTS.length])), 'the load is spread evenly');

  // Each agent sees exactly its tickets in its own queue; nobody else's rows.
  for (const agent of AGENTS) {
    const queue = await agents[agent].allRows('SELECT ticket_id, customer, subject, seq FROM helpdesk.agent_queue ORDER BY ticket_id');
    const mine = assignments.filter((a) => a.agent === agent);
    assert.deepEqual(
      queue.map((q) => ({ ticket_id: q.ticket_id, customer: q.customer, seq: Number(q.seq), subject: q.subject })),
      mine.map((a) => ({ ticket_id: a.ticket_id, customer: a.customer, seq: Number(a.seq), subject: allTickets.find((t) => t.id === a.ticket_id)?.subject })),
      `${agent}'s queue holds exactly its assigned tickets, once each`,
    );
    assert.deepEqual(await agents[agent].rows('SELECT id FROM helpdesk.tickets'), [], `${agent} cannot see customers' tickets`);
  }
  // Each customer's tickets name the assigned agent.
  for (const c of CUSTOMERS) {
    const rows = await customers[c].allRows('SELECT id, assigned_agent FROM helpdesk.tickets ORDER BY id');
    assert.deepEqual(
      rows,
      assignments.filter((a) => a.customer === c).map((a) => ({ id: a.ticket_id, assigned_agent: a.agent })),
      `${c}'s tickets carry their assigned agent`,
    );
  }
  assert.deepEqual(asUserMismatches, [], 'executeAsUser statements ran as the target user (as_user)');
  assert.ok(forced > 0);
  assert.equal(ledger.calls.length, total + forced, 'each ticket handled once plus its forced retry');
  assert.deepEqual(errors, []);
  await assertCommittedAtEnd(root, TOPIC, GROUP, ledger, total);
});
