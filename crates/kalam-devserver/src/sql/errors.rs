//! SQL errors and how they become the `{status, error:{code, message, details}}` envelope
//! (PROTOCOL §2.5): message format, status, and redaction for non-admin callers.

use crate::users::Role;

#[derive(Debug)]
pub enum ExecError {
    AlreadyExists(String),
    NotFound(String),
    InvalidOperation(String),
    PermissionDenied(String),
    TableNotFound(String),
    /// Constraint violations (primary key, NOT NULL): kept visible to every caller.
    Constraint(String),
    /// Unparsable or unsupported statement: 400 INVALID_SQL.
    InvalidSql(String),
    /// Malformed EXECUTE AS USER wrapper and similar: 400 INVALID_INPUT.
    InvalidInput(String),
    /// Anything unclassified (storage errors, SQLite messages): redacted for non-admins.
    Other(String),
}

impl From<rusqlite::Error> for ExecError {
    fn from(e: rusqlite::Error) -> Self {
        ExecError::Other(e.to_string())
    }
}

/// The failure as sent on the wire.
#[derive(Debug)]
pub struct SqlFailure {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
    pub details: Option<String>,
}

/// Generic sentence that replaces unsafe messages for role user/service callers.
pub const REDACTED_MESSAGE: &str = "An internal error occurred while executing the statement";

impl SqlFailure {
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> SqlFailure {
        SqlFailure {
            status,
            code,
            message: message.into(),
            details: None,
        }
    }

    /// `n` is the 1-based statement number, `sql` the statement text (for `details`).
    pub fn from_exec(err: ExecError, n: usize, sql: &str, caller: Role) -> SqlFailure {
        let admin = caller.is_admin();
        let (status, code, message, safe) = match err {
            ExecError::InvalidSql(m) => (400, "INVALID_SQL", m, true),
            ExecError::InvalidInput(m) => (400, "INVALID_INPUT", m, true),
            ExecError::PermissionDenied(m) => (
                403,
                "PERMISSION_DENIED",
                format!("Statement {n} failed: Permission denied: {m}"),
                true,
            ),
            ExecError::AlreadyExists(m) => (
                400,
                "SQL_EXECUTION_ERROR",
                format!("Statement {n} failed: Already exists: {m}"),
                true,
            ),
            ExecError::NotFound(m) => (
                400,
                "SQL_EXECUTION_ERROR",
                format!("Statement {n} failed: Not found: {m}"),
                true,
            ),
            ExecError::InvalidOperation(m) => (
                400,
                "SQL_EXECUTION_ERROR",
                format!("Statement {n} failed: Invalid operation: {m}"),
                true,
            ),
            ExecError::Constraint(m) => (
                400,
                "SQL_EXECUTION_ERROR",
                format!("Statement {n} failed: {m}"),
                true,
            ),
            ExecError::TableNotFound(t) => (
                400,
                "SQL_EXECUTION_ERROR",
                format!("Statement {n} failed: Table not found: {t}"),
                false,
            ),
            ExecError::Other(m) => (
                400,
                "SQL_EXECUTION_ERROR",
                format!("Statement {n} failed: {m}"),
                false,
            ),
        };
        let message = if safe || admin {
            message
        } else {
            format!("Statement {n} failed: {REDACTED_MESSAGE}")
        };
        let details = if admin && code != "INVALID_INPUT" {
            Some(sql.to_string())
        } else {
            None
        };
        SqlFailure {
            status,
            code,
            message,
            details,
        }
    }
}
