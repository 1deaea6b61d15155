//! `POST /v1/api/sql` execution (PROTOCOL §2): batches, parameters, EXECUTE AS USER, the
//! result shapes. Statement kinds live in their own files.

pub mod ddl;
pub mod dml;
pub mod errors;
pub mod exec;
pub mod functions;
pub mod kalam_parser;
pub mod limits;
pub mod prehash;
pub mod rewrite;
pub mod select;
pub mod split;
#[cfg(test)]
mod tests;
pub mod topic_sql;
pub mod update;
pub mod values;

use crate::store::session::Session;
use crate::users::Role;
use errors::{ExecError, SqlFailure};
use rusqlite::types::Value as SqlValue;
use serde_json::{json, Map, Value as Json};
use std::collections::HashMap;
use std::time::Instant;

pub const MAX_SQL_LENGTH: usize = 1024 * 1024;
pub const MAX_PARAMS: usize = 50;
pub const MAX_PARAM_BYTES: usize = 512 * 1024;

#[derive(Clone, Debug)]
pub struct Identity {
    pub user_id: String,
    pub role: Role,
}

/// Context of one statement: the effective identity (after EXECUTE AS USER), the caller.
pub struct StmtCtx<'a> {
    pub effective: Identity,
    pub impersonating: bool,
    pub params: &'a [SqlValue],
    /// The JSON parameters as sent, so `SELECT $1` can report the parameter's own type.
    pub raw_params: &'a [Json],
    pub namespace: &'a str,
    pub prehashed: &'a HashMap<String, String>,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum DmlKind {
    Inserted,
    Updated,
    Deleted,
}

pub enum Outcome {
    Rows {
        schema: Vec<Json>,
        rows: Vec<Vec<Json>>,
    },
    Message(String),
    Dml {
        kind: DmlKind,
        count: u64,
    },
}

pub struct SqlRequest {
    pub sql: String,
    pub params: Option<Vec<Json>>,
    pub namespace_id: Option<String>,
    /// Password hashes computed before the engine lock was taken (see `prehash`).
    pub prehashed: HashMap<String, String>,
}

/// Runs a request; returns the HTTP status and the JSON body.
pub fn execute_request(inner: &mut Session, caller: &Identity, req: SqlRequest) -> (u16, Json) {
    let started = Instant::now();
    let outcome = run(inner, caller, req);
    // A transaction never outlives its request: roll back what a failure or a missing COMMIT
    // left open.
    let outcome = match outcome {
        Ok(_) if inner.explicit_tx => {
            inner.rollback_explicit();
            Err(SqlFailure::new(
                400,
                "SQL_EXECUTION_ERROR",
                "Transaction was not committed; it has been rolled back",
            ))
        }
        Err(f) => {
            inner.rollback_explicit();
            Err(f)
        }
        ok => ok,
    };
    match outcome {
        Ok((results, single_select)) => {
            let mut body =
                json!({ "status": "success", "results": results, "took": took_ms(started) });
            if single_select {
                body["error"] = Json::Null;
            }
            (200, body)
        }
        Err(f) => (f.status, error_body(&f, took_ms(started))),
    }
}

pub fn error_body(f: &SqlFailure, took: f64) -> Json {
    let mut error = json!({ "code": f.code, "message": f.message });
    if let Some(d) = &f.details {
        error["details"] = Json::String(d.clone());
    }
    json!({ "status": "error", "results": [], "took": took, "error": error })
}

pub fn took_ms(started: Instant) -> f64 {
    (started.elapsed().as_secs_f64() * 1000.0 * 1000.0).round() / 1000.0
}

