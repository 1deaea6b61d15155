// Helpers for the trap tests (issue 11): a logger that keeps every line, a fetch that learns the
// tokens the server hands out, and one place that keeps everything a user could see (log lines,
// errors, onError infos) so the last test can check that none of it carries a secret.

import { inspect } from 'node:util';
import net from 'node:net';

/** Everything a user of the trap tests could read: log lines and rendered errors. */
export const shown = [];
/** Every secret used by the trap tests: passwords, tokens, Authorization header values. */
export const secrets = new Set();

/** Remembers a secret (and nothing shorter than 6 characters, which would match by chance). */
export function secret(value) {
  if (typeof value === 'string' && value.length >= 6) secrets.add(value);
  return value;
}

/** A `{ debug, info, warn, error }` logger that keeps its lines (and adds them to `shown`). */
export function collectingLogger() {
  const lines = [];
  const at = (level) => (message) => {
    lines.push({ level, message, at: Date.now() });
    shown.push(String(message));
  };
  return {
    logger: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') },
    lines,
    /** Messages matching `pattern` (optionally of one level). */
    matching(pattern, level) {
      return lines.filter((l) => (level === undefined || l.level === level) && pattern.test(l.message)).map((l) => l.message);
    },
    text() {
      return lines.map((l) => `${l.level}: ${l.message}`).join('\n');
    },
  };
}

/**
 * Keeps an error (or an onError info) as a user would see it: message, body, stack, every
 * cause, and util.inspect at depth 5. Returns the value, so it can wrap a rejection.
 */
export function keep(value) {
  shown.push(inspect(value, { depth: 5 }));
  const seen = new Set();
  for (let e = value?.error ?? value; e && typeof e === 'object' && !seen.has(e); e = e.cause) {
    seen.add(e);
    for (const field of ['message', 'body', 'stack']) if (e[field] !== undefined) shown.push(String(e[field]));
  }
  return value;
}

/**
 * A fetch for createConsumerClient({ fetch }) that records as secrets every Authorization
 * header it sends and every token a login or refresh answer carries.
 */
export function secretCatchingFetch(base = globalThis.fetch) {
  return async (input, init) => {
    const headers = new Headers(init?.headers ?? (input instanceof Request ? input.headers : undefined));
    const authorization = headers.get('authorization');
    if (authorization) {
      secret(authorization);
      secret(authorization.replace(/^\w+\s+/, ''));
    }
    const response = await base(input, init);
    const url = input instanceof Request ? input.url : String(input);
    if (/\/auth\/(login|refresh)$/.test(new URL(url).pathname)) {
      try {
        const body = await response.clone().json();
        secret(body.access_token);
        secret(body.refresh_token);
      } catch { /* not JSON: nothing to learn */ }
    }
    return response;
  };
}

/** A TCP port on 127.0.0.1 with nothing listening on it (a wrong port). */
export async function closedPort() {
  const server = net.createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}
