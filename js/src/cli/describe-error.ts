import { isKalamConsumerError } from '@kalamdb/consumer';
import { UsageError } from './usage.js';

// Turns whatever a command threw into one line a person can act on, and the exit code:
// 2 for usage errors, 1 for everything the server or the network said.

export interface Described {
  message: string;
  exitCode: 1 | 2;
}

/** Socket-level causes in words; Node's fetch hides them in `cause` (sometimes an AggregateError). */
const NETWORK_CAUSES: Record<string, string> = {
  ECONNREFUSED: 'connection refused (is the server running on that host and port?)',
  ECONNRESET: 'connection reset by the server',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host name lookup failed (temporary DNS failure)',
  ETIMEDOUT: 'connection timed out',
  UND_ERR_CONNECT_TIMEOUT: 'connection timed out',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  UND_ERR_SOCKET: 'the connection closed unexpectedly',
  EPROTO: 'TLS handshake failed (an https URL for an http server?)',
  ERR_SSL_WRONG_VERSION_NUMBER: 'TLS handshake failed (an https URL for an http server?)',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'the server\'s TLS certificate is self-signed',
  SELF_SIGNED_CERT_IN_CHAIN: 'the server\'s TLS certificate chain is self-signed',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'the server\'s TLS certificate cannot be verified',
  CERT_HAS_EXPIRED: 'the server\'s TLS certificate has expired',
  ERR_TLS_CERT_ALTNAME_INVALID: 'the server\'s TLS certificate is for another host name',
};

/** `url` is the server the command talked to, named in network errors. */
export function describeError(error: unknown, url: string): Described {
  if (error instanceof UsageError) return { message: error.message, exitCode: 2 };
  if (!isKalamConsumerError(error)) {
    return { message: `unexpected error: ${error instanceof Error ? error.message : String(error)}`, exitCode: 1 };
  }
  switch (error.code) {
    case 'INVALID_URL':
    case 'INVALID_OPTION':
      return { message: error.message, exitCode: 2 };
    case 'PARTITIONS_UNKNOWN':
      return {
        message: 'this account may not read system.topics (only dba and system may), so the partition count is unknown: pass --partitions or --partition-count',
        exitCode: 2,
      };
    case 'NETWORK_ERROR': {
      const cause = networkCause(error);
      return { message: `cannot reach ${url}: ${cause ?? error.message}`, exitCode: 1 };
    }
    case 'ABORTED':
    case 'TIMEOUT':
      return { message: `request to ${url} did not finish: ${error.message}`, exitCode: 1 };
    case 'unauthorized':
    case 'INVALID_CREDENTIALS':
    case 'MISSING_AUTHORIZATION':
    case 'account_locked':
    case 'TOKEN_EXPIRED':
    case 'INVALID_TOKEN':
      return { message: `authentication failed (${error.code}): ${error.message}`, exitCode: 1 };
    case 'FORBIDDEN':
    case 'PERMISSION_DENIED':
      return { message: `permission denied (${error.code}): ${error.message}; topics need role service, dba or system`, exitCode: 1 };
    case 'NOT_FOUND':
      return { message: error.message, exitCode: 1 };
    default: {
      const status = error.status ? `, HTTP ${error.status}` : '';
      return { message: `${error.message} (${error.code}${status})`, exitCode: 1 };
    }
  }
}

/**
 * The first socket error code along the `cause` chain, in words; without one, the innermost
 * cause's own message ("fetch failed" alone says nothing; its cause may say "bad port").
 */
function networkCause(error: unknown): string | undefined {
  const seen = new Set<unknown>();
  const queue: unknown[] = [error];
  let innermost: string | undefined;
  while (queue.length > 0) {
    const current = queue.shift();
    if (current === null || typeof current !== 'object' || seen.has(current)) continue;
    seen.add(current);
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && NETWORK_CAUSES[code] !== undefined) return NETWORK_CAUSES[code];
    if (current !== error && current instanceof Error && current.message) innermost = current.message;
    queue.push((current as { cause?: unknown }).cause);
    const inner = (current as { errors?: unknown }).errors;
    if (Array.isArray(inner)) queue.push(...inner);
  }
  return innermost;
}

/** Replaces every secret in `text` (a password or token echoed back by a server) with `***`. */
export function scrub(text: string, secrets: string[]): string {
  let out = text;
  for (const secret of secrets) {
    if (secret.length >= 3) out = out.split(secret).join('***');
  }
  return out;
}