fn run(
    inner: &mut Session,
    caller: &Identity,
    req: SqlRequest,
) -> Result<(Vec<Json>, bool), SqlFailure> {
    if req.sql.len() > MAX_SQL_LENGTH {
        return Err(SqlFailure::new(
            400,
            "INVALID_SQL",
            format!("SQL query too long (max {MAX_SQL_LENGTH} bytes)"),
        ));
    }
    if req.sql.trim().is_empty() {
        return Err(SqlFailure::new(
            400,
            "EMPTY_SQL",
            "SQL query cannot be empty",
        ));
    }
    let statements = split::split_statements(&req.sql).map_err(|e| {
        SqlFailure::new(
            400,
            "BATCH_PARSE_ERROR",
            format!("Failed to parse SQL batch: {e}"),
        )
    })?;
    if statements.is_empty() {
        return Err(SqlFailure::new(
            400,
            "EMPTY_SQL",
            "SQL query cannot be empty",
        ));
    }
    let raw_params = req.params.unwrap_or_default();
    if !raw_params.is_empty() && statements.len() > 1 {
        return Err(SqlFailure::new(
            400,
            "PARAMS_WITH_BATCH",
            "Parameters are not supported with multiple statements",
        ));
    }
    if raw_params.len() > MAX_PARAMS {
        return Err(SqlFailure::new(
            400,
            "INVALID_PARAMETER",
            format!("Too many parameters (max {MAX_PARAMS})"),
        ));
    }
    let mut params = Vec::with_capacity(raw_params.len());
    for (i, p) in raw_params.iter().enumerate() {
        if p.as_str()
            .map(|s| s.len() > MAX_PARAM_BYTES)
            .unwrap_or(false)
        {
            return Err(SqlFailure::new(
                400,
                "INVALID_PARAMETER",
                format!(
                    "Parameter ${} invalid: value exceeds {MAX_PARAM_BYTES} bytes",
                    i + 1
                ),
            ));
        }
        params.push(
            values::json_param(i + 1, p)
                .map_err(|m| SqlFailure::new(400, "INVALID_PARAMETER", m))?,
        );
    }
    let namespace = req
        .namespace_id
        .unwrap_or_else(|| "default".into())
        .to_ascii_lowercase();
    let batch = statements.len() > 1;

    let mut results = Vec::new();
    let mut sums: Vec<(DmlKind, u64)> = Vec::new();
    let mut single_select = false;
    for (i, stmt_sql) in statements.iter().enumerate() {
        let n = i + 1;
        let (outcome, as_user) = run_one(
            inner,
            caller,
            stmt_sql,
            &params,
            &raw_params,
            &namespace,
            &req.prehashed,
        )
        .map_err(|e| SqlFailure::from_exec(e, n, stmt_sql, caller.role))?;
        match outcome {
            Outcome::Dml { kind, count } if batch => {
                match sums.iter_mut().find(|(k, _)| *k == kind) {
                    Some(entry) => entry.1 += count,
                    None => sums.push((kind, count)),
                }
            }
            Outcome::Dml { kind, count } => results.push(dml_result(kind, count, &as_user)),
            Outcome::Rows { schema, rows } => {
                single_select = !batch;
                let mut obj = Map::new();
                if !schema.is_empty() {
                    obj.insert("schema".into(), Json::Array(schema));
                }
                obj.insert("row_count".into(), json!(rows.len()));
                obj.insert(
                    "rows".into(),
                    Json::Array(rows.into_iter().map(Json::Array).collect()),
                );
                obj.insert("as_user".into(), Json::String(as_user));
                results.push(Json::Object(obj));
            }
            Outcome::Message(message) => {
                results.push(json!({ "row_count": 0, "message": message, "as_user": as_user }));
            }
        }
    }
    sums.sort_by_key(|(k, _)| *k as u8);
    for (kind, count) in sums {
        results.push(dml_result(kind, count, &caller.user_id));
    }
    Ok((results, single_select))
}

fn dml_result(kind: DmlKind, count: u64, as_user: &str) -> Json {
    let verb = match kind {
        DmlKind::Inserted => "Inserted",
        DmlKind::Updated => "Updated",
        DmlKind::Deleted => "Deleted",
    };
    json!({ "row_count": count, "message": format!("{verb} {count} row(s)"), "as_user": as_user })
}

/// One statement, with its optional EXECUTE AS USER wrapper. Returns the outcome and `as_user`.
fn run_one(
    inner: &mut Session,
    caller: &Identity,
    stmt_sql: &str,
    params: &[SqlValue],
    raw_params: &[Json],
    namespace: &str,
    prehashed: &HashMap<String, String>,
) -> Result<(Outcome, String), ExecError> {
    let wrapper = split::parse_execute_as(stmt_sql).map_err(ExecError::InvalidInput)?;
    let (effective, inner_sql, impersonating) = match wrapper {
        None => (caller.clone(), stmt_sql.to_string(), false),
        Some(w) => {
            if w.user != caller.user_id {
                // Unknown ids count as role `user` (PROTOCOL §2.6).
                let target_role = crate::users::find_user(&inner.conn, &w.user)?
                    .map(|u| u.role)
                    .unwrap_or(Role::User);
                if !caller.role.may_impersonate(target_role) {
                    return Err(ExecError::PermissionDenied(format!(
                        "Role '{}' may not execute as user '{}'",
                        caller.role.as_str(),
                        w.user
                    )));
                }
            }
            (
                Identity {
                    user_id: w.user,
                    role: Role::User,
                },
                w.inner,
                true,
            )
        }
    };
    let as_user = effective.user_id.clone();
    let ctx = StmtCtx {
        effective,
        impersonating,
        params,
        raw_params,
        namespace,
        prehashed,
    };
    let outcome = exec::execute(inner, &ctx, &inner_sql)?;
    Ok((outcome, as_user))
}
