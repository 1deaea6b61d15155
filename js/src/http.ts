import { KalamConsumerError, toConsumerError } from './errors.js';
import { describeFailure, withReason } from './failure-reason.js';
import { redactSecrets } from './redact.js';
import type { FailureKind } from './wasm-contract.js';
import { linkSignals } from './timing.js';

// The SQL and auth endpoints are plain JSON over fetch and are spoken from TS; the topic
// endpoints go through the wasm transport. This module is the one place that turns the
// server's error envelopes (docs/PROTOCOL.md §1.1, §1.7/§2.5, §3.8, §1.7 middleware) into errors.

export type Classify = (status: number, code?: string) => FailureKind;

/** Longest raw body text put into an error message. */
const MAX_DETAIL = 200;

export interface HttpResult {
  status: number;
  text: string;
}

export interface PostOptions {
  headers?: Record<string, string>;
  signal?: AbortSignal | undefined;
  timeoutMs: number;
}

/** POSTs JSON (or nothing) and returns status and text; network failures become typed errors. */
export async function postJson(
  fetchImpl: typeof fetch,
  url: string,
  body: unknown,
  options: PostOptions,
): Promise<HttpResult> {
  const linked = linkSignals([options.signal], options.timeoutMs);
  const headers: Record<string, string> = { Accept: 'application/json', ...options.headers };
  const init: RequestInit = { method: 'POST', headers, signal: linked.signal };
  if (body !== undefined) {
    // The server's typed-body handlers answer 400 text without this header (docs/PROTOCOL.md §0).
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  try {
    const response = await fetchImpl(url, init);
    const text = await response.text();
    return { status: response.status, text };
  } catch (error) {
    if (linked.timedOut()) {
      const words = `timed out after ${options.timeoutMs} ms`;
      throw withReason(
        new KalamConsumerError(`request to ${url} ${words}`, { code: 'NETWORK_ERROR', kind: 'transient', cause: error }),
        words,
      );
    }
    const converted = toConsumerError(error, 'transient');
    if (converted.code !== 'NETWORK_ERROR') throw converted;
    // The reason in words, and which endpoint: "request to http://h/v1/api/sql failed: connection refused (h:80)".
    throw new KalamConsumerError(`request to ${url} failed: ${describeFailure(error)}`, {
      code: 'NETWORK_ERROR',
      kind: 'transient',
      cause: error,
    });
  } finally {
    linked.dispose();
  }
}

export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Code and message of an error body; blank values are absent. */
export interface ErrorEnvelope {
  code?: string;
  message?: string;
}

/** `value` unless it is blank (empty or whitespace only). */
function nonBlank(value: string | undefined): string | undefined {
  return value !== undefined && value.trim() !== '' ? value : undefined;
}

/** A JSON object's `code` and `message` when each is a string or null (else `undefined`). */
function codeAndMessage(object: Record<string, unknown>): { code?: string | undefined; message?: string | undefined } | undefined {
  const { code, message } = object;
  if ((code !== undefined && code !== null && typeof code !== 'string') || (message !== undefined && message !== null && typeof message !== 'string')) {
    return undefined;
  }
  return { code: code ?? undefined, message: message ?? undefined };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Pulls code and message out of whichever of the three envelopes the body is; any other body
 * is its own (trimmed) message. The rules are the core's (`parse_error_body`,
 * crates/kalam-consumer-core/src/envelope.rs), which the wasm transport's errors use. Ported
 * rather than called: the SQL and auth paths that use it receive no wasm bindings. Both are
 * held to one corpus, tests/fixtures/error-envelopes.json (tests/unit/error-envelope.test.mjs
 * here, tests/error_envelopes.rs in the core).
 */
export function readEnvelope(text: string): ErrorEnvelope {
  const trimmed = text.trim();
  const plain = trimmed === '' ? undefined : trimmed;
  const result = (code: string | undefined, message: string | undefined): ErrorEnvelope => {
    const out: ErrorEnvelope = {};
    if (code !== undefined) out.code = code;
    const detail = nonBlank(message) ?? plain;
    if (detail !== undefined) out.message = detail;
    return out;
  };
  const json = trimmed.startsWith('{') ? parseJson(trimmed) : undefined;
  const fields = isObject(json) ? codeAndMessage(json) : undefined;
  if (!isObject(json) || fields === undefined) return result(undefined, undefined);
  const error = json['error'];
  if (isObject(error)) {
    // SQL / extractor envelope: { status, error: { code, message }, results, took }
    const inner = codeAndMessage(error);
    return result(nonBlank(inner?.code), inner?.message);
  }
  if (typeof error === 'string') {
    const topicCode = nonBlank(fields.code);
    // Topic envelope: { error: "<text>", code: "NOT_FOUND" }
    if (topicCode !== undefined) return result(topicCode, error);
    // Auth / middleware envelope: { error: "<code>", message: "<text>" }
    return result(nonBlank(error), fields.message);
  }
  return result(nonBlank(fields.code), fields.message);
}

export function httpError(what: string, result: HttpResult, classify: Classify): KalamConsumerError {
  const envelope = readEnvelope(result.text);
  const code = envelope.code ?? 'HTTP_ERROR';
  // The server's error bodies carry no secrets (docs/PROTOCOL.md §1.1, §1.7), but this also
  // reads proxies' and other servers' bodies, which may echo a request: redact both. A body
  // without an envelope message is its own message, cut (it may be a proxy's HTML page; the
  // whole redacted body stays in `error.body`).
  const text = redactSecrets(result.text);
  const whole = text.trim();
  const message = envelope.message === undefined || envelope.message === result.text.trim() ? whole.slice(0, MAX_DETAIL) : redactSecrets(envelope.message);
  const detail = message || `HTTP ${result.status}`;
  return new KalamConsumerError(`${what} failed (HTTP ${result.status} ${code}): ${detail}`, {
    code,
    status: result.status,
    kind: classify(result.status, envelope.code),
    body: text,
  });
}
