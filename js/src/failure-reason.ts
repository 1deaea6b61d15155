/**
 * Short words for why a request failed, for log lines and error messages: "connection
 * refused", "host not found", "HTTP 502". The cause of a fetch failure sits two levels down
 * (`TypeError: fetch failed` -> `Error { code: 'ECONNREFUSED' }`), where nobody reads it.
 */
const SYSTEM_CODES: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host not found (DNS lookup failed)',
  ECONNRESET: 'connection reset',
  EPIPE: 'connection closed',
  ETIMEDOUT: 'connection timed out',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  UND_ERR_SOCKET: 'connection closed by the server',
  UND_ERR_CONNECT_TIMEOUT: 'connection timed out',
  UND_ERR_HEADERS_TIMEOUT: 'server sent no response headers in time',
  UND_ERR_BODY_TIMEOUT: 'server stopped sending the response',
};

interface ErrorLike {
  message?: unknown;
  code?: unknown;
  status?: unknown;
  cause?: unknown;
}

export function describeFailure(error: unknown): string {
  const chain: ErrorLike[] = [];
  for (let e: unknown = error; e && typeof e === 'object' && chain.length < 6; e = (e as ErrorLike).cause) chain.push(e as ErrorLike);
  for (const e of chain) {
    if (typeof e.code === 'string' && SYSTEM_CODES[e.code]) return SYSTEM_CODES[e.code]!;
  }
  const top = chain[0];
  if (top && typeof top.status === 'number' && top.status > 0) {
    const code = typeof top.code === 'string' && top.code !== 'HTTP_ERROR' ? ` (${top.code})` : '';
    return `HTTP ${top.status}${code}`;
  }
  if (top && typeof top.message === 'string' && top.message !== '') return top.message;
  return String(error);
}
