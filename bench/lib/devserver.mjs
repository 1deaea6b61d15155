// Starts `kalam-devserver` on a free loopback port in a fresh data dir, and talks to it the way
// an admin script would (login, SQL over HTTP). Built with cargo when the binary is missing.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { ROOT } from './pkg.mjs';

const BIN = path.join(ROOT, 'target', 'release', 'kalam-devserver');
export const ROOT_PASSWORD = 'bench-root-pass';

// `args`: extra server flags (the fleet figures pass --visibility-timeout-secs).
export async function startDevServer({ log, args = [] }) {
  if (!existsSync(BIN)) {
    log('kalam-devserver not built: cargo build --release -p kalam-devserver');
    const r = spawnSync('cargo', ['build', '--release', '-p', 'kalam-devserver'], { cwd: ROOT, stdio: 'inherit' });
    if (r.status !== 0) throw new Error('cargo build --release -p kalam-devserver failed');
  }
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'kalam-bench-'));
  const child = spawn(BIN, ['--port', '0', '--data-dir', dataDir, '--root-password', ROOT_PASSWORD,
    '--auth-rate-limit', '0', '--bcrypt-cost', '4', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr = (stderr + d).slice(-4000); });
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`kalam-devserver did not start in 20 s\n${stderr}`)), 20000);
    const lines = readline.createInterface({ input: child.stdout });
    lines.once('line', (line) => {
      clearTimeout(timer);
      const m = /listening on (http:\/\/\S+)/.exec(line);
      if (m) resolve(m[1].replace(/\/$/, '')); else reject(new Error(`unexpected first line: ${line}`));
    });
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`kalam-devserver exited (${code})\n${stderr}`)); });
  });
  child.stdout.resume();
  const stop = async () => {
    if (child.exitCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
      if (child.exitCode === null) child.kill('SIGKILL');
    }
    rmSync(dataDir, { recursive: true, force: true });
  };
  return { url, pid: child.pid, stop };
}

export async function login(url, user, password) {
  const res = await fetch(`${url}/v1/api/auth/login`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user, password }),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`login ${user}: HTTP ${res.status} ${text}`);
  return JSON.parse(text).access_token;
}

// An admin SQL session (root). `sql(text, params)` throws on any error envelope.
export async function adminSession(url) {
  const token = await login(url, 'root', ROOT_PASSWORD);
  const sql = async (text, params) => {
    const res = await fetch(`${url}/v1/api/sql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify(params ? { sql: text, params } : { sql: text }),
    });
    const body = await res.text();
    let parsed;
    try { parsed = JSON.parse(body); } catch { parsed = undefined; }
    if (!res.ok || parsed?.status !== 'success') {
      throw new Error(`SQL failed (HTTP ${res.status}): ${text.slice(0, 200)}\n${body.slice(0, 500)}`);
    }
    return parsed;
  };
  return { token, sql };
}

// A service-role worker account for the consumers under test.
export const WORKER = { user: 'bench_worker', password: 'bench-worker-pass' };

export async function createWorker(admin) {
  await admin.sql(`CREATE USER ${WORKER.user} WITH PASSWORD '${WORKER.password}' ROLE service`);
}
