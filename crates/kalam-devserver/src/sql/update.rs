//! UPDATE with CDC (PROTOCOL §2.2, §4), and not a compare-and-set (PROTOCOL §11).
//!
//! On the real server, 16 concurrent `UPDATE ... SET owner = 'wN', epoch = 1 WHERE part = P
//! AND epoch = 0` on one row let 2 to 4 of them report `row_count: 1`, and the row ends with
//! one of their values. Run as one SQLite statement, exactly one would win. So an UPDATE here
//! works in two steps, as the real server does (read, then write by key):
//!
//! 1. *match*: in one critical section, evaluate WHERE and the SET expressions on the current
//!    rows and remember each matching row's key with its new values;
//! 2. leave the engine unlocked for `--update-race-window-ms`, so that concurrent statements
//!    can match the same old rows;
//! 3. *write*: in a second critical section, find each row again by its key and write the new
//!    values, whatever the row holds by then. A row that is gone is skipped; a row that already
//!    holds the new values is a no-op. Only rows actually changed are counted and published.
//!
//! Inside `BEGIN ... COMMIT`, or with a zero window, both steps run without unlocking.

use super::dml::{
    constraint_error, owner_of, read_rows, scope_filter, table_name_of, writable_table,
};
use super::errors::ExecError;
use super::exec::unquote;
use super::rewrite::{quote_ident, rewrite_expressions, rewrite_tables, sqlite_error};
use super::values::coerce;
use super::{DmlKind, Outcome, StmtCtx};
use crate::catalog::TableDef;
use crate::store::session::Session;
use crate::store::Inner;
use crate::topics::publish::{publish, ChangedRow};
use rusqlite::types::Value as SqlValue;
use sqlparser::ast::{Assignment, AssignmentTarget, Expr, Statement, TableWithJoins};

/// What step 1 decided: the rows to write and the values to give their assigned columns.
struct Plan {
    table: TableDef,
    /// Catalog positions of the assigned columns.
    targets: Vec<usize>,
    rows: Vec<PlannedRow>,
}

struct PlannedRow {
    key: RowKey,
    /// New values of `Plan::targets`, computed on the matched row.
    values: Vec<SqlValue>,
}

/// How step 3 finds a row again: by primary key (within the owner's rows for USER and STREAM
/// tables, where the key is unique per owner), or by rowid for a STREAM table without one.
enum RowKey {
    Pk(SqlValue),
    RowId(i64),
}

pub fn update(
    session: &mut Session,
    ctx: &StmtCtx,
    table_ref: TableWithJoins,
    assignments: Vec<Assignment>,
    selection: Option<Expr>,
) -> Result<Outcome, ExecError> {
    let plan = match_rows(session, ctx, table_ref, assignments, selection)?;
    let window = session.options.update_race_window;
    if !plan.rows.is_empty() && !window.is_zero() && session.may_unlock() {
        session.unlocked(|| std::thread::sleep(window));
    }
    let count = write_rows(session, ctx, plan)?;
    Ok(Outcome::Dml {
        kind: DmlKind::Updated,
        count,
    })
}

/// Step 1: the matching rows and their new values.
fn match_rows(
    inner: &Inner,
    ctx: &StmtCtx,
    table_ref: TableWithJoins,
    assignments: Vec<Assignment>,
    selection: Option<Expr>,
) -> Result<Plan, ExecError> {
    let table = writable_table(inner, ctx, &table_name_of(&table_ref)?)?;
    let mut stmt = Statement::Update {
        table: table_ref,
        assignments,
        from: None,
        selection,
        returning: None,
        or: None,
        limit: None,
    };
    rewrite_expressions(
        &mut stmt,
        &ctx.effective.user_id,
        ctx.effective.role.as_str(),
    );
    // Subqueries in SET/WHERE may read other tables: give them the same rewrite as SELECT.
    rewrite_tables(inner, ctx, &mut stmt)?;
    let Statement::Update {
        assignments,
        selection,
        ..
    } = stmt
    else {
        return Err(ExecError::Other("not an update".into()));
    };
    let mut targets = Vec::new();
    let mut exprs = Vec::new();
    for a in &assignments {
        let AssignmentTarget::ColumnName(name) = &a.target else {
            return Err(ExecError::InvalidSql(
                "Tuple assignments are not supported".into(),
            ));
        };
        let col_name = name.0.last().map(|p| p.to_string()).unwrap_or_default();
        let col_name = unquote(&col_name);
        let pos = table
            .columns
            .iter()
            .position(|c| c.name.eq_ignore_ascii_case(&col_name))
            .ok_or_else(|| {
                ExecError::InvalidOperation(format!(
                    "Column '{col_name}' not found in table {}",
                    table.id()
                ))
            })?;
        targets.push(pos);
        exprs.push(a.value.to_string());
    }
    let filter = scope_filter(ctx, &table, selection.as_ref());
    let matched = read_rows(inner, ctx, &table, &exprs, &filter)?;
    let ncols = table.columns.len();
    let pk = table.columns.iter().position(|c| c.primary_key);
    let mut rows = Vec::with_capacity(matched.len());
    for (rowid, values) in matched {
        let mut new_values = Vec::with_capacity(targets.len());
        for (i, &pos) in targets.iter().enumerate() {
            let column = &table.columns[pos];
            let v =
                coerce(column, values[ncols + i].clone()).map_err(ExecError::InvalidOperation)?;
            if v == SqlValue::Null && (column.not_null || column.primary_key) {
                return Err(ExecError::Constraint(format!(
                    "Column '{}' of table {} cannot be null",
                    column.name,
                    table.id()
                )));
            }
            new_values.push(v);
        }
        let key = match pk {
            Some(i) => RowKey::Pk(values[i].clone()),
            None => RowKey::RowId(rowid),
        };
        rows.push(PlannedRow {
            key,
            values: new_values,
        });
    }
    Ok(Plan {
        table,
        targets,
        rows,
    })
}

