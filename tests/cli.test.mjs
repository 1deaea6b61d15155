// The command line (dist/cli.js, the package's bin), run as a child process against
// kalam-devserver: output of tail, peek, lag and ack, exit codes (2 usage, 1 server or
// connection), confirmation of ack, the progress line on a terminal, secrets never printed.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { committedOffsets, createServiceUser, repoRoot, setupTopic, startDevServer, uniqueName, useDevServer, waitFor } from './support/devserver.mjs';
import { clientFor, insertRows } from './support/consumer.mjs';

const CLI = join(repoRoot, 'dist', 'cli.js');
if (!existsSync(CLI)) throw new Error('dist/cli.js is missing: run node scripts/build.mjs first');

const server = await useDevServer();
const worker = await createServiceUser(server);
const admin = await createServiceUser(server, { role: 'dba' });

/**
 * Starts the CLI; `env` replaces KALAMDB_* of this process (none leak in from the caller's
 * shell). Resolves `done` to { code, stdout, stderr } when it exits.
 */
function start(args, { env = {}, stdin = 'ignore' } = {}) {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('KALAMDB_')));
  const child = spawn(process.execPath, [CLI, ...args], { env: { ...clean, ...env }, stdio: [stdin, 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => { stdout += chunk; });
  child.stderr.on('data', (chunk) => { stderr += chunk; });
  const done = new Promise((resolve) => child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr })));
  return { child, done, out: () => stdout, err: () => stderr };
}

const run = (args, options) => start(args, options).done;

/** Connection flags for an account. */
const as = (creds) => ['--url', server.url, '--user', creds.user, '--password', creds.password];

const jsonLines = (text) => text.split('\n').filter(Boolean).map((line) => JSON.parse(line));

async function topicWith(n, options) {
  const t = await setupTopic(server, options);
  await insertRows(server, t.table, Array.from({ length: n }, (_, i) => ({ id: i + 1, body: `m${i}` })));
  return t;
}

