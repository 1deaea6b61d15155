import { capWarning } from './select-caps.js';
import type { TokenManager } from './auth.js';
import { KalamConsumerError, invalidOption, toConsumerError } from './errors.js';
import { httpError, parseJson, postJson, readEnvelope, type Classify } from './http.js';
import { redactSecrets } from './redact.js';

// SQL over HTTP (docs/PROTOCOL.md §2). @kalamdb/client cannot be a hard dependency, so the small
// path the consumer needs lives here; an existing @kalamdb/client instance (or anything with a
// compatible `query`) can be passed as `sqlClient` instead and is then used for every SQL call.

export interface SqlSchemaField {
  name: string;
  data_type: unknown;
  index: number;
  flags?: string[];
}

export interface QueryResult<Row = Record<string, unknown>> {
  schema?: SqlSchemaField[];
  /** Positional rows as the server sent them. */
  rows?: unknown[][];
  /** The same rows as `{ column: value }` objects, added by this package. */
  named_rows: Row[];
  row_count: number;
  message?: string;
  /** Effective user of the statement (the caller or the EXECUTE AS USER target). */
  as_user?: string;
}

export interface QueryResponse<Row = Record<string, unknown>> {
  status: 'success' | 'error';
  results: QueryResult<Row>[];
  took?: number;
  error?: { code: string; message: string; details?: string } | null;
}

export type SqlParams = readonly unknown[];

/**
 * The part of an `@kalamdb/client` `KalamDBClient` this package uses. Only `query` is called:
 * row objects and the EXECUTE AS USER wrapper are built here so both SQL paths behave alike.
 */
export interface SqlClientLike {
  query(sql: string, params?: unknown[]): Promise<unknown>;
  queryOne?(sql: string, params?: unknown[]): Promise<unknown>;
  queryAll?(sql: string, params?: unknown[]): Promise<unknown>;
  executeAsUser?(sql: string, user: string, params?: unknown[]): Promise<unknown>;
}

export interface SqlRunner {
  query(sql: string, params?: SqlParams, signal?: AbortSignal): Promise<QueryResponse>;
}

/** `EXECUTE AS USER '<user>' (<sql>)` with quotes doubled and trailing semicolons dropped (§2.6). */
export function wrapExecuteAsUser(sql: string, user: string): string {
  if (typeof sql !== 'string' || sql.trim() === '') throw invalidOption('executeAsUser: sql must be a non-empty string');
  if (typeof user !== 'string' || user.trim() === '') throw invalidOption('executeAsUser: user must be a non-empty string');
  const statement = sql.trim().replace(/(\s*;)+$/, '');
  return `EXECUTE AS USER '${user.replace(/'/g, "''")}' (${statement})`;
}

function namedRowsOf(result: Record<string, unknown>): Record<string, unknown>[] {
  if (Array.isArray(result['named_rows'])) return result['named_rows'] as Record<string, unknown>[];
  const rows = result['rows'];
  const schema = result['schema'];
  if (!Array.isArray(rows)) return [];
  const fields = Array.isArray(schema) ? (schema as SqlSchemaField[]) : [];
  return rows.map((row) => {
    const out: Record<string, unknown> = {};
    if (!Array.isArray(row)) return out;
    fields.forEach((field, position) => {
      const index = typeof field.index === 'number' ? field.index : position;
      out[field.name] = row[index];
    });
    return out;
  });
}

/** Validates the response shape and adds `named_rows` to every result. */
export function normalizeQueryResponse(body: unknown, rawText?: string): QueryResponse {
  if (typeof body !== 'object' || body === null) {
    throw new KalamConsumerError('SQL response is not a JSON object', {
      code: 'INVALID_RESPONSE',
      kind: 'transient',
      // Not JSON: a proxy's page or another server's answer, which may quote the request.
      ...(rawText === undefined ? {} : { body: redactSecrets(rawText) }),
    });
  }
  const response = body as Record<string, unknown>;
  const results = Array.isArray(response['results']) ? (response['results'] as Record<string, unknown>[]) : [];
  return {
    ...(response as object),
    status: response['status'] === 'error' ? 'error' : 'success',
    results: results.map((result) => ({
      ...(result as object),
      row_count: typeof result['row_count'] === 'number' ? result['row_count'] : 0,
      named_rows: namedRowsOf(result),
    })),
  } as QueryResponse;
}

function checkSql(sql: unknown, params: unknown): void {
  if (typeof sql !== 'string' || sql.trim() === '') throw invalidOption('sql must be a non-empty string');
  if (params !== undefined && !Array.isArray(params)) throw invalidOption('params must be an array');
}

