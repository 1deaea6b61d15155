//! INSERT and DELETE with CDC (PROTOCOL §2.2, §4), and the helpers UPDATE (`update.rs`)
//! shares: rows are written and their topic messages published in one SQLite transaction.
//! DELETE reads the affected rows first so it can publish the old row with `_deleted: true`;
//! it matches and deletes in one critical section, so of concurrent DELETEs of one row
//! exactly one counts it.

use super::errors::ExecError;
use super::exec::{check_access, resolve_table, unquote};
use super::rewrite::{
    bind_params, quote_ident, quote_literal, rewrite_expressions, rewrite_tables, sqlite_error,
    stream_cutoff_seq,
};
use super::values::{coerce, default_value, eval_simple};
use super::{DmlKind, Outcome, StmtCtx};
use crate::catalog::{TableDef, TableType};
use crate::store::Inner;
use crate::topics::publish::{publish, ChangedRow};
use rusqlite::types::Value as SqlValue;
use sqlparser::ast::{
    Delete, Expr, FromTable, Insert, SetExpr, Statement, TableFactor, TableObject, TableWithJoins,
};

pub(super) fn table_name_of(twj: &TableWithJoins) -> Result<String, ExecError> {
    match &twj.relation {
        TableFactor::Table { name, .. } if twj.joins.is_empty() => Ok(unquote(&name.to_string())),
        _ => Err(ExecError::InvalidSql(
            "Only single-table UPDATE/DELETE is supported".into(),
        )),
    }
}

pub(super) fn writable_table(
    inner: &Inner,
    ctx: &StmtCtx,
    name: &str,
) -> Result<TableDef, ExecError> {
    let table = resolve_table(inner, name, ctx.namespace)?;
    check_access(ctx, &table, true)?;
    Ok(table)
}

pub(super) fn owner_of(ctx: &StmtCtx, table: &TableDef) -> Option<String> {
    table
        .table_type
        .is_per_user()
        .then(|| ctx.effective.user_id.clone())
}

/// Evaluates one expression: constants in Rust, anything else through SQLite.
fn eval_expr(inner: &Inner, ctx: &StmtCtx, expr: &Expr) -> Result<SqlValue, ExecError> {
    if let Some(v) = eval_simple(expr, ctx.params, &ctx.effective.user_id) {
        return Ok(v);
    }
    let mut stmt = inner
        .conn
        .prepare(&format!("SELECT {expr}"))
        .map_err(sqlite_error)?;
    bind_params(&mut stmt, ctx.params)?;
    let mut rows = stmt.raw_query();
    match rows.next().map_err(sqlite_error)? {
        Some(row) => row.get::<_, SqlValue>(0).map_err(sqlite_error),
        None => Ok(SqlValue::Null),
    }
}

/// A duplicate primary key, worded like the real server (PROTOCOL §11): `Already exists:
/// Primary key violation: value '0' already exists in column 'part'`. `row` is the row being
/// written, in catalog order.
pub(super) fn constraint_error(
    table: &TableDef,
    row: &[SqlValue],
    e: rusqlite::Error,
) -> ExecError {
    let text = e.to_string();
    if text.contains("UNIQUE constraint failed") || text.contains("PRIMARY KEY") {
        let pk = table.columns.iter().position(|c| c.primary_key);
        let column = pk.map(|i| table.columns[i].name.as_str()).unwrap_or("");
        let value = pk
            .and_then(|i| row.get(i))
            .map(value_text)
            .unwrap_or_default();
        return ExecError::AlreadyExists(format!(
            "Primary key violation: value '{value}' already exists in column '{column}'"
        ));
    }
    sqlite_error(e)
}

fn value_text(v: &SqlValue) -> String {
    match v {
        SqlValue::Null => "NULL".into(),
        SqlValue::Integer(i) => i.to_string(),
        SqlValue::Real(f) => f.to_string(),
        SqlValue::Text(s) => s.clone(),
        SqlValue::Blob(b) => String::from_utf8_lossy(b).into_owned(),
    }
}

