//! `system.*` tables (PROTOCOL §5.6): read-only views over the server's own tables, readable
//! by dba/system only. Timestamp columns carry epoch milliseconds, as in the real server.

use crate::catalog::{ColumnDef, TableDef, TableType};
use crate::types::KalamType;

fn col(name: &str, ty: KalamType, pk: bool) -> ColumnDef {
    ColumnDef {
        name: name.into(),
        ty,
        not_null: pk,
        primary_key: pk,
        default: None,
    }
}

fn table(name: &str, columns: Vec<ColumnDef>, source: &str) -> TableDef {
    TableDef {
        namespace: "system".into(),
        name: name.into(),
        table_type: TableType::System,
        access_level: "dba".into(),
        ttl_seconds: None,
        columns,
        system_source: Some(source.into()),
    }
}

pub fn system_tables() -> Vec<TableDef> {
    use KalamType::*;
    vec![
        table(
            "topics",
            vec![
                col("topic_id", Text, true),
                col("name", Text, false),
                col("alias", Text, false),
                col("partitions", Int, false),
                col("retention_seconds", BigInt, false),
                col("retention_max_bytes", BigInt, false),
                col("routes", Json, false),
                col("created_at", Timestamp, false),
                col("updated_at", Timestamp, false),
            ],
            "SELECT topic_id, name, alias, partitions, retention_seconds, retention_max_bytes, \
             routes, created_at, updated_at FROM main.topics",
        ),
        table(
            "topic_offsets",
            vec![
                col("topic_id", Text, false),
                col("group_id", Text, false),
                col("partition_id", Int, false),
                col("last_acked_offset", BigInt, false),
                col("updated_at", Timestamp, false),
            ],
            "SELECT topic_id, group_id, partition_id, last_acked_offset, updated_at FROM main.topic_offsets",
        ),
        table(
            "users",
            vec![
                col("user_id", Text, true),
                col("username", Text, false),
                col("role", Text, false),
                col("email", Text, false),
                col("auth_type", Text, false),
                col("created_at", Timestamp, false),
                col("updated_at", Timestamp, false),
                col("deleted_at", Timestamp, false),
            ],
            "SELECT user_id, user_id AS username, role, email, auth_type, created_at, updated_at, \
             deleted_at FROM main.users",
        ),
        table(
            "namespaces",
            vec![col("namespace_id", Text, true), col("name", Text, false), col("created_at", Timestamp, false)],
            "SELECT name AS namespace_id, name, created_at FROM main.namespaces",
        ),
        table(
            "tables",
            vec![
                col("table_id", Text, true),
                col("table_name", Text, false),
                col("namespace_id", Text, false),
                col("table_type", Text, false),
                col("created_at", Timestamp, false),
            ],
            "SELECT table_id, name AS table_name, namespace AS namespace_id, table_type, created_at \
             FROM main.catalog_tables",
        ),
    ]
}
