import { KalamConsumerError, toConsumerError } from './errors.js';
import type { FailureKind } from './wasm-contract.js';
import { linkSignals } from './timing.js';

// The SQL and auth endpoints are plain JSON over fetch and are spoken from TS; the topic
// endpoints go through the wasm transport. This module is the one place that turns the
// server's error envelopes (docs/PROTOCOL.md §1.1, §1.7/§2.5, §3.8, §1.7 middleware) into errors.

export type Classify = (status: number, code?: string) => FailureKind;

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
      throw new KalamConsumerError(`request to ${url} timed out after ${options.timeoutMs} ms`, {
        code: 'NETWORK_ERROR',
        kind: 'transient',
        cause: error,
      });
    }
    throw toConsumerError(error, 'transient');
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

function str(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

/** Pulls code and message out of whichever of the three envelopes the body is. */
export function readEnvelope(text: string): { code?: string; message?: string } {
  const json = parseJson(text);
  if (typeof json !== 'object' || json === null) return {};
  const body = json as Record<string, unknown>;
  const inner = body['error'];
  if (typeof inner === 'object' && inner !== null) {
    // SQL / extractor envelope: { status, error: { code, message }, results, took }
    const e = inner as Record<string, unknown>;
    const out: { code?: string; message?: string } = {};
    const code = str(e['code']);
    const message = str(e['message']);
    if (code) out.code = code;
    if (message) out.message = message;
    return out;
  }
  const topicCode = str(body['code']);
  if (topicCode) {
    // Topic envelope: { error: "<text>", code: "NOT_FOUND" }
    const out: { code?: string; message?: string } = { code: topicCode };
    const message = str(inner);
    if (message) out.message = message;
    return out;
  }
  // Auth / middleware envelope: { error: "<code>", message: "<text>" }
  const out: { code?: string; message?: string } = {};
  const code = str(inner);
  const message = str(body['message']);
  if (code) out.code = code;
  if (message) out.message = message;
  return out;
}

export function httpError(what: string, result: HttpResult, classify: Classify): KalamConsumerError {
  const envelope = readEnvelope(result.text);
  const code = envelope.code ?? 'HTTP_ERROR';
  const detail = envelope.message ?? (result.text.trim().slice(0, 200) || `HTTP ${result.status}`);
  return new KalamConsumerError(`${what} failed (HTTP ${result.status} ${code}): ${detail}`, {
    code,
    status: result.status,
    kind: classify(result.status, envelope.code),
    body: result.text,
  });
}
