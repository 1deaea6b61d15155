import type { QueryResponse } from './sql.js';

/**
 * A real KalamDB server cuts SELECT results without a word (docs/PROTOCOL.md §11): at most 50
 * rows without LIMIT (`[limits] default_query_limit`) and 1,000 with any LIMIT
 * (`max_query_limit`), with `row_count` equal to what came back. An answer of exactly that
 * many rows may be cut, so the SQL helpers say so instead of handing over a silent prefix.
 */
export const DEFAULT_QUERY_LIMIT = 50;
export const MAX_QUERY_LIMIT = 1_000;

const SELECT_START = /^\s*(\(\s*)*(select|with)\b/i;
const HAS_LIMIT = /\blimit\s+(\d+|\$\d+)/i;

/** The warning for a result that may have been cut, or undefined. */
export function capWarning(sql: string, response: QueryResponse): string | undefined {
  if (!SELECT_START.test(sql)) return undefined;
  const limited = HAS_LIMIT.test(sql);
  for (const result of response.results ?? []) {
    const rows = result.named_rows?.length ?? result.row_count ?? 0;
    const cap = limited ? MAX_QUERY_LIMIT : DEFAULT_QUERY_LIMIT;
    if (rows === cap || rows === MAX_QUERY_LIMIT) {
      return (
        `a SELECT returned exactly ${rows} rows, the server's ${limited || rows === MAX_QUERY_LIMIT ? 'maximum (max_query_limit)' : 'default without LIMIT (default_query_limit)'}: ` +
        `the answer may be cut short. Page with ORDER BY + LIMIT/OFFSET in steps of at most ${MAX_QUERY_LIMIT}, or count with COUNT(*). SQL: ${sql.trim().slice(0, 120)}`
      );
    }
  }
  return undefined;
}