/// Step 3: writes the planned values by key, unconditionally; returns the rows changed.
fn write_rows(inner: &mut Inner, ctx: &StmtCtx, plan: Plan) -> Result<u64, ExecError> {
    if plan.rows.is_empty() {
        return Ok(0);
    }
    // The catalog may have changed while the engine was unlocked.
    let same_table = inner.tables.get(&plan.table.id()).is_some_and(|t| {
        t.columns.len() == plan.table.columns.len()
            && t.columns
                .iter()
                .zip(&plan.table.columns)
                .all(|(a, b)| a.name == b.name && a.primary_key == b.primary_key)
    });
    if !same_table {
        return Err(ExecError::InvalidOperation(format!(
            "Table {} was dropped or altered while the UPDATE ran",
            plan.table.id()
        )));
    }
    let table = &plan.table;
    let owner = owner_of(ctx, table);
    inner.in_transaction(|inner| -> Result<u64, ExecError> {
        let mut changes = Vec::with_capacity(plan.rows.len());
        for row in &plan.rows {
            let Some((rowid, current)) = find_row(inner, table, owner.as_deref(), &row.key)? else {
                continue; // deleted meanwhile: nothing to update
            };
            let mut new = current.clone();
            for (&pos, v) in plan.targets.iter().zip(&row.values) {
                new[pos] = v.clone();
            }
            if new != current {
                changes.push((rowid, new));
            }
        }
        if changes.is_empty() {
            return Ok(0);
        }
        let commit_seq = inner.next_commit_seq()?;
        let ncols = table.columns.len();
        let sets: Vec<String> = table
            .columns
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{} = ?{}", quote_ident(&c.name), i + 1))
            .collect();
        let sql = format!(
            "UPDATE main.{} SET {}, _seq = ?{}, _commit_seq = ?{} WHERE rowid = ?{}",
            table.sqlite_name(),
            sets.join(", "),
            ncols + 1,
            ncols + 2,
            ncols + 3
        );
        let count = changes.len() as u64;
        let mut published = Vec::with_capacity(changes.len());
        for (rowid, values) in changes {
            let seq = crate::ids::snowflake_id();
            let mut bind = values.clone();
            bind.extend([
                SqlValue::Integer(seq),
                SqlValue::Integer(commit_seq),
                SqlValue::Integer(rowid),
            ]);
            inner
                .conn
                .prepare_cached(&sql)?
                .execute(rusqlite::params_from_iter(bind))
                .map_err(|e| constraint_error(table, &values, e))?;
            published.push(ChangedRow {
                values,
                seq,
                deleted: false,
                owner: owner.clone(),
            });
        }
        publish(inner, table, "update", &published, commit_seq)?;
        Ok(count)
    })
}

/// The rowid and current values of a planned row, or None when it no longer exists.
fn find_row(
    inner: &Inner,
    table: &TableDef,
    owner: Option<&str>,
    key: &RowKey,
) -> Result<Option<(i64, Vec<SqlValue>)>, ExecError> {
    let cols: Vec<String> = table.columns.iter().map(|c| quote_ident(&c.name)).collect();
    let (condition, bind) = match key {
        RowKey::RowId(rowid) => ("rowid = ?1".to_string(), SqlValue::Integer(*rowid)),
        RowKey::Pk(value) => {
            let pk = table.pk().map(|c| quote_ident(&c.name)).unwrap_or_default();
            (format!("{pk} = ?1"), value.clone())
        }
    };
    let owner_condition = if owner.is_some() {
        " AND _owner = ?2"
    } else {
        ""
    };
    let sql = format!(
        "SELECT rowid, {} FROM main.{} WHERE {condition}{owner_condition}",
        cols.join(", "),
        table.sqlite_name()
    );
    let mut stmt = inner.conn.prepare_cached(&sql).map_err(sqlite_error)?;
    stmt.raw_bind_parameter(1, bind).map_err(sqlite_error)?;
    if let Some(o) = owner {
        stmt.raw_bind_parameter(2, o).map_err(sqlite_error)?;
    }
    let mut rows = stmt.raw_query();
    let Some(row) = rows.next().map_err(sqlite_error)? else {
        return Ok(None);
    };
    let rowid: i64 = row.get(0).map_err(sqlite_error)?;
    let values = (0..cols.len())
        .map(|i| row.get::<_, SqlValue>(i + 1))
        .collect::<Result<Vec<_>, _>>()
        .map_err(sqlite_error)?;
    Ok(Some((rowid, values)))
}
