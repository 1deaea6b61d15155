import { KalamConsumerError, invalidOption, toConsumerError } from './errors.js';
import { httpError, parseJson, postJson, type Classify, type HttpResult } from './http.js';
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

/** Called whenever a token is needed; may return the same or new credentials each time. */
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
    return { type: 'basic', user: c.user, password: c.password };
  }
  if (c && c.type === 'jwt' && typeof c.token === 'string' && c.token !== '') {
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
 * Owns the identity of one client: resolves the provider, exchanges basic credentials for a
 * JWT, caches it, refreshes it before `expires_at`, and retries a request once after an auth
 * failure. Concurrent callers (one per partition) share a single in-flight login so a worker
 * does not trip the server's 20 logins/s/IP limit (docs/PROTOCOL.md §10.13).
 */
export class TokenManager {
  private session: Session | undefined;
  private inflight: Promise<Session> | undefined;
  private inflightKey: string | undefined;

  constructor(private readonly options: TokenManagerOptions) {}

  /** `Bearer <jwt>` for the current identity, logging in or refreshing when needed. */
  async authHeader(signal?: AbortSignal): Promise<string> {
    const credentials = await this.resolveCredentials(signal);
    if (credentials.type === 'jwt') return `Bearer ${credentials.token}`;
    const session = await this.sessionFor(credentials, signal);
    return `Bearer ${session.accessToken}`;
  }

  /**
   * Runs `request` with a token; on a 401 / TOKEN_EXPIRED / INVALID_CREDENTIALS it drops the
   * token, gets a fresh one (new login for basic credentials, provider called again for JWT)
   * and retries exactly once.
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
      try {
        return await request(fresh);
      } catch (again) {
        throw toConsumerError(again);
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

  /** Forgets the cached tokens; the next request logs in again. */
  clear(): void {
    this.session = undefined;
  }

  private invalidate(failedHeader: string): void {
    // Only drop the session the failed request used: when several partitions hit the same
    // expiry, the first one to get here logs in and the others reuse its token.
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
          throw new KalamConsumerError(`authProvider failed: ${error instanceof Error ? error.message : String(error)}`, {
            code: 'AUTH_PROVIDER_ERROR',
            kind: looksTransient(error) ? 'transient' : 'permanent',
            cause: error,
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
      throw new KalamConsumerError('auth response has no access_token', {
        code: 'INVALID_RESPONSE',
        status: result.status,
        kind: 'transient',
        body: result.text,
      });
    }
    const response = json as LoginResponse;
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
