import { redactSecrets } from './redact.js';

// Why a request failed, in a few words a person can act on (issue 11 item 2): "connection
// refused (127.0.0.1:1)", "host not found (db.internal)", "HTTP 401 (TOKEN_EXPIRED)". fetch
// hides the reason: Node's undici rejects with `TypeError: fetch failed` and puts the system
// error (its `code` is ECONNREFUSED) in `cause`, and this package wraps that once or twice more,
// so the words are found by walking the `cause` chain. Duck-typed on purpose: errors.ts uses
// it, so it must not import errors.ts.

/** Node system and undici error codes, and what they mean to someone running a worker. */
const CODE_WORDS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host not found (DNS lookup failed, temporarily)',
  EAI_NONAME: 'host not found',
  ECONNRESET: 'connection reset',
  EPIPE: 'connection closed while sending',
  ECONNABORTED: 'connection aborted',
  ETIMEDOUT: 'connection timed out',
  EHOSTUNREACH: 'host unreachable',
  EHOSTDOWN: 'host down',
  ENETUNREACH: 'network unreachable',
  ENETDOWN: 'network down',
  EADDRNOTAVAIL: 'address not available',
  UND_ERR_CONNECT_TIMEOUT: 'connection timed out',
  UND_ERR_HEADERS_TIMEOUT: 'timed out waiting for the response',
  UND_ERR_BODY_TIMEOUT: 'timed out reading the response',
  UND_ERR_SOCKET: 'connection closed by the server',
  UND_ERR_CLOSED: 'connection closed',
  EPROTO: 'TLS error',
};

/** Codes of certificate and handshake failures (Node's TLS layer and OpenSSL). */
const TLS_CODE = /^(ERR_TLS_|ERR_SSL_|CERT_|UNABLE_TO_|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT|ERR_OSSL_)/;

/** How far down the cause chain to look; real chains are four or five links deep. */
const MAX_DEPTH = 8;
const MAX_FALLBACK_LENGTH = 200;

/**
 * Reasons this package already knows in words, keyed by the error it created: a deadline it
 * set itself ("timed out after 30000 ms") is not visible in the AbortError it causes.
 */
const known = new WeakMap<object, string>();

/** Records the words `describeFailure` gives for `error`; returns `error`. */
export function withReason<E extends object>(error: E, words: string): E {
  known.set(error, words);
  return error;
}

type Fields = {
  name?: unknown;
  message?: unknown;
  code?: unknown;
  status?: unknown;
  cause?: unknown;
  errors?: unknown;
  address?: unknown;
  port?: unknown;
  hostname?: unknown;
};

function fieldsOf(value: unknown): Fields | undefined {
  return typeof value === 'object' && value !== null ? (value as Fields) : undefined;
}

/** The error and its causes, outermost first; an AggregateError contributes its first error. */
function chainOf(error: unknown): Fields[] {
  const chain: Fields[] = [];
  const seen = new Set<unknown>();
  let current: unknown = error;
  while (chain.length < MAX_DEPTH && fieldsOf(current) && !seen.has(current)) {
    seen.add(current);
    const fields = fieldsOf(current) as Fields;
    chain.push(fields);
    // Node tries every address of a name (::1, then 127.0.0.1) and reports them together.
    const first = Array.isArray(fields.errors) ? fields.errors[0] : undefined;
    current = fields.cause ?? first;
  }
  return chain;
}

function where(fields: Fields): string {
  if (typeof fields.hostname === 'string' && fields.hostname !== '') return ` (${fields.hostname})`;
  if (typeof fields.address !== 'string' || fields.address === '') return '';
  const host = fields.address.includes(':') ? `[${fields.address}]` : fields.address;
  return typeof fields.port === 'number' ? ` (${host}:${fields.port})` : ` (${host})`;
}

function httpWords(fields: Fields): string | undefined {
  if (typeof fields.status !== 'number' || fields.status <= 0) return undefined;
  const code = typeof fields.code === 'string' && fields.code !== 'HTTP_ERROR' ? fields.code : undefined;
  if (code === 'INVALID_RESPONSE') return `invalid response (HTTP ${fields.status})`;
  return code ? `HTTP ${fields.status} (${code})` : `HTTP ${fields.status}`;
}

function codeWords(fields: Fields): string | undefined {
  if (typeof fields.code !== 'string') return undefined;
  const words = CODE_WORDS[fields.code];
  if (words) return `${words}${where(fields)}`;
  if (TLS_CODE.test(fields.code)) return `TLS error (${fields.code})`;
  return undefined;
}

function abortWords(fields: Fields): string | undefined {
  if (fields.name === 'TimeoutError' || fields.code === 'TIMEOUT') return 'timed out';
  if (fields.name === 'AbortError' || fields.code === 'ABORTED') return 'aborted';
  return undefined;
}

/**
 * Why `error` happened, in a few words: "connection refused (127.0.0.1:1)", "host not found
 * (db.invalid)", "connection reset", "timed out after 30000 ms", "HTTP 502",
 * "HTTP 401 (TOKEN_EXPIRED)", "TLS error (CERT_HAS_EXPIRED)", ... It looks down the `cause`
 * chain (and into AggregateErrors), preferring, in order: words this package recorded, an
 * HTTP status, a system error code, a timeout or abort; otherwise the innermost message
 * (secrets redacted, at most 200 characters). Never throws.
 */
export function describeFailure(error: unknown): string {
  try {
    const chain = chainOf(error);
    for (const fields of chain) {
      const words = known.get(fields);
      if (words) return words;
    }
    for (const pick of [httpWords, codeWords, abortWords]) {
      for (const fields of chain) {
        const words = pick(fields);
        if (words) return words;
      }
    }
    const innermost = chain.length > 0 ? chain[chain.length - 1] : undefined;
    const message = innermost && typeof innermost.message === 'string' ? innermost.message : String(error);
    const text = redactSecrets(message).trim();
    return text.length > MAX_FALLBACK_LENGTH ? `${text.slice(0, MAX_FALLBACK_LENGTH)}...` : text || 'unknown error';
  } catch {
    return 'unknown error';
  }
}
