import { resolveLogger, type LoggerOption } from './logger.js';
import { TokenManager, type AuthCredentials, type AuthProvider, type LoginResponse } from './auth.js';
import { KalamConsumerError, invalidOption, toConsumerError } from './errors.js';
import { describeFailure, withReason } from './failure-reason.js';
import { redactSecrets, scrubCause } from './redact.js';
import { toBatch, type AckResult, type ConsumeBatchResult, type StartPosition } from './messages.js';
import { createLowLevelConsumer, type ConsumerHandle, type ConsumerOptions } from './consumer.js';
import {
  ExternalSqlRunner,
  HttpSqlRunner,
  sqlHelpers,
  type QueryResponse,
  type SqlClientLike,
  type SqlHelpers,
  type SqlParams,
} from './sql.js';
import { linkSignals } from './timing.js';
import { nonBlank, nonNegativeInt, nonNegativeNumber, positiveInt } from './validate.js';
import type { WasmRuntime, WasmTransport, WireBatch, WireStart } from './wasm-contract.js';

export interface ConsumerClientOptions {
  /** Base URL of the KalamDB server, `http://` or `https://`. */
  url: string;
  /** Returns `Auth.basic(...)` or `Auth.jwt(...)`; a plain credentials object is accepted too. */
  authProvider: AuthProvider | AuthCredentials;
  /** An existing `@kalamdb/client` instance (or any object with `query`) to run SQL through. */
  sqlClient?: SqlClientLike;
  /** fetch implementation for every request; default: the global `fetch`, looked up per call. */
  fetch?: typeof fetch;
  /** Where to load `kalam_consumer_wasm_bg.wasm` from (browsers, bundlers, CSP setups). */
  consumerWasmUrl?: string | URL;
  /** Per-request timeout in ms (default 30000). A consume request also gets `timeout_seconds`. */
  requestTimeoutMs?: number;
  /** Attempts for a failing authProvider / login on transient errors (default 3). */
  authProviderMaxAttempts?: number;
  /** First backoff between those attempts in ms (default 250), doubled up to the max. */
  authProviderInitialBackoffMs?: number;
  /** Backoff cap in ms (default 2000). */
  authProviderMaxBackoffMs?: number;
  /**
   * Where the client warns (default the console; `false` for none): today, a SELECT whose answer
   * has exactly as many rows as the server's cap (50 without LIMIT, 1,000 with one) and may be cut.
   */
  logger?: LoggerOption;
}

export interface ConsumeBatchOptions {
  topic: string;
  group_id: string;
  /** Used only while the group has no committed offset; default `'latest'`. */
  start?: StartPosition;
  /** Messages per request, default 10. */
  batch_size?: number;
  /** Default 0. */
  partition_id?: number;
  /** Sent to the server (which may long-poll with it); default: not sent. */
  timeout_seconds?: number;
  /** Aborts the request. */
  signal?: AbortSignal;
}

export interface AckOptions {
  signal?: AbortSignal;
}

declare global {
  interface SymbolConstructor {
    /**
     * Declared here too (exactly as TypeScript's `esnext.disposable` lib and @types/node do; the
     * declarations merge) so that `[Symbol.dispose]()` in these types also compiles in a
     * project with only `lib: ["ES2022", "DOM"]` and no @types/node, where it failed with
     * TS2550 (issue 13 item 6). Runtimes without it (Node < 18.18) get no `using` support, but
     * the method stays callable.
     */
    readonly dispose: unique symbol;
  }
}

