import { KalamConsumerError, invalidOption, toConsumerError } from './errors.js';
import { httpError, parseJson, postJson, readEnvelope, type Classify, type HttpResult } from './http.js';
import { jwtRenewAt } from './jwt.js';
import { redactSecrets, rememberSecret, scrubCause } from './redact.js';
import { sleep } from './timing.js';

// Credentials have exactly the shapes of @kalamdb/client's Auth helpers, so a provider written
// for that package works here unchanged (docs/PROTOCOL.md §8).

export interface BasicAuthCredentials {
  type: 'basic';
  user: string;
  password: string;
}

export interface JwtAuthCredentials {
  type: 'jwt';
  token: string;
}

export type AuthCredentials = BasicAuthCredentials | JwtAuthCredentials;

/**
 * Called when credentials are needed: before the first request, when the token it gave is
 * about to expire (`exp` of a JWT; the session's `expires_at` for basic credentials) and after
 * the server answered 401. May return the same or new credentials each time.
 */
export type AuthProvider = () => AuthCredentials | Promise<AuthCredentials>;

export const Auth = {
  /** User and password, exchanged for a JWT at `POST /v1/api/auth/login`. */
  basic(user: string, password: string): BasicAuthCredentials {
    return { type: 'basic', user, password };
  },
  /** A ready access token, sent as `Authorization: Bearer <token>`. */
  jwt(token: string): JwtAuthCredentials {
    return { type: 'jwt', token };
  },
} as const;

/** Body of `/v1/api/auth/login` and `/v1/api/auth/refresh` (docs/PROTOCOL.md §1.1). */
export interface LoginResponse {
  user: { id: string; role: string; email?: string | null; created_at: string; updated_at: string };
  admin_ui_access: boolean;
  expires_at: string;
  access_token: string;
  refresh_token?: string;
  refresh_expires_at?: string;
}

export interface ProviderRetryOptions {
  maxAttempts: number;
  initialBackoffMs: number;
  maxBackoffMs: number;
}

export interface TokenManagerOptions {
  baseUrl: string;
  fetch: typeof fetch;
  provider: AuthProvider | AuthCredentials;
  timeoutMs: number;
  classify: Classify;
  /** Resolves once the wasm module (which classifies errors) is loaded; lazy in browsers. */
  ready: () => Promise<void>;
  providerRetry: ProviderRetryOptions;
}

interface Session {
  /** Which basic credentials this session belongs to; a provider may rotate them. */
  key: string;
  accessToken: string;
  refreshToken: string | undefined;
  obtainedAt: number;
  expiresAt: number | undefined;
  refreshExpiresAt: number | undefined;
  response: LoginResponse;
}

/**
 * What the provider last gave, so it is not asked again per request (issue 11 item 7). A JWT
 * is reused until `renewAt` (jwt.ts); basic credentials for as long as their session's token
 * is fresh.
 */
type Cached = { type: 'jwt'; header: string; renewAt: number } | { type: 'basic'; key: string };

/**
 * Whether a failure on a protected endpoint means "get a new token and try once more". Every
 * HTTP error reaching here was classified by the wasm `classifyFailure` (transport errors in
 * Rust, SQL errors through `httpError`), so its kind says it: the statuses and codes that mean
 * auth are listed once, in crates/kalam-consumer-core/src/classify.rs.
 */
export function isAuthFailure(error: KalamConsumerError): boolean {
  return error.kind === 'auth';
}

function parseTime(value: unknown): number | undefined {
  if (typeof value !== 'string') return undefined;
  const ms = Date.parse(value);
  return Number.isFinite(ms) ? ms : undefined;
}

function checkCredentials(value: unknown): AuthCredentials {
  const c = value as { type?: unknown; user?: unknown; password?: unknown; token?: unknown } | null | undefined;
  if (c && c.type === 'basic' && typeof c.user === 'string' && c.user !== '' && typeof c.password === 'string') {
    rememberSecret(c.password);
    return { type: 'basic', user: c.user, password: c.password };
  }
  if (c && c.type === 'jwt' && typeof c.token === 'string' && c.token !== '') {
    rememberSecret(c.token);
    return { type: 'jwt', token: c.token };
  }
  throw invalidOption(
    'authProvider must return Auth.basic(user, password) or Auth.jwt(token) ({ type: "basic", user, password } / { type: "jwt", token })',
  );
}

