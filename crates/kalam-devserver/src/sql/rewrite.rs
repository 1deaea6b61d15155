//! Rewrites a parsed statement so SQLite can run it: KalamDB table names become derived
//! tables over the mangled SQLite tables (which also applies per-user isolation and hides the
//! system columns), `$n` becomes `?n`, and KalamDB functions get SQLite spellings.

use super::errors::ExecError;
use super::exec::{check_access, resolve_table, unquote};
use super::StmtCtx;
use crate::catalog::{TableDef, TableType};
use crate::store::Inner;
use rusqlite::types::Value as SqlValue;
use sqlparser::ast::{
    Expr, Ident, LimitClause, Query, SetExpr, Statement, TableAlias, TableFactor, Value, VisitMut,
    VisitorMut,
};
use sqlparser::dialect::GenericDialect;
use sqlparser::parser::Parser;
use std::collections::HashSet;
use std::ops::ControlFlow;

/// SQL producing the visible columns of a KalamDB table for the effective user.
pub fn table_source(table: &TableDef, owner: &str) -> String {
    if let Some(src) = &table.system_source {
        return src.clone();
    }
    let cols: Vec<String> = table.columns.iter().map(|c| quote_ident(&c.name)).collect();
    let mut sql = format!(
        "SELECT {} FROM main.{}",
        cols.join(", "),
        table.sqlite_name()
    );
    let mut conds = Vec::new();
    if table.table_type.is_per_user() {
        conds.push(format!("_owner = {}", quote_literal(owner)));
    }
    if let (TableType::Stream, Some(ttl)) = (table.table_type, table.ttl_seconds) {
        conds.push(format!("_seq >= {}", stream_cutoff_seq(ttl)));
    }
    if !conds.is_empty() {
        sql.push_str(" WHERE ");
        sql.push_str(&conds.join(" AND "));
    }
    sql
}

/// Rows of a STREAM table expire after TTL_SECONDS; `_seq` carries the write time in ms << 22.
pub fn stream_cutoff_seq(ttl_seconds: i64) -> i64 {
    let cutoff_ms = crate::ids::now_millis() - ttl_seconds.saturating_mul(1000);
    cutoff_ms.max(0) << 22
}

pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

pub fn quote_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// Rewrites expressions everywhere in a statement: placeholders and KalamDB functions.
pub fn rewrite_expressions(stmt: &mut Statement, current_user: &str, current_role: &str) {
    let _ = sqlparser::ast::visit_expressions_mut(stmt, |expr| {
        match expr {
            Expr::Identifier(id)
                if id.quote_style.is_none() && id.value.eq_ignore_ascii_case("current_role") =>
            {
                *expr = Expr::value(Value::SingleQuotedString(current_role.to_string()));
            }
            Expr::Value(v) => {
                if let Value::Placeholder(p) = &mut v.value {
                    if let Some(n) = p.strip_prefix('$') {
                        if n.chars().all(|c| c.is_ascii_digit()) && !n.is_empty() {
                            *p = format!("?{n}");
                        }
                    }
                }
            }
            Expr::Function(f) => {
                let name = f.name.to_string().to_ascii_lowercase();
                if matches!(name.as_str(), "current_user" | "kdb_current_user") {
                    *expr = Expr::value(Value::SingleQuotedString(current_user.to_string()));
                } else if name == "current_timestamp" {
                    if let Ok(e) = Parser::new(&GenericDialect {})
                        .try_with_sql("now()")
                        .and_then(|mut p| p.parse_expr())
                    {
                        *expr = e;
                    }
                }
            }
            _ => {}
        }
        ControlFlow::<()>::Continue(())
    });
}

struct TableRewriter<'a> {
    inner: &'a Inner,
    ctx: &'a StmtCtx<'a>,
    ctes: HashSet<String>,
    used: Vec<TableDef>,
}