export interface ConsumerClient extends SqlHelpers {
  readonly url: string;
  consumeBatch<T = Record<string, unknown>>(options: ConsumeBatchOptions): Promise<ConsumeBatchResult<T>>;
  /** Commits everything up to and including `offset` for the group (ack is cumulative). */
  ack(topic: string, group_id: string, partition_id: number, offset: number, options?: AckOptions): Promise<AckResult>;
  consumer<T = Record<string, unknown>>(options: ConsumerOptions): ConsumerHandle<T>;
  /** Logs in with the provider's basic credentials now and returns the login body. */
  login(): Promise<LoginResponse>;
  /** Exchanges the refresh token for a new pair (logs in when there is none yet). */
  refreshToken(): Promise<LoginResponse>;
  /** Forgets tokens and releases the wasm transport. A shared `sqlClient` is left to its owner. */
  disconnect(): Promise<void>;
  [Symbol.dispose](): void;
}

const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
const DEFAULT_BATCH_SIZE = 10;

function checkUrl(url: unknown): string {
  if (typeof url !== 'string' || url.trim() === '') {
    throw new KalamConsumerError('url must be an http:// or https:// URL', { code: 'INVALID_URL', kind: 'permanent' });
  }
  let parsed: URL;
  try {
    parsed = new URL(url.trim());
  } catch {
    throw new KalamConsumerError(`url is not a valid URL: ${redactSecrets(url)}`, { code: 'INVALID_URL', kind: 'permanent' });
  }
  if (parsed.username !== '' || parsed.password !== '') {
    // fetch refuses such URLs and its error repeats the URL, password included; credentials
    // belong in authProvider. The message must not echo the URL either.
    throw new KalamConsumerError('url must not contain a user name or password: pass them through authProvider (Auth.basic)', {
      code: 'INVALID_URL',
      kind: 'permanent',
    });
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new KalamConsumerError(`url must use http:// or https://, got ${parsed.protocol}//`, {
      code: 'INVALID_URL',
      kind: 'permanent',
    });
  }
  return url.trim().replace(/\/+$/, '');
}

/**
 * Turns a wasm transport rejection into a typed error. A failed fetch there reads "consume
 * failed: fetch failed" and hides the reason in its cause chain; the message says it instead:
 * "consume failed: connection refused (127.0.0.1:1)" (issue 11 item 2).
 */
function transportError(what: string): (thrown: unknown) => never {
  return (thrown) => {
    const error = toConsumerError(thrown);
    if (error.code !== 'NETWORK_ERROR') throw error;
    throw new KalamConsumerError(`${what} failed: ${describeFailure(thrown)}`, {
      code: error.code,
      kind: error.kind,
      cause: scrubCause(thrown),
    });
  };
}

class KalamConsumerClientImpl implements ConsumerClient {
  readonly url: string;
  private readonly tokens: TokenManager;
  private readonly sql: SqlHelpers;
  private readonly requestTimeoutMs: number;
  private transport: WasmTransport | undefined;

  constructor(
    private readonly runtime: WasmRuntime,
    private readonly options: ConsumerClientOptions,
  ) {
    this.url = checkUrl(options.url);
    const provider = options.authProvider;
    if (provider === undefined || provider === null || (typeof provider !== 'function' && typeof provider !== 'object')) {
      throw invalidOption('authProvider is required: () => Auth.basic(user, password) or Auth.jwt(token)');
    }
    if (options.fetch !== undefined && typeof options.fetch !== 'function') throw invalidOption('fetch must be a function');
    if (options.sqlClient !== undefined && typeof options.sqlClient?.query !== 'function') {
      throw invalidOption('sqlClient must have a query(sql, params) method');
    }
    this.requestTimeoutMs = positiveInt('requestTimeoutMs', options.requestTimeoutMs, DEFAULT_REQUEST_TIMEOUT_MS);
    // Looked up per call, so a test that swaps globalThis.fetch later is still honoured.
    const fetchImpl: typeof fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
    const classify = (status: number, code?: string) => this.runtime.bindings.classifyFailure(status, code);
    const ready = () => this.runtime.ready(this.options.consumerWasmUrl);
    this.tokens = new TokenManager({
      baseUrl: this.url,
      fetch: fetchImpl,
      provider,
      timeoutMs: this.requestTimeoutMs,
      classify,
      ready,
      providerRetry: {
        maxAttempts: positiveInt('authProviderMaxAttempts', options.authProviderMaxAttempts, 3),
        initialBackoffMs: nonNegativeNumber('authProviderInitialBackoffMs', options.authProviderInitialBackoffMs, 250),
        maxBackoffMs: nonNegativeNumber('authProviderMaxBackoffMs', options.authProviderMaxBackoffMs, 2000),
      },
    });
    const runner = options.sqlClient
      ? new ExternalSqlRunner(options.sqlClient)
      : new HttpSqlRunner(this.url, fetchImpl, this.tokens, this.requestTimeoutMs, classify, ready);
    const logger = resolveLogger(options.logger, 'client');
    this.sql = sqlHelpers(runner, (message) => logger.warn(message));
  }