/** Same heuristic as @kalamdb/client's resolveAuthProviderWithRetry (docs/PROTOCOL.md §8). */
function looksTransient(error: unknown): boolean {
  if (error instanceof KalamConsumerError) return error.kind === 'transient';
  const name = error instanceof Error ? error.name.toLowerCase() : '';
  const text = (error instanceof Error ? error.message : String(error)).toLowerCase();
  if (name.includes('timeout')) return true;
  return ['timeout', 'timed out', 'network', 'socket', 'connection', 'unreachable', 'temporar', '429', '502', '503', '504'].some(
    (needle) => text.includes(needle),
  );
}

/**
 * A 401 that a fresh token did not cure: the credentials themselves are refused, which no
 * retry fixes, so the error is permanent and `runConsumer` rejects with it instead of
 * backing off forever (issue 11: "a bad static JWT retries forever").
 */
function rejected(error: KalamConsumerError, subject: string, tail = ''): KalamConsumerError {
  const label = error.code === 'HTTP_ERROR' ? `HTTP ${error.status}` : `HTTP ${error.status} ${error.code}`;
  const detail = error.body === undefined ? undefined : readEnvelope(error.body).message;
  return new KalamConsumerError(`the server rejected ${subject} (${label}${detail ? `: ${redactSecrets(detail)}` : ''})${tail}`, {
    code: error.code,
    status: error.status,
    kind: 'permanent',
    ...(error.body === undefined ? {} : { body: error.body }),
    cause: error,
  });
}

function isAborted(error: unknown): boolean {
  return error instanceof KalamConsumerError && error.code === 'ABORTED';
}

/**
 * Owns the identity of one client: resolves the provider, exchanges basic credentials for a
 * JWT, caches it, refreshes it before `expires_at`, and retries a request once after an auth
 * failure. Concurrent callers (one per partition) share a single in-flight provider call and
 * login, so a worker neither hammers an identity service nor trips the server's 20
 * logins/s/IP limit (docs/PROTOCOL.md §10.13).
 */
export class TokenManager {
  private session: Session | undefined;
  private inflight: Promise<Session> | undefined;
  private inflightKey: string | undefined;
  private cached: Cached | undefined;
  private renewing: Promise<string> | undefined;

  constructor(private readonly options: TokenManagerOptions) {}

  /** `Bearer <jwt>` for the current identity; asks the provider and logs in only when needed. */
  async authHeader(signal?: AbortSignal): Promise<string> {
    return this.cachedHeader() ?? this.renew(signal);
  }

  /**
   * Runs `request` with a token; on a 401 / TOKEN_EXPIRED / INVALID_CREDENTIALS it drops the
   * token, gets a fresh one (provider called again, then a new login for basic credentials)
   * and retries exactly once. When the provider hands back the very token that was refused,
   * or the fresh token is refused too, the error is permanent: see `rejected`.
   */
  async withAuth<T>(request: (authHeader: string) => Promise<T>, signal?: AbortSignal): Promise<T> {
    const header = await this.authHeader(signal);
    try {
      return await request(header);
    } catch (thrown) {
      const error = toConsumerError(thrown);
      if (!isAuthFailure(error) || signal?.aborted) throw error;
      this.invalidate(header);
      const fresh = await this.authHeader(signal);
      if (fresh === header) throw rejected(error, 'the token from authProvider', ', and authProvider returned the same token again');
      try {
        return await request(fresh);
      } catch (again) {
        const second = toConsumerError(again);
        if (isAuthFailure(second) && !signal?.aborted) {
          throw rejected(second, this.cached?.type === 'basic' ? 'the token of a fresh login' : 'the new token from authProvider as well');
        }
        throw second;
      }
    }
  }

  /** Forces a new login with the provider's basic credentials. */
  async login(signal?: AbortSignal): Promise<LoginResponse> {
    const credentials = await this.resolveCredentials(signal);
    if (credentials.type !== 'basic') {
      throw invalidOption('login() needs basic credentials (Auth.basic); the provider returned a JWT');
    }
    this.session = undefined;
    return (await this.sessionFor(credentials, signal)).response;
  }

  /** Exchanges the refresh token for a new token pair (logs in first when there is none). */
  async refresh(signal?: AbortSignal): Promise<LoginResponse> {
    const credentials = await this.resolveCredentials(signal);
    if (credentials.type !== 'basic') {
      throw invalidOption('refreshToken() needs basic credentials (Auth.basic); the provider returned a JWT');
    }
    const key = keyOf(credentials);
    const current = this.session;
    if (!current || current.key !== key || !current.refreshToken) return this.login(signal);
    const next = await this.share(key, () => this.refreshSession(current, signal));
    return next.response;
  }

