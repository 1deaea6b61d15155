// Shared helpers that use the built package (imported by its published name).

import { createConsumerClient, Auth } from '@kalamdb/consumer';

/** Fast per-message retry policy for tests (the defaults sleep 300 ms+). */
export const fastRetry = { maxAttempts: 3, initialBackoffMs: 5, maxBackoffMs: 20, multiplier: 2, jitterRatio: 0 };
/** Fast connection-retry policy for tests. */
export const fastConnectionRetry = { initialBackoffMs: 20, maxBackoffMs: 200, multiplier: 2 };
/** Short idle back-off so tests do not wait for empty polls. */
export const fastIdle = { initialMs: 5, maxMs: 50 };

/**
 * A consumer client for `server` logging in as `creds` ({ user, password }) with basic auth.
 * `extra` is merged into the createConsumerClient options (fetch, requestTimeoutMs, ...).
 */
export function clientFor(server, creds, extra = {}) {
  return createConsumerClient({
    url: server.url,
    authProvider: async () => Auth.basic(creds.user, creds.password),
    ...extra,
  });
}

/**
 * Common runConsumer options with fast policies. Tests spread their own over it. The test
 * topics have one partition and the workers are `service` accounts, which may not read
 * system.topics to learn the count, so partition 0 is named (tests of the default pass
 * `partitions: undefined`).
 */
export function fastRunOptions(overrides = {}) {
  return {
    start: 'earliest',
    partitions: [0],
    batchSize: 100,
    retry: fastRetry,
    connectionRetry: fastConnectionRetry,
    idleBackoff: fastIdle,
    drainTimeoutMs: 5000,
    ...overrides,
  };
}

/** Insert rows ([{ column: value }]) into `table`, optionally as another user (EXECUTE AS USER). */
export async function insertRows(server, table, rows, { asUser } = {}) {
  for (const row of rows) {
    const cols = Object.keys(row);
    const placeholders = cols.map((_, i) => `$${i + 1}`).join(', ');
    let sql = `INSERT INTO ${table} (${cols.join(', ')}) VALUES (${placeholders})`;
    if (asUser) sql = `EXECUTE AS USER '${asUser.replaceAll("'", "''")}' (${sql})`;
    await server.sql(sql, cols.map((c) => row[c]));
  }
}
