//! The table catalog: KalamDB tables, their columns and how they map onto SQLite tables.

use crate::types::KalamType;
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TableType {
    User,
    Shared,
    Stream,
    /// `system.*` views over the server's own bookkeeping tables.
    System,
}

impl TableType {
    pub fn as_str(self) -> &'static str {
        match self {
            TableType::User => "USER",
            TableType::Shared => "SHARED",
            TableType::Stream => "STREAM",
            TableType::System => "SYSTEM",
        }
    }
    pub fn parse(s: &str) -> Option<TableType> {
        match s.to_ascii_uppercase().as_str() {
            "USER" => Some(TableType::User),
            "SHARED" => Some(TableType::Shared),
            "STREAM" => Some(TableType::Stream),
            _ => None,
        }
    }
    /// USER and STREAM rows belong to the effective user of the statement.
    pub fn is_per_user(self) -> bool {
        matches!(self, TableType::User | TableType::Stream)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum DefaultExpr {
    Snowflake,
    Ulid,
    UuidV7,
    Now,
    CurrentUser,
    Literal(Json),
}

#[derive(Clone, Debug)]
pub struct ColumnDef {
    pub name: String,
    pub ty: KalamType,
    pub not_null: bool,
    pub primary_key: bool,
    pub default: Option<DefaultExpr>,
}

/// What the catalog row stores for a column.
#[derive(Serialize, Deserialize)]
pub struct ColumnRecord {
    pub name: String,
    pub ty: String,
    pub not_null: bool,
    pub primary_key: bool,
    pub default: Option<DefaultExpr>,
}

impl From<&ColumnDef> for ColumnRecord {
    fn from(c: &ColumnDef) -> Self {
        ColumnRecord {
            name: c.name.clone(),
            ty: c.ty.catalog_name(),
            not_null: c.not_null,
            primary_key: c.primary_key,
            default: c.default.clone(),
        }
    }
}

impl From<ColumnRecord> for ColumnDef {
    fn from(r: ColumnRecord) -> Self {
        ColumnDef {
            name: r.name,
            ty: KalamType::from_catalog(&r.ty),
            not_null: r.not_null,
            primary_key: r.primary_key,
            default: r.default,
        }
    }
}

impl ColumnDef {
    /// `schema[]` entry of a SQL result (PROTOCOL §2.2, §11).
    pub fn flags(&self) -> Vec<&'static str> {
        if self.primary_key {
            vec!["pk", "nn", "uq"]
        } else if self.not_null {
            vec!["nn"]
        } else {
            vec![]
        }
    }
}

#[derive(Clone, Debug)]
pub struct TableDef {
    pub namespace: String,
    pub name: String,
    pub table_type: TableType,
    pub access_level: String,
    pub ttl_seconds: Option<i64>,
    pub columns: Vec<ColumnDef>,
    /// For system tables: the SQLite query that produces the visible columns.
    pub system_source: Option<String>,
}

impl TableDef {
    pub fn id(&self) -> String {
        format!("{}.{}", self.namespace, self.name)
    }

    /// `_table` in CDC payloads uses a colon (PROTOCOL §11).
    pub fn colon_id(&self) -> String {
        format!("{}:{}", self.namespace, self.name)
    }

    pub fn sqlite_name(&self) -> String {
        sqlite_table_name(&self.namespace, &self.name)
    }

    pub fn pk(&self) -> Option<&ColumnDef> {
        self.columns.iter().find(|c| c.primary_key)
    }

    pub fn column(&self, name: &str) -> Option<&ColumnDef> {
        self.columns
            .iter()
            .find(|c| c.name.eq_ignore_ascii_case(name))
    }
}

/// SQLite name of a KalamDB table. Names are validated identifiers, so plain concatenation
/// cannot collide (`__` cannot start a KalamDB name).
pub fn sqlite_table_name(namespace: &str, table: &str) -> String {
    format!(
        "t_{}__{}",
        namespace.to_ascii_lowercase(),
        table.to_ascii_lowercase()
    )
}

/// Namespace, table and column names: ASCII letters, digits, underscore, at most 64 chars,
/// not starting with a digit or `_` (PROTOCOL §5.1).
pub fn valid_identifier(name: &str) -> bool {
    !is_reserved_keyword(name)
        && !name.is_empty()
        && name.len() <= 64
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit() || c == '_')
}

/// SQL keywords KalamDB refuses as namespace, table or column names (PROTOCOL §5.1).
pub const RESERVED_KEYWORDS: &[&str] = &[
    "select",
    "from",
    "where",
    "insert",
    "update",
    "delete",
    "create",
    "drop",
    "alter",
    "table",
    "view",
    "index",
    "schema",
    "order",
    "group",
    "by",
    "having",
    "limit",
    "offset",
    "partition",
    "start",
    "end",
    "format",
    "set",
    "full",
    "join",
    "on",
    "as",
    "and",
    "or",
    "not",
    "null",
    "true",
    "false",
    "into",
    "values",
    "union",
    "distinct",
    "case",
    "when",
    "then",
    "else",
    "primary",
    "references",
    "constraint",
    "between",
    "like",
    "in",
    "is",
    "exists",
    "cast",
];

pub fn is_reserved_keyword(name: &str) -> bool {
    RESERVED_KEYWORDS.contains(&name.to_ascii_lowercase().as_str())
}

pub const RESERVED_NAMESPACES: &[&str] = &[
    "system",
    "sys",
    "root",
    "kalamdb",
    "kalam",
    "main",
    "default",
    "sql",
    "admin",
    "internal",
    "information_schema",
    "pg_catalog",
    "datafusion",
];

pub const RESERVED_COLUMNS: &[&str] = &[
    "_seq",
    "_deleted",
    "_id",
    "_key",
    "_version",
    "_timestamp",
    "_commit_seq",
    "_owner",
    "_table",
];

/// Splits `ns.table`; a bare name lives in `default_ns`.
pub fn split_table_name(name: &str, default_ns: &str) -> (String, String) {
    match name.split_once('.') {
        Some((ns, t)) => (ns.to_ascii_lowercase(), t.to_ascii_lowercase()),
        None => (default_ns.to_ascii_lowercase(), name.to_ascii_lowercase()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers() {
        assert!(valid_identifier("orders_2"));
        assert!(!valid_identifier("_x"));
        assert!(!valid_identifier("2x"));
        assert!(!valid_identifier("a-b"));
        assert!(!valid_identifier("offset"));
        assert!(!valid_identifier("Start"));
        assert_eq!(sqlite_table_name("App", "Orders"), "t_app__orders");
        assert_eq!(
            split_table_name("t", "default"),
            ("default".into(), "t".into())
        );
    }
}
