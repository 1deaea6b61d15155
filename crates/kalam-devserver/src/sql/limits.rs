//! Silent caps on SELECT results (PROTOCOL §11, the real server's `apply_select_limits`):
//! a SELECT without LIMIT returns at most `default_rows` rows, any SELECT at most `max_rows`,
//! and nothing in the response says that rows were cut. Code that needs every row has to page.

use sqlparser::ast::{LimitClause, Query, SetExpr};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueryLimits {
    /// `[limits] default_query_limit`: most rows of a SELECT that has no LIMIT.
    pub default_rows: usize,
    /// `[limits] max_query_limit`: most rows of any SELECT, whatever its LIMIT says.
    pub max_rows: usize,
}

impl Default for QueryLimits {
    fn default() -> Self {
        QueryLimits {
            default_rows: 50,
            max_rows: 1000,
        }
    }
}

impl QueryLimits {
    /// Most rows the final result of `query` may have. Only the statement's own outermost
    /// LIMIT counts: one inside a subquery, a CTE or a UNION branch shapes what that part
    /// feeds in, but the final result still gets the default cap.
    pub fn row_cap(&self, query: &Query) -> usize {
        if has_own_limit(query) {
            self.max_rows
        } else {
            // A default above the maximum would let an unlimited SELECT return more rows
            // than a limited one may.
            self.default_rows.min(self.max_rows)
        }
    }
}

/// True when the query's outermost level says how many rows it wants. OFFSET alone and
/// `LIMIT ALL` do not (they ask for "everything", which is what the default cap limits).
fn has_own_limit(query: &Query) -> bool {
    let limited = match &query.limit_clause {
        Some(LimitClause::LimitOffset { limit, .. }) => limit.is_some(),
        Some(LimitClause::OffsetCommaLimit { .. }) => true,
        None => false,
    };
    if limited || query.fetch.is_some() {
        return true;
    }
    // `(SELECT ... LIMIT n)` parses as a query whose body is the parenthesised query.
    match query.body.as_ref() {
        SetExpr::Query(inner) => has_own_limit(inner),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlparser::ast::Statement;
    use sqlparser::dialect::GenericDialect;
    use sqlparser::parser::Parser;

    fn cap(sql: &str) -> usize {
        let limits = QueryLimits {
            default_rows: 50,
            max_rows: 1000,
        };
        match Parser::parse_sql(&GenericDialect {}, sql)
            .unwrap()
            .remove(0)
        {
            Statement::Query(q) => limits.row_cap(&q),
            other => panic!("not a query: {other}"),
        }
    }

    #[test]
    fn the_outermost_limit_decides() {
        assert_eq!(cap("SELECT * FROM t"), 50);
        assert_eq!(cap("SELECT * FROM t WHERE id >= 1400"), 50);
        assert_eq!(cap("SELECT * FROM t LIMIT 5000"), 1000);
        assert_eq!(cap("SELECT * FROM t ORDER BY id DESC LIMIT 1200"), 1000);
        assert_eq!(cap("SELECT * FROM t LIMIT 10 OFFSET 1495"), 1000);
        assert_eq!(cap("SELECT * FROM t LIMIT $1"), 1000);
        assert_eq!(cap("(SELECT * FROM t LIMIT 7)"), 1000);
        assert_eq!(cap("SELECT * FROM t FETCH FIRST 5 ROWS ONLY"), 1000);
    }

    #[test]
    fn inner_limits_and_offset_alone_keep_the_default() {
        assert_eq!(cap("SELECT * FROM t OFFSET 10"), 50);
        assert_eq!(cap("SELECT * FROM t LIMIT ALL"), 50);
        assert_eq!(cap("SELECT * FROM (SELECT * FROM t LIMIT 500) AS x"), 50);
        assert_eq!(
            cap("WITH x AS (SELECT * FROM t LIMIT 500) SELECT * FROM x"),
            50
        );
        assert_eq!(cap("SELECT a FROM t UNION ALL SELECT a FROM u"), 50);
        assert_eq!(
            cap("SELECT a FROM t UNION ALL SELECT a FROM u LIMIT 2000"),
            1000
        );
    }

    #[test]
    fn a_default_above_the_maximum_is_held_to_the_maximum() {
        let limits = QueryLimits {
            default_rows: 5000,
            max_rows: 100,
        };
        let Statement::Query(q) = Parser::parse_sql(&GenericDialect {}, "SELECT 1")
            .unwrap()
            .remove(0)
        else {
            unreachable!()
        };
        assert_eq!(limits.row_cap(&q), 100);
    }
}