  /** Forgets the cached tokens; the next request asks the provider and logs in again. */
  clear(): void {
    this.session = undefined;
    this.cached = undefined;
  }

  private cachedHeader(): string | undefined {
    const cached = this.cached;
    if (cached === undefined) return undefined;
    if (cached.type === 'jwt') return Date.now() < cached.renewAt ? cached.header : undefined;
    const session = this.session;
    return session && session.key === cached.key && this.fresh(session) ? `Bearer ${session.accessToken}` : undefined;
  }

  /**
   * Asks the provider (and, for basic credentials, logs in or refreshes) once for every caller
   * that arrives meanwhile. The shared attempt runs under the first caller's signal; a caller
   * whose own signal is still live retries under it if that one was aborted.
   */
  private renew(signal?: AbortSignal): Promise<string> {
    if (!this.renewing) {
      const attempt: Promise<string> = this.obtain(signal).finally(() => {
        if (this.renewing === attempt) this.renewing = undefined;
      });
      this.renewing = attempt;
    }
    return this.renewing.catch((error: unknown) => {
      if (isAborted(error) && signal !== undefined && !signal.aborted) return this.renew(signal);
      throw error;
    });
  }

  private async obtain(signal?: AbortSignal): Promise<string> {
    const credentials = await this.resolveCredentials(signal);
    if (credentials.type === 'jwt') {
      const header = `Bearer ${credentials.token}`;
      this.cached = { type: 'jwt', header, renewAt: jwtRenewAt(credentials.token, Date.now()) };
      return header;
    }
    const session = await this.sessionFor(credentials, signal);
    this.cached = { type: 'basic', key: session.key };
    return `Bearer ${session.accessToken}`;
  }

  private invalidate(failedHeader: string): void {
    // Only drop what the failed request used: when several partitions hit the same expiry,
    // the first one to get here renews and the others reuse its token.
    if (this.cached?.type === 'jwt' && this.cached.header === failedHeader) this.cached = undefined;
    // With the session gone, the cached basic entry no longer yields a header either, so the
    // provider is asked again (it may have rotated the password).
    if (this.session && `Bearer ${this.session.accessToken}` === failedHeader) this.session = undefined;
  }

  private async resolveCredentials(signal?: AbortSignal): Promise<AuthCredentials> {
    const { provider, providerRetry } = this.options;
    if (typeof provider !== 'function') return checkCredentials(provider);
    let delay = providerRetry.initialBackoffMs;
    for (let attempt = 1; ; attempt += 1) {
      try {
        return checkCredentials(await provider());
      } catch (error) {
        if (error instanceof KalamConsumerError && error.code === 'INVALID_OPTION') throw error;
        if (attempt >= providerRetry.maxAttempts || !looksTransient(error) || signal?.aborted) {
          // The provider's own error text may quote a password or token: redact it, and keep
          // a redacted copy as the cause.
          const text = redactSecrets(error instanceof Error ? error.message : String(error));
          throw new KalamConsumerError(`authProvider failed: ${text}`, {
            code: 'AUTH_PROVIDER_ERROR',
            kind: looksTransient(error) ? 'transient' : 'permanent',
            cause: scrubCause(error),
          });
        }
        await sleep(delay, signal);
        delay = Math.min(providerRetry.maxBackoffMs, delay * 2);
      }
    }
  }

  private fresh(session: Session): boolean {
    if (session.expiresAt === undefined) return true;
    // Refresh a little before expiry: a tenth of the token's life, at most a minute, so short
    // test tokens (a few seconds) and day-long production tokens both renew in time.
    const life = Math.max(0, session.expiresAt - session.obtainedAt);
    const margin = Math.min(60_000, life / 10);
    return Date.now() < session.expiresAt - margin;
  }

  private async sessionFor(credentials: BasicAuthCredentials, signal?: AbortSignal): Promise<Session> {
    const key = keyOf(credentials);
    const current = this.session;
    if (current && current.key === key && this.fresh(current)) return current;
    return this.share(key, async () => {
      const canRefresh =
        current &&
        current.key === key &&
        current.refreshToken !== undefined &&
        (current.refreshExpiresAt === undefined || Date.now() < current.refreshExpiresAt - 5_000);
      if (canRefresh) {
        try {
          return await this.refreshSession(current, signal);
        } catch {
          // A rejected refresh token (user changed, server restarted with a new secret, ...)
          // is not fatal: a fresh login below decides.
        }
      }
      return this.loginSession(credentials, key, signal);
    });
  }