  /** Waits for the wasm module (a no-op in Node) and creates the transport once. */
  private async ensureTransport(): Promise<WasmTransport> {
    await this.runtime.ready(this.options.consumerWasmUrl);
    if (!this.transport) {
      const { KalamConsumerClient } = this.runtime.bindings;
      this.transport = this.options.fetch
        ? new KalamConsumerClient(this.url, { fetch: this.options.fetch })
        : new KalamConsumerClient(this.url);
    }
    return this.transport;
  }

  /** Validated by the wasm core's rules (docs/PROTOCOL.md §7.2) so TS and Rust never disagree. */
  async normalizeStart(start: unknown): Promise<WireStart> {
    await this.runtime.ready(this.options.consumerWasmUrl);
    try {
      return this.runtime.bindings.normalizeStart(start === undefined ? 'latest' : start);
    } catch (error) {
      throw toConsumerError(error, 'permanent');
    }
  }

  async consumeBatch<T = Record<string, unknown>>(options: ConsumeBatchOptions): Promise<ConsumeBatchResult<T>> {
    if (typeof options !== 'object' || options === null) throw invalidOption('consumeBatch needs an options object');
    const topic = nonBlank('topic', options.topic);
    const group = nonBlank('group_id', options.group_id);
    const limit = positiveInt('batch_size', options.batch_size, DEFAULT_BATCH_SIZE);
    const partition = nonNegativeInt('partition_id', options.partition_id, 0);
    const timeoutSeconds =
      options.timeout_seconds === undefined ? undefined : nonNegativeNumber('timeout_seconds', options.timeout_seconds, 0);
    const start = await this.normalizeStart(options.start);
    const wire = await this.consumeWire(topic, group, partition, start, limit, timeoutSeconds, options.signal);
    return toBatch<T>(wire);
  }

  /**
   * A `limit: 0` consume (docs/PROTOCOL.md §3.5): claims nothing and answers `next_offset` =
   * committed + 1, or the `start` position when the group never committed. It is the only way
   * the protocol tells a worker where the group's committed offset is, which the runtime needs
   * to recognise a claim it never received. Internal: the public consumeBatch keeps rejecting
   * batch_size 0, whose result (no messages, has_more: true) would only confuse callers.
   */
  async probe(topic: string, group: string, partition: number, start: WireStart, signal?: AbortSignal): Promise<number> {
    const wire = await this.consumeWire(topic, group, partition, start, 0, undefined, signal);
    return wire.next_offset;
  }

  private async consumeWire(
    topic: string,
    group: string,
    partition: number,
    start: WireStart,
    limit: number,
    timeoutSeconds: number | undefined,
    parent: AbortSignal | undefined,
  ): Promise<WireBatch> {
    const transport = await this.ensureTransport();
    const request = {
      topic_id: topic,
      group_id: group,
      start,
      limit,
      partition_id: partition,
      ...(timeoutSeconds === undefined ? {} : { timeout_seconds: Math.floor(timeoutSeconds) }),
    };
    // A server that long-polls may legitimately hold the request for timeout_seconds.
    const timeoutMs = this.requestTimeoutMs + (timeoutSeconds ?? 0) * 1000;
    return this.timed(parent, timeoutMs, 'consume', (signal) =>
      this.tokens.withAuth((authorization) => transport.consume(authorization, request, { signal }).catch(transportError('consume')), signal),
    );
  }