pub fn insert(inner: &mut Inner, ctx: &StmtCtx, mut ins: Insert) -> Result<Outcome, ExecError> {
    let TableObject::TableName(name) = &ins.table else {
        return Err(ExecError::InvalidSql(
            "INSERT into a table function is not supported".into(),
        ));
    };
    let table = writable_table(inner, ctx, &unquote(&name.to_string()))?;
    let mut wrapped = Statement::Insert(ins.clone());
    rewrite_expressions(
        &mut wrapped,
        &ctx.effective.user_id,
        ctx.effective.role.as_str(),
    );
    if let Statement::Insert(i) = wrapped {
        ins = i;
    }
    let Some(source) = ins.source.as_ref() else {
        return Err(ExecError::InvalidSql("INSERT requires VALUES".into()));
    };
    let SetExpr::Values(values) = source.body.as_ref() else {
        return Err(ExecError::InvalidSql(
            "Only INSERT ... VALUES is supported".into(),
        ));
    };
    // Column positions in catalog order for each provided value.
    let targets: Vec<usize> = if ins.columns.is_empty() {
        (0..table.columns.len()).collect()
    } else {
        ins.columns
            .iter()
            .map(|c| {
                table
                    .columns
                    .iter()
                    .position(|d| d.name.eq_ignore_ascii_case(&c.value))
                    .ok_or_else(|| {
                        ExecError::InvalidOperation(format!(
                            "Column '{}' not found in table {}",
                            c.value,
                            table.id()
                        ))
                    })
            })
            .collect::<Result<_, _>>()?
    };
    let owner = owner_of(ctx, &table);
    let mut new_rows: Vec<Vec<SqlValue>> = Vec::with_capacity(values.rows.len());
    for row in &values.rows {
        if row.len() != targets.len() {
            return Err(ExecError::InvalidOperation(format!(
                "INSERT has {} target column(s) but {} value(s)",
                targets.len(),
                row.len()
            )));
        }
        let mut provided: Vec<Option<SqlValue>> = vec![None; table.columns.len()];
        for (expr, &pos) in row.iter().zip(&targets) {
            if matches!(expr, Expr::Identifier(id) if id.quote_style.is_none() && id.value.eq_ignore_ascii_case("default"))
            {
                continue; // VALUES (DEFAULT): the column's default applies
            }
            let v = eval_expr(inner, ctx, expr)?;
            provided[pos] =
                Some(coerce(&table.columns[pos], v).map_err(ExecError::InvalidOperation)?);
        }
        let mut full = Vec::with_capacity(table.columns.len());
        for (col, given) in table.columns.iter().zip(provided) {
            let v = match given {
                Some(v) => v,
                None => match &col.default {
                    Some(d) => coerce(col, default_value(d, &ctx.effective.user_id))
                        .map_err(ExecError::InvalidOperation)?,
                    None => SqlValue::Null,
                },
            };
            if v == SqlValue::Null && (col.not_null || col.primary_key) {
                return Err(ExecError::Constraint(format!(
                    "Column '{}' of table {} cannot be null",
                    col.name,
                    table.id()
                )));
            }
            full.push(v);
        }
        new_rows.push(full);
    }
    let count = new_rows.len() as u64;
    inner.in_transaction(|inner| -> Result<(), ExecError> {
        let commit_seq = inner.next_commit_seq()?;
        let cols: Vec<String> = table.columns.iter().map(|c| quote_ident(&c.name)).collect();
        let marks: Vec<String> = (1..=table.columns.len() + 3)
            .map(|i| format!("?{i}"))
            .collect();
        let sql = format!(
            "INSERT INTO main.{} ({}, _owner, _seq, _commit_seq) VALUES ({})",
            table.sqlite_name(),
            cols.join(", "),
            marks.join(", ")
        );
        let mut changed = Vec::with_capacity(new_rows.len());
        for values in new_rows {
            let seq = crate::ids::snowflake_id();
            {
                let mut stmt = inner.conn.prepare_cached(&sql)?;
                let mut bind: Vec<SqlValue> = values.clone();
                bind.push(owner.clone().map(SqlValue::Text).unwrap_or(SqlValue::Null));
                bind.push(SqlValue::Integer(seq));
                bind.push(SqlValue::Integer(commit_seq));
                stmt.execute(rusqlite::params_from_iter(bind))
                    .map_err(|e| constraint_error(&table, &values, e))?;
            }
            changed.push(ChangedRow {
                values,
                seq,
                deleted: false,
                owner: owner.clone(),
            });
        }
        publish(inner, &table, "insert", &changed, commit_seq)?;
        Ok(())
    })?;
    Ok(Outcome::Dml {
        kind: DmlKind::Inserted,
        count,
    })
}

