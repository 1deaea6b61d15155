// Loud but never leaking (issue 11 item 12): no error message, error body, cause or log line
// may carry a password, an access or refresh token, or an Authorization header. Two nets:
// patterns that catch secrets by shape (Bearer headers, JWTs, JSON credential fields, URL
// user info), and the exact secrets this process has handed to a server, which catch a
// password or an opaque token whatever text it ends up in (an authProvider that throws
// `new Error(\`login as bob/${password} failed\`)`).

const REDACTED = '[redacted]';

/** Shorter values are not remembered: replacing every "ab" in a message would garble it. */
const MIN_SECRET_LENGTH = 4;
/**
 * Tokens rotate (a new one per login or refresh), so the set is bounded; the oldest entry
 * goes first. A long-running worker only ever needs its current few.
 */
const MAX_SECRETS = 64;

const known = new Set<string>();

/** Records a secret (password, token) so that `redactSecrets` removes it from any text. */
export function rememberSecret(value: string | undefined): void {
  if (typeof value !== 'string' || value.length < MIN_SECRET_LENGTH) return;
  // Re-adding moves it to the end, so a secret in use is never the one evicted.
  known.delete(value);
  known.add(value);
  if (known.size > MAX_SECRETS) {
    const oldest = known.values().next().value;
    if (oldest !== undefined) known.delete(oldest);
  }
}

// A JWT is three base64url parts and its header always starts with `{"` = `eyJ`.
const JWT = /eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*/g;
// `Authorization: Bearer x` / `Basic x`, in headers, messages and util.inspect output. Basic
// is matched only as a header writes it (capitalised, then base64), so prose such as "basic
// auth" is left alone.
const BEARER = /\b(Bearer)\s+(?!\[redacted\])[^\s"',;)}\]]+/gi;
const BASIC = /\b(Basic)\s+[A-Za-z0-9+/]{6,}={0,2}/g;
// JSON (or JS-object) fields that hold credentials, e.g. a login request or response body.
const FIELD =
  /(["']?(?:password|root_password|access_token|refresh_token|token|authorization)["']?\s*[:=]\s*)(?!(?:Bearer|Basic)\s|\[redacted\])(?:"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|[^\s,;}&]+)/gi;
// http://user:password@host
const USERINFO = /(\b[a-z][a-z0-9+.-]*:\/\/)[^\s/@]+@/gi;

/**
 * `text` with every recognisable secret replaced by `[redacted]`: Bearer/Basic credentials,
 * JWTs, `password`/`token` fields, URL user info, and any password or token this process
 * has sent to a server. For error messages and log lines; safe to call on any string.
 */
export function redactSecrets(text: string): string {
  let out = String(text);
  // Exact secrets first: a password may contain characters the patterns stop at.
  for (const secret of known) {
    if (out.includes(secret)) out = out.split(secret).join(REDACTED);
  }
  return out
    .replace(JWT, REDACTED)
    .replace(BEARER, (_match, scheme: string) => `${scheme} ${REDACTED}`)
    .replace(BASIC, (_match, scheme: string) => `${scheme} ${REDACTED}`)
    .replace(FIELD, (_match, name: string) => `${name}"${REDACTED}"`)
    .replace(USERINFO, (_match, scheme: string) => `${scheme}${REDACTED}@`);
}

/**
 * A value fit to keep as an error's `cause`: an `Error` whose message, stack, string fields
 * or own cause chain held a secret is replaced by a redacted copy (same name and fields);
 * anything else is returned as it is. `depth` bounds the walk down the cause chain.
 */
export function scrubCause(value: unknown, depth = 4): unknown {
  if (typeof value === 'string') return redactSecrets(value);
  if (!(value instanceof Error)) return value;
  const message = redactSecrets(value.message);
  const stack = value.stack === undefined ? undefined : redactSecrets(value.stack);
  const cause = depth > 0 && 'cause' in value ? scrubCause(value.cause, depth - 1) : undefined;
  // `cause` is handled above (it may be an own enumerable field when assigned directly).
  const fields: Array<[string, unknown]> = Object.entries(value)
    .filter(([key]) => key !== 'cause')
    .map(([key, field]) => [key, typeof field === 'string' ? redactSecrets(field) : field]);
  const changed =
    message !== value.message ||
    stack !== value.stack ||
    ('cause' in value && cause !== value.cause) ||
    fields.some(([key, field]) => field !== (value as unknown as Record<string, unknown>)[key]);
  if (!changed) return value;
  const copy = new Error(message, cause === undefined ? undefined : { cause });
  copy.name = value.name;
  if (stack !== undefined) copy.stack = stack;
  for (const [key, field] of fields) (copy as unknown as Record<string, unknown>)[key] = field;
  return copy;
}