  private share(key: string, start: () => Promise<Session>): Promise<Session> {
    if (this.inflight && this.inflightKey === key) return this.inflight;
    const promise = start().finally(() => {
      if (this.inflight === promise) {
        this.inflight = undefined;
        this.inflightKey = undefined;
      }
    });
    this.inflight = promise;
    this.inflightKey = key;
    return promise;
  }

  private async loginSession(credentials: BasicAuthCredentials, key: string, signal?: AbortSignal): Promise<Session> {
    const result = await this.authRequest(
      'login',
      '/v1/api/auth/login',
      { user: credentials.user, password: credentials.password },
      undefined,
      signal,
    );
    return this.adopt(key, result);
  }

  private async refreshSession(current: Session, signal?: AbortSignal): Promise<Session> {
    // The refresh endpoint reads no body: the refresh token goes in the Bearer header (§1.2).
    const result = await this.authRequest(
      'token refresh',
      '/v1/api/auth/refresh',
      undefined,
      `Bearer ${current.refreshToken ?? ''}`,
      signal,
    );
    return this.adopt(current.key, result);
  }

  /** POSTs to an auth endpoint, retrying 429 / 5xx / network failures with backoff. */
  private async authRequest(
    what: string,
    path: string,
    body: unknown,
    authorization: string | undefined,
    signal?: AbortSignal,
  ): Promise<HttpResult> {
    const { fetch: fetchImpl, baseUrl, timeoutMs, classify, providerRetry } = this.options;
    await this.options.ready();
    let delay = providerRetry.initialBackoffMs;
    for (let attempt = 1; ; attempt += 1) {
      let error: KalamConsumerError;
      try {
        const headers: Record<string, string> = authorization ? { Authorization: authorization } : {};
        const result = await postJson(fetchImpl, `${baseUrl}${path}`, body, { headers, signal, timeoutMs });
        if (result.status >= 200 && result.status < 300) return result;
        error = httpError(what, result, classify);
        // On the auth endpoints a 401/403/428 means the credentials themselves are wrong,
        // which no retry fixes.
        if (error.kind === 'auth' || result.status === 403 || result.status === 428) {
          throw new KalamConsumerError(error.message, {
            code: error.code,
            status: error.status,
            kind: 'permanent',
            ...(error.body === undefined ? {} : { body: error.body }),
          });
        }
      } catch (thrown) {
        error = toConsumerError(thrown);
        // No answer at all (refused, reset, timeout): the caller's connection retry owns that;
        // retrying here too would multiply the waits.
        if (error.status === 0) throw error;
      }
      if (error.kind !== 'transient' || attempt >= providerRetry.maxAttempts || signal?.aborted) throw error;
      await sleep(delay, signal);
      delay = Math.min(providerRetry.maxBackoffMs, delay * 2);
    }
  }

  private adopt(key: string, result: HttpResult): Session {
    const json = parseJson(result.text) as Partial<LoginResponse> | undefined;
    if (!json || typeof json.access_token !== 'string' || json.access_token === '') {
      // A 2xx login body is the one response that holds tokens (a refresh_token without an
      // access_token, say): only its redacted text may go into the error.
      throw new KalamConsumerError('auth response has no access_token', {
        code: 'INVALID_RESPONSE',
        status: result.status,
        kind: 'transient',
        body: redactSecrets(result.text),
      });
    }
    const response = json as LoginResponse;
    rememberSecret(response.access_token);
    if (typeof response.refresh_token === 'string') rememberSecret(response.refresh_token);
    const session: Session = {
      key,
      accessToken: response.access_token,
      refreshToken: typeof response.refresh_token === 'string' && response.refresh_token !== '' ? response.refresh_token : undefined,
      obtainedAt: Date.now(),
      expiresAt: parseTime(response.expires_at),
      refreshExpiresAt: parseTime(response.refresh_expires_at),
      response,
    };
    this.session = session;
    return session;
  }
}

function keyOf(credentials: BasicAuthCredentials): string {
  return `basic:${credentials.user}\u0000${credentials.password}`;
}