/// WHERE clause selecting the effective user's live rows plus the statement's own filter.
pub(super) fn scope_filter(ctx: &StmtCtx, table: &TableDef, selection: Option<&Expr>) -> String {
    let mut conds = Vec::new();
    if table.table_type.is_per_user() {
        conds.push(format!(
            "_owner = {}",
            quote_literal(&ctx.effective.user_id)
        ));
    }
    if let (TableType::Stream, Some(ttl)) = (table.table_type, table.ttl_seconds) {
        conds.push(format!("_seq >= {}", stream_cutoff_seq(ttl)));
    }
    if let Some(sel) = selection {
        conds.push(format!("({sel})"));
    }
    if conds.is_empty() {
        "1".into()
    } else {
        conds.join(" AND ")
    }
}

/// Reads rowid + all columns (+ extra expressions) of the affected rows.
pub(super) fn read_rows(
    inner: &Inner,
    ctx: &StmtCtx,
    table: &TableDef,
    extra: &[String],
    filter: &str,
) -> Result<Vec<(i64, Vec<SqlValue>)>, ExecError> {
    let mut cols: Vec<String> = table.columns.iter().map(|c| quote_ident(&c.name)).collect();
    cols.extend(extra.iter().cloned());
    let sql = format!(
        "SELECT rowid, {} FROM main.{} AS {} WHERE {}",
        cols.join(", "),
        table.sqlite_name(),
        quote_ident(&table.name),
        filter
    );
    let mut stmt = inner.conn.prepare(&sql).map_err(sqlite_error)?;
    bind_params(&mut stmt, ctx.params)?;
    let n = cols.len();
    let mut out = Vec::new();
    let mut rows = stmt.raw_query();
    while let Some(row) = rows.next().map_err(sqlite_error)? {
        let rowid: i64 = row.get(0).map_err(sqlite_error)?;
        let mut values = Vec::with_capacity(n);
        for i in 0..n {
            values.push(row.get::<_, SqlValue>(i + 1).map_err(sqlite_error)?);
        }
        out.push((rowid, values));
    }
    Ok(out)
}

pub fn delete(inner: &mut Inner, ctx: &StmtCtx, del: Delete) -> Result<Outcome, ExecError> {
    let from = match &del.from {
        FromTable::WithFromKeyword(t) | FromTable::WithoutKeyword(t) => t,
    };
    let [twj] = from.as_slice() else {
        return Err(ExecError::InvalidSql(
            "DELETE supports exactly one table".into(),
        ));
    };
    let table = writable_table(inner, ctx, &table_name_of(twj)?)?;
    let mut stmt = Statement::Delete(del);
    rewrite_expressions(
        &mut stmt,
        &ctx.effective.user_id,
        ctx.effective.role.as_str(),
    );
    rewrite_tables(inner, ctx, &mut stmt)?;
    let Statement::Delete(del) = stmt else {
        return Err(ExecError::Other("not a delete".into()));
    };
    let filter = scope_filter(ctx, &table, del.selection.as_ref());
    let rows = read_rows(inner, ctx, &table, &[], &filter)?;
    let count = rows.len() as u64;
    if count > 0 {
        let owner = owner_of(ctx, &table);
        inner.in_transaction(|inner| -> Result<(), ExecError> {
            let commit_seq = inner.next_commit_seq()?;
            let sql = format!("DELETE FROM main.{} WHERE rowid = ?1", table.sqlite_name());
            let mut published = Vec::with_capacity(rows.len());
            for (rowid, values) in rows {
                inner.conn.prepare_cached(&sql)?.execute([rowid])?;
                published.push(ChangedRow {
                    values,
                    seq: crate::ids::snowflake_id(),
                    deleted: true,
                    owner: owner.clone(),
                });
            }
            publish(inner, &table, "delete", &published, commit_seq)?;
            Ok(())
        })?;
    }
    Ok(Outcome::Dml {
        kind: DmlKind::Deleted,
        count,
    })
}
