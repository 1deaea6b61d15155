// When to ask an authProvider for a new JWT (issue 11 item 7). The token is never verified
// here (the server does that); its payload is only read for `exp` (docs/PROTOCOL.md §1.5:
// seconds since epoch), so a provider that mints tokens from an identity service is called
// once per token lifetime instead of once per request.

/**
 * Renew this long before `exp` at most. A request that starts just before expiry must still be
 * accepted, and the server's own leeway is not something a client can count on.
 */
const MAX_MARGIN_MS = 30_000;
/** ... and at most this share of the lifetime left, so a 2-second test token is used too. */
const MARGIN_SHARE = 0.2;

/** The `exp` claim of a JWT in ms since epoch, or undefined when there is none or it is unreadable. */
export function jwtExpiryMs(token: string): number | undefined {
  const parts = token.split('.');
  const payload = parts[1];
  if (parts.length !== 3 || !payload) return undefined;
  try {
    const base64 = payload.replace(/-/g, '+').replace(/_/g, '/');
    const binary = atob(base64 + '='.repeat((4 - (base64.length % 4)) % 4));
    const bytes = Uint8Array.from(binary, (char) => char.charCodeAt(0));
    const claims: unknown = JSON.parse(new TextDecoder().decode(bytes));
    const exp = typeof claims === 'object' && claims !== null ? (claims as { exp?: unknown }).exp : undefined;
    return typeof exp === 'number' && Number.isFinite(exp) ? exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The time (ms since epoch) after which `token`, received at `now`, should be replaced:
 * `exp` minus the smaller of 30 s and a fifth of the lifetime left (a one-hour token is
 * renewed 30 s before it expires). `Infinity` (reuse until the server answers 401) for a
 * token without a readable `exp`, and for one that has already expired by this machine's
 * clock: clocks disagree more often than providers hand out dead tokens, and asking again
 * on every request is exactly the hammering this avoids. A 401 still gets a new token.
 */
export function jwtRenewAt(token: string, now: number): number {
  const exp = jwtExpiryMs(token);
  if (exp === undefined) return Number.POSITIVE_INFINITY;
  const left = exp - now;
  if (left <= 0) return Number.POSITIVE_INFINITY;
  return exp - Math.min(MAX_MARGIN_MS, left * MARGIN_SHARE);
}
