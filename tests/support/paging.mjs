// @ts-check
// Reading every row of a table through the SQL endpoint. The server answers a SELECT without
// LIMIT with at most 50 rows and any SELECT with at most 1,000, and says nothing about the rows
// it left out (docs/PROTOCOL.md §11), so a check that needs every row reads it in pages.

/** Rows per page: the real server's default `max_query_limit`. */
export const PAGE_ROWS = 1000;

/**
 * Every row of `sql`, read in pages of PAGE_ROWS with LIMIT/OFFSET. `sql` must have no LIMIT
 * or OFFSET of its own and must end with an ORDER BY that makes the order total (a unique key
 * last), or rows could repeat or go missing between pages.
 * @template T
 * @param {(sql: string, params?: unknown[]) => Promise<T[]>} select runs one SELECT, returns its rows
 * @param {string} sql
 * @param {unknown[]} [params]
 * @returns {Promise<T[]>}
 */
export async function readAllPages(select, sql, params) {
  if (!/\border\s+by\b/i.test(sql) || /\b(limit|offset)\b/i.test(sql)) {
    throw new Error(`readAllPages needs an ORDER BY and no LIMIT/OFFSET of its own: ${sql}`);
  }
  /** @type {T[]} */
  const out = [];
  for (;;) {
    const page = await select(`${sql} LIMIT ${PAGE_ROWS} OFFSET ${out.length}`, params);
    out.push(...page);
    if (page.length < PAGE_ROWS) return out;
  }
}