impl VisitorMut for TableRewriter<'_> {
    type Break = ExecError;

    fn pre_visit_query(&mut self, query: &mut Query) -> ControlFlow<Self::Break> {
        if let Some(with) = &query.with {
            for cte in &with.cte_tables {
                self.ctes.insert(cte.alias.name.value.to_ascii_lowercase());
            }
        }
        // SQLite only accepts OFFSET after a LIMIT; its `LIMIT -1` means "no limit".
        if let Some(LimitClause::LimitOffset {
            limit: limit @ None,
            offset: Some(_),
            ..
        }) = &mut query.limit_clause
        {
            *limit = Some(Expr::value(Value::Number("-1".into(), false)));
        }
        ControlFlow::Continue(())
    }

    // Post-visit: the derived table put in place is not visited again, so only names written
    // by the client are resolved (and `main.users` & co. stay unreachable).
    fn post_visit_table_factor(&mut self, tf: &mut TableFactor) -> ControlFlow<Self::Break> {
        let TableFactor::Table { name, alias, .. } = tf else {
            return ControlFlow::Continue(());
        };
        let raw = unquote(&name.to_string());
        let lower = raw.to_ascii_lowercase();
        if self.ctes.contains(&lower) {
            return ControlFlow::Continue(());
        }
        let table = match resolve_table(self.inner, &raw, self.ctx.namespace) {
            Ok(t) => t,
            Err(e) => return ControlFlow::Break(e),
        };
        if let Err(e) = check_access(self.ctx, &table, false) {
            return ControlFlow::Break(e);
        }
        let source = table_source(&table, &self.ctx.effective.user_id);
        let subquery = match parse_query(&source) {
            Ok(q) => q,
            Err(e) => return ControlFlow::Break(e),
        };
        let alias = alias.clone().unwrap_or(TableAlias {
            name: Ident::new(table.name.clone()),
            columns: vec![],
        });
        self.used.push(table);
        *tf = TableFactor::Derived {
            lateral: false,
            subquery: Box::new(subquery),
            alias: Some(alias),
        };
        ControlFlow::Continue(())
    }
}

fn parse_query(sql: &str) -> Result<Query, ExecError> {
    let mut stmts =
        Parser::parse_sql(&GenericDialect {}, sql).map_err(|e| ExecError::Other(e.to_string()))?;
    match stmts.pop() {
        Some(Statement::Query(q)) => Ok(*q),
        _ => Err(ExecError::Other(
            "internal table source is not a query".into(),
        )),
    }
}

/// Rewrites every table reference of a statement; returns the KalamDB tables it reads.
pub fn rewrite_tables(
    inner: &Inner,
    ctx: &StmtCtx,
    stmt: &mut Statement,
) -> Result<Vec<TableDef>, ExecError> {
    let mut rw = TableRewriter {
        inner,
        ctx,
        ctes: HashSet::new(),
        used: Vec::new(),
    };
    match stmt.visit(&mut rw) {
        ControlFlow::Break(e) => Err(e),
        ControlFlow::Continue(()) => Ok(rw.used),
    }
}

/// Binds `?n` parameters (missing ones as NULL) and returns column names and at most
/// `max_rows` rows (SQLite is not asked for the rest).
pub fn query_rows(
    conn: &rusqlite::Connection,
    sql: &str,
    params: &[SqlValue],
    max_rows: usize,
) -> Result<(Vec<String>, Vec<Vec<SqlValue>>), ExecError> {
    let mut stmt = conn.prepare(sql).map_err(sqlite_error)?;
    bind_params(&mut stmt, params)?;
    let names: Vec<String> = stmt.column_names().iter().map(|s| s.to_string()).collect();
    let ncols = names.len();
    let mut rows = Vec::new();
    let mut raw = stmt.raw_query();
    while rows.len() < max_rows {
        let Some(row) = raw.next().map_err(sqlite_error)? else {
            break;
        };
        let mut values = Vec::with_capacity(ncols);
        for i in 0..ncols {
            values.push(row.get::<_, SqlValue>(i).map_err(sqlite_error)?);
        }
        rows.push(values);
    }
    Ok((names, rows))
}

pub fn bind_params(stmt: &mut rusqlite::Statement, params: &[SqlValue]) -> Result<(), ExecError> {
    for idx in 1..=stmt.parameter_count() {
        let n: usize = stmt
            .parameter_name(idx)
            .and_then(|name| name.trim_start_matches(['?', '$']).parse().ok())
            .unwrap_or(idx);
        let value = n
            .checked_sub(1)
            .and_then(|i| params.get(i))
            .cloned()
            .unwrap_or(SqlValue::Null);
        stmt.raw_bind_parameter(idx, value).map_err(sqlite_error)?;
    }
    Ok(())
}

/// SQLite failures while running user SQL: "no such column" and friends are the user's
/// mistake, reported like the real server's planning errors.
pub fn sqlite_error(e: rusqlite::Error) -> ExecError {
    // SQLite appends " in <the rewritten SQL> at offset N"; that text is internal, drop it.
    let full = e.to_string();
    let text = match full.find(" in ") {
        Some(i) if full[i..].contains(" at offset ") || full[i..].starts_with(" in SELECT") => {
            full[..i].to_string()
        }
        _ => full,
    };
    if let Some(col) = text.strip_prefix("no such column: ") {
        return ExecError::InvalidOperation(format!("Schema error: No field named {col}"));
    }
    if let Some(f) = text.strip_prefix("no such function: ") {
        return ExecError::InvalidOperation(format!("Invalid function '{f}'"));
    }
    ExecError::Other(text)
}

/// True when a query's top level is a plain SELECT (used for result naming).
pub fn top_select(query: &Query) -> Option<&sqlparser::ast::Select> {
    match query.body.as_ref() {
        SetExpr::Select(s) => Some(s),
        _ => None,
    }
}