  async ack(topic: string, group_id: string, partition_id: number, offset: number, options?: AckOptions): Promise<AckResult> {
    if (offset === undefined || offset === null) throw invalidOption('ack needs an offset');
    const request = {
      topic_id: nonBlank('topic', topic),
      group_id: nonBlank('group_id', group_id),
      partition_id: nonNegativeInt('partition_id', partition_id, 0),
      upto_offset: nonNegativeInt('offset', offset, 0),
    };
    const transport = await this.ensureTransport();
    return this.timed(options?.signal, this.requestTimeoutMs, 'ack', (signal) =>
      this.tokens.withAuth((authorization) => transport.ack(authorization, request, { signal }).catch(transportError('ack')), signal),
    );
  }

  /** Runs a transport call with a deadline; a timeout is a transient NETWORK_ERROR. */
  private async timed<R>(
    parent: AbortSignal | undefined,
    timeoutMs: number,
    what: string,
    call: (signal: AbortSignal) => Promise<R>,
  ): Promise<R> {
    const linked = linkSignals([parent], timeoutMs);
    try {
      return await call(linked.signal);
    } catch (thrown) {
      if (linked.timedOut()) {
        const words = `timed out after ${timeoutMs} ms`;
        throw withReason(
          new KalamConsumerError(`${what} request ${words}`, { code: 'NETWORK_ERROR', kind: 'transient', cause: thrown }),
          words,
        );
      }
      throw toConsumerError(thrown);
    } finally {
      linked.dispose();
    }
  }

  consumer<T = Record<string, unknown>>(options: ConsumerOptions): ConsumerHandle<T> {
    return createLowLevelConsumer<T>(this, this.runtime, options);
  }

  query(sql: string, params?: SqlParams): Promise<QueryResponse> {
    return this.sql.query(sql, params);
  }

  queryOne<T = Record<string, unknown>>(sql: string, params?: SqlParams): Promise<T | null> {
    return this.sql.queryOne<T>(sql, params);
  }

  queryAll<T = Record<string, unknown>>(sql: string, params?: SqlParams): Promise<T[]> {
    return this.sql.queryAll<T>(sql, params);
  }

  executeAsUser(sql: string, user: string, params?: SqlParams): Promise<QueryResponse> {
    return this.sql.executeAsUser(sql, user, params);
  }

  login(): Promise<LoginResponse> {
    return this.tokens.login();
  }

  refreshToken(): Promise<LoginResponse> {
    return this.tokens.refresh();
  }

  async disconnect(): Promise<void> {
    this.release();
  }

  [Symbol.dispose](): void {
    this.release();
  }

  private release(): void {
    this.tokens.clear();
    // wasm handles are also collected through weak refs; freeing here is just prompt.
    const transport = this.transport;
    this.transport = undefined;
    transport?.free();
  }
}

/** Internal: what the runtime needs besides the public client surface. */
export interface ClientInternals {
  normalizeStart(start: unknown): Promise<WireStart>;
  /** `next_offset` of a `limit: 0` consume: committed + 1, or the `start` position. */
  probe(topic: string, group: string, partition: number, start: WireStart, signal?: AbortSignal): Promise<number>;
}

export function isInternalClient(client: unknown): client is ConsumerClient & ClientInternals {
  return client instanceof KalamConsumerClientImpl;
}

export function makeCreateConsumerClient(runtime: WasmRuntime) {
  /** Creates a client; throws a typed INVALID_URL / INVALID_OPTION error for bad options. */
  return function createConsumerClient(options: ConsumerClientOptions): ConsumerClient {
    if (typeof options !== 'object' || options === null) throw invalidOption('createConsumerClient needs an options object');
    return new KalamConsumerClientImpl(runtime, options);
  };
}