/** SQL through `POST /v1/api/sql` with this client's own identity. */
export class HttpSqlRunner implements SqlRunner {
  constructor(
    private readonly baseUrl: string,
    private readonly fetchImpl: typeof fetch,
    private readonly tokens: TokenManager,
    private readonly timeoutMs: number,
    private readonly classify: Classify,
    private readonly ready: () => Promise<void>,
  ) {}

  async query(sql: string, params?: SqlParams, signal?: AbortSignal): Promise<QueryResponse> {
    checkSql(sql, params);
    // Error classification lives in the wasm module, which browsers load on first use.
    await this.ready();
    // Never send namespace_id: unqualified names then resolve like in @kalamdb/client (§8).
    const body: { sql: string; params?: unknown[] } = { sql };
    if (params !== undefined && params.length > 0) body.params = [...params];
    return this.tokens.withAuth(async (authorization) => {
      const result = await postJson(this.fetchImpl, `${this.baseUrl}/v1/api/sql`, body, {
        headers: { Authorization: authorization },
        signal,
        timeoutMs: this.timeoutMs,
      });
      if (result.status < 200 || result.status >= 300) throw httpError('SQL', result, this.classify);
      const json = parseJson(result.text);
      const response = normalizeQueryResponse(json, result.text);
      if (response.status === 'error') {
        // The server answers errors with non-2xx codes; a 2xx error body (proxies, other
        // servers) is still an error, and TOKEN_EXPIRED in it triggers the one auth retry.
        throw httpError('SQL', result, this.classify);
      }
      return response;
    }, signal);
  }
}

/** SQL through an app's existing `@kalamdb/client` instance. */
export class ExternalSqlRunner implements SqlRunner {
  constructor(private readonly client: SqlClientLike) {}

  async query(sql: string, params?: SqlParams): Promise<QueryResponse> {
    checkSql(sql, params);
    let raw: unknown;
    try {
      raw = await this.client.query(sql, params === undefined ? undefined : [...params]);
    } catch (thrown) {
      // @kalamdb/client rejects HTTP errors with the raw response text (docs/PROTOCOL.md §10.14).
      if (typeof thrown === 'string') {
        const envelope = readEnvelope(thrown);
        // The app's client hands over whatever the server (or a proxy) answered: redact it.
        const text = redactSecrets(thrown);
        throw new KalamConsumerError(`SQL failed: ${envelope.message === undefined ? text.slice(0, 200) : redactSecrets(envelope.message)}`, {
          code: envelope.code ?? 'HTTP_ERROR',
          kind: 'permanent',
          body: text,
        });
      }
      throw toConsumerError(thrown, 'permanent');
    }
    const response = normalizeQueryResponse(raw);
    if (response.status === 'error') {
      const error = response.error;
      throw new KalamConsumerError(`SQL failed: ${error?.message ?? 'error status'}`, {
        code: error?.code ?? 'HTTP_ERROR',
        kind: 'permanent',
      });
    }
    return response;
  }
}

/** The SQL helpers shared by the client and the runtime's `ctx`. */
export interface SqlHelpers {
  query(sql: string, params?: SqlParams): Promise<QueryResponse>;
  queryOne<T = Record<string, unknown>>(sql: string, params?: SqlParams): Promise<T | null>;
  queryAll<T = Record<string, unknown>>(sql: string, params?: SqlParams): Promise<T[]>;
  executeAsUser(sql: string, user: string, params?: SqlParams): Promise<QueryResponse>;
}

/** `warn` hears of every SELECT answer that may have been cut by the server's caps (select-caps.ts). */
export function sqlHelpers(runner: SqlRunner, warn?: (message: string) => void): SqlHelpers {
  const query = async (sql: string, params?: SqlParams): Promise<QueryResponse> => {
    const response = await runner.query(sql, params);
    if (warn && typeof sql === 'string') {
      const warning = capWarning(sql, response);
      if (warning) warn(warning);
    }
    return response;
  };
  return {
    query,
    async queryOne<T>(sql: string, params?: SqlParams): Promise<T | null> {
      const response = await query(sql, params);
      return (response.results[0]?.named_rows[0] as T | undefined) ?? null;
    },
    async queryAll<T>(sql: string, params?: SqlParams): Promise<T[]> {
      const response = await query(sql, params);
      return (response.results[0]?.named_rows ?? []) as T[];
    },
    // async, so a bad argument is a rejected promise like every other SQL failure.
    executeAsUser: async (sql, user, params) => query(wrapExecuteAsUser(sql, user), params),
  };
}