/** A port nothing listens on: bind one, note it, release it. */
function closedPort() {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

describe('kalam-consumer', { concurrency: true }, () => {
  test('is the package bin, with a shebang, executable', () => {
    const pkg = JSON.parse(readFileSync(join(repoRoot, 'dist', 'package.json'), 'utf8'));
    assert.deepEqual(pkg.bin, { 'kalam-consumer': './cli.js' });
    assert.match(readFileSync(CLI, 'utf8'), /^#!\/usr\/bin\/env node\n/);
    assert.ok((statSync(CLI).mode & 0o111) !== 0, 'dist/cli.js is executable');
  });

  test('--help lists the commands; each command has its own --help', async () => {
    const main = await run(['--help']);
    assert.equal(main.code, 0);
    for (const name of ['tail', 'peek', 'lag', 'ack', 'KALAMDB_URL', 'KALAMDB_TOKEN']) assert.match(main.stdout, new RegExp(name));
    const tail = await run(['tail', '--help']);
    assert.equal(tail.code, 0);
    assert.match(tail.stdout, /usage: kalam-consumer tail <topic>/);
    assert.match(tail.stdout, /--limit N/);
    const ack = await run(['help', 'ack']);
    assert.match(ack.stdout, /--yes/);
    assert.equal((await run([])).code, 0, 'no arguments print the help');
  });

  test('usage errors exit 2 with a message and a hint, before any request', async () => {
    const cases = [
      [['frobnicate'], /unknown command "frobnicate"/],
      [['peek'], /peek needs a topic/],
      [['peek', 'a.b', 'c.d', ...as(worker)], /takes one topic/],
      [['peek', 'a.b', '--bogus', ...as(worker)], /Unknown option '--bogus'/],
      [['peek', 'a.b', '--limit', 'ten', ...as(worker)], /--limit must be a whole number >= 0, got "ten"/],
      [['peek', 'a.b', '--limit', '0', ...as(worker)], /--limit must be at least 1/],
      [['peek', 'a.b', '--from', 'middle', ...as(worker)], /--from must be earliest, latest or an offset/],
      [['peek', 'a.b', '--limit', ...as(worker)], /--limit/],
      [['lag', 'a.b', ...as(worker)], /lag needs --group/],
      [['lag', 'a.b', '--group', 'g', '--partitions', '0,,1', ...as(worker)], /--partitions takes partition numbers/],
      [['lag', 'a.b', '--group', 'g', '--partitions', '0', '--partition-count', '2', ...as(worker)], /only one of/],
      [['ack', 'a.b', '--group', 'g', '--partition', '0', ...as(worker)], /ack needs --offset/],
      [['ack', 'a.b', '--group', 'g', '--partition', '0', '--offset', '-1', ...as(worker)], /--offset/],
      [['peek', 'a.b'], /no credentials/],
      [['peek', 'a.b', '--user', 'u'], /no password for user u/],
      [['peek', 'a.b', '--user', 'u', '--password', 'p', '--token', 't'], /not both/],
      [['peek', 'a.b', '--url', 'ftp://host', '--token', 't'], /--url must start with http/],
      [['peek', 'a.b', '--url', 'http://u:pw@host', '--token', 't'], /must not hold credentials/],
    ];
    await Promise.all(cases.map(async ([args, pattern]) => {
      const result = await run(args);
      assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
      assert.match(result.stderr, pattern, args.join(' '));
      assert.match(result.stderr, /Run 'kalam-consumer .*--help' for usage/);
      assert.equal(result.stdout, '');
    }));
  });

  test('a refused connection exits 1 with "connection refused", never printing the password', async () => {
    const url = `http://127.0.0.1:${await closedPort()}`;
    const secret = 'pw-that-must-not-show';
    const result = await run(['peek', 'a.b', '--url', url, '--user', 'u', '--password', secret]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, new RegExp(`cannot reach ${url}: connection refused`));
    assert.ok(!result.stderr.includes(secret));
    const token = await run(['lag', 'a.b', '--group', 'g', '--partitions', '0'], { env: { KALAMDB_URL: url, KALAMDB_TOKEN: 'token-that-must-not-show' } });
    assert.equal(token.code, 1);
    assert.match(token.stderr, /connection refused/);
    assert.ok(!token.stderr.includes('token-that-must-not-show'));
  });

  test('server errors exit 1 in words: wrong password, missing topic, a role that may not consume', async () => {
    const t = await topicWith(1);
    const wrong = await run(['peek', t.topic, '--url', server.url, '--user', worker.user, '--password', 'wrong-password']);
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /authentication failed/);
    assert.ok(!wrong.stderr.includes('wrong-password'));
    const missing = await run(['peek', `${t.topic}_nope`, ...as(worker)]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /does not exist/);
    const plain = await createServiceUser(server, { role: 'user' });
    const forbidden = await run(['peek', t.topic, ...as(plain)]);
    assert.equal(forbidden.code, 1);
    assert.match(forbidden.stderr, /permission denied/);
  });

  test('peek prints stored messages as JSON lines from earliest, an offset, or the newest N, and commits nothing', async () => {
    const t = await topicWith(5);
    const first = await run(['peek', t.topic, '--limit', '3', ...as(worker)]);
    assert.equal(first.code, 0, first.stderr);
    const lines = jsonLines(first.stdout);
    assert.deepEqual(lines.map((m) => m.offset), [0, 1, 2]);
    assert.equal(lines[0].payload.body, 'm0');
    assert.equal(lines[0].topic, t.topic);
    assert.equal(lines[0].partition_id, 0);
    assert.equal(lines[0].op, 'Insert');
    assert.equal(lines[0].user, 'root');
    assert.ok(!('group_id' in lines[0]) && !('value' in lines[0]));

    const fromOffset = await run(['peek', t.topic, '--from', '3', '--limit', '10', ...as(worker)]);
    assert.deepEqual(jsonLines(fromOffset.stdout).map((m) => m.offset), [3, 4], 'stops at the end of the partition');
    for (const creds of [worker, admin]) {
      const newest = await run(['peek', t.topic, '--from', 'latest', '--limit', '2', ...as(creds)]);
      assert.deepEqual(jsonLines(newest.stdout).map((m) => m.offset), [3, 4], `newest two as ${creds.role}`);
    }
    assert.deepEqual(await server.rows('SELECT group_id FROM system.topic_offsets WHERE topic_id = $1 LIMIT 100', [t.topic]), []);
  });

  test('peek takes its credentials from KALAMDB_* and a token from --token', async () => {
    const t = await topicWith(2);
    const byEnv = await run(['peek', t.topic], { env: { KALAMDB_URL: server.url, KALAMDB_USER: worker.user, KALAMDB_PASSWORD: worker.password } });
    assert.equal(byEnv.code, 0, byEnv.stderr);
    assert.equal(jsonLines(byEnv.stdout).length, 2);
    const { access_token: token } = await server.login(worker.user, worker.password);
    const byToken = await run(['peek', t.topic, '--url', server.url, '--token', token]);
    assert.equal(byToken.code, 0, byToken.stderr);
    assert.equal(jsonLines(byToken.stdout).length, 2);
  });

  test('tail follows only new messages, exits after --limit, and commits nothing', async () => {
    const t = await topicWith(3);
    const tail = start(['tail', t.topic, '--limit', '2', '--partition', '0', ...as(worker)]);
    await waitFor(() => tail.err().includes(`following ${t.topic} partition 0 from offset 3`), { message: 'tail to start' });
    await insertRows(server, t.table, [10, 11, 12].map((id) => ({ id, body: `new${id}` })));
    const result = await tail.done;
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(jsonLines(result.stdout).map((m) => [m.offset, m.payload.body]), [[3, 'new10'], [4, 'new11']]);
    assert.deepEqual(await server.rows('SELECT group_id FROM system.topic_offsets WHERE topic_id = $1 LIMIT 100', [t.topic]), []);
  });

  test('tail prints each message once although its unacked claims expire and come back', async (t) => {
    // docs/PROTOCOL.md §3.4: an unacked claim expires after the visibility timeout (1 s here)
    // and its messages are delivered to the group again.
    const own = await startDevServer({ args: ['--visibility-timeout-secs', '1'] });
    t.after(() => own.stop({ removeData: true }));
    const creds = await createServiceUser(own);
    const topic = await setupTopic(own);
    const tail = start(['tail', topic.topic, '--limit', '4', '--partition', '0', '--url', own.url, '--user', creds.user, '--password', creds.password]);
    await waitFor(() => tail.err().includes(' from offset '), { message: 'tail to start' });
    await insertRows(own, topic.table, [{ id: 1, body: 'a' }, { id: 2, body: 'b' }]);
    await waitFor(() => jsonLines(tail.out()).length === 2, { message: 'the first two' });
    await new Promise((resolve) => setTimeout(resolve, 2500));
    await insertRows(own, topic.table, [{ id: 3, body: 'c' }, { id: 4, body: 'd' }]);
    const result = await tail.done;
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(jsonLines(result.stdout).map((m) => m.offset), [0, 1, 2, 3]);
  });

  test('tail stops cleanly on Ctrl-C (SIGINT) with exit code 0', async () => {
    const t = await topicWith(0);
    const tail = start(['tail', t.topic, ...as(worker)]);
    await waitFor(() => tail.err().includes(' from offset '), { message: 'tail to start' });
    await insertRows(server, t.table, [{ id: 1, body: 'one' }]);
    await waitFor(() => tail.out().includes('"one"'), { message: 'the message' });
    tail.child.kill('SIGINT');
    const result = await tail.done;
    assert.equal(result.code, 0);
    assert.equal(jsonLines(result.stdout).length, 1);
  });

  test('tail follows every partition a dba finds in system.topics; a service account gets partition 0 and a note', async () => {
    const t = await setupTopic(server, { kind: 'shared', columns: 'id TEXT PRIMARY KEY, body TEXT', partitions: 2 });
    const tail = start(['tail', t.topic, '--limit', '8', ...as(admin)]);
    await waitFor(() => (tail.err().match(/ from offset /g) ?? []).length === 2, { message: 'both partitions to start' });
    await insertRows(server, t.table, ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'].map((id) => ({ id, body: id })));
    const result = await tail.done;
    assert.equal(result.code, 0, result.stderr);
    const seen = jsonLines(result.stdout);
    assert.deepEqual(seen.filter((m) => m.partition_id === 0).map((m) => m.key).sort(), ['b', 'c', 'e', 'g']);
    assert.deepEqual(seen.filter((m) => m.partition_id === 1).map((m) => m.key).sort(), ['a', 'd', 'f', 'h']);

    const service = start(['tail', t.topic, ...as(worker)]);
    await waitFor(() => service.err().includes(' from offset '), { message: 'tail to start' });
    assert.match(service.err(), /may not read system\.topics.*following partition 0 only/);
    service.child.kill('SIGINT');
    assert.equal((await service.done).code, 0);
  });

  test('lag prints a table per partition for a service account (with --partitions) and a dba', async () => {
    const t = await setupTopic(server, { kind: 'shared', columns: 'id TEXT PRIMARY KEY, body TEXT', partitions: 2 });
    await insertRows(server, t.table, ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'].map((id) => ({ id, body: id })));
    const group = uniqueName('g');
    await clientFor(server, worker).ack(t.topic, group, 0, 1);
    const table = (text) => text.trim().split('\n').slice(1).map((line) => line.trim().split(/\s+/));
    const expected = [['PARTITION', 'COMMITTED', 'NEWEST', 'LAG'], ['0', '1', '3', '2'], ['1', '-', '3', '4'], ['total', '6']];

    const service = await run(['lag', t.topic, '--group', group, '--partitions', '0,1', ...as(worker)]);
    assert.equal(service.code, 0, service.stderr);
    assert.deepEqual(table(service.stdout), expected);
    assert.match(service.stdout, /probed by consumes with limit 0/);

    const dba = await run(['lag', t.topic, '--group', group, ...as(admin)]);
    assert.equal(dba.code, 0, dba.stderr);
    assert.deepEqual(table(dba.stdout), expected);
    assert.match(dba.stdout, /from system\.topic_offsets/);

    const json = await run(['lag', t.topic, '--group', group, '--json', '--partition-count', '2', ...as(worker)]);
    assert.equal(JSON.parse(json.stdout).totalLag, 6);

    const noPartitions = await run(['lag', t.topic, '--group', group, ...as(worker)]);
    assert.equal(noPartitions.code, 2);
    assert.match(noPartitions.stderr, /pass --partitions or --partition-count/);
  });

  test('ack with --yes commits the offset; without --yes and no terminal it refuses (exit 2) and commits nothing', async () => {
    const t = await topicWith(5);
    const group = uniqueName('g');
    const refused = await run(['ack', t.topic, '--group', group, '--partition', '0', '--offset', '2', ...as(worker)], { stdin: 'pipe' });
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /refusing to ack without confirmation: stdin is not a terminal \(pass --yes/);
    assert.deepEqual(await committedOffsets(server, t.topic, group), {});

    const acked = await run(['ack', t.topic, '--group', group, '--partition', '0', '--offset', '2', '--yes', ...as(worker)]);
    assert.equal(acked.code, 0, acked.stderr);
    assert.equal(acked.stdout.trim(), `acked ${t.topic} group ${group} partition 0 up to offset 2`);
    assert.deepEqual(await committedOffsets(server, t.topic, group), { 0: 2 });

    const lower = await run(['ack', t.topic, '--group', group, '--partition', '0', '--offset', '1', '-y', ...as(admin)]);
    assert.equal(lower.code, 0);
    assert.match(lower.stderr, /stays at 2: committed offsets never move back/);
    assert.deepEqual(await committedOffsets(server, t.topic, group), { 0: 2 });
  });

  test('on a terminal, ack asks first: "n" commits nothing (exit 1), "y" commits', async () => {
    const t = await topicWith(5);
    const group = uniqueName('g');
    const ask = async (answer) => {
      const session = inTerminal(['ack', t.topic, '--group', group, '--partition', '0', '--offset', '3', ...as(admin)]);
      await waitFor(() => session.out().includes('[y/N]'), { message: 'the question' });
      session.child.stdin.write(`${answer}\n`);
      return session.done;
    };
    const no = await ask('n');
    assert.equal(no.code, 1, no.stdout);
    assert.match(no.stdout, /committed offset now none/);
    assert.match(no.stdout, /Not acked/);
    assert.deepEqual(await committedOffsets(server, t.topic, group), {});
    const yes = await ask('y');
    assert.equal(yes.code, 0, yes.stdout);
    assert.deepEqual(await committedOffsets(server, t.topic, group), { 0: 3 });
  });

  test('a progress line shows on a terminal during a long tail, and never in a pipe', async () => {
    const t = await topicWith(0);
    const args = ['tail', t.topic, '--limit', '1', ...as(worker)];
    const session = inTerminal(args);
    await waitFor(() => /following .*: 0 messages, waiting for more/.test(session.out()), { timeoutMs: 10_000, message: 'the progress line' });
    await insertRows(server, t.table, [{ id: 1, body: 'one' }]);
    const result = await session.done;
    assert.equal(result.code, 0);
    assert.match(result.stdout, /\r\x1b\[2K/, 'the line is redrawn in place');
    assert.match(result.stdout, /"body":"one"/);

    const piped = start(args);
    await waitFor(() => piped.err().includes(' from offset '), { message: 'tail to start' });
    await new Promise((resolve) => setTimeout(resolve, 1500));
    await insertRows(server, t.table, [{ id: 2, body: 'two' }]);
    const quiet = await piped.done;
    assert.ok(!quiet.stderr.includes('waiting for'), quiet.stderr);
  });
});

/**
 * Runs the CLI with a pseudo-terminal as stdin, stdout and stderr (util-linux `script`), so
 * it sees a TTY; everything it prints comes back merged as `stdout`.
 */
function inTerminal(args) {
  const command = [process.execPath, CLI, ...args].map((arg) => `'${arg.replaceAll("'", "'\\''")}'`).join(' ');
  const child = spawn('script', ['-qefc', command, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  child.stdout.on('data', (chunk) => { stdout += chunk; });
  child.stderr.on('data', (chunk) => { stdout += chunk; });
  const done = new Promise((resolve) => child.once('close', (code) => resolve({ code, stdout })));
  return { child, done, out: () => stdout };
}
