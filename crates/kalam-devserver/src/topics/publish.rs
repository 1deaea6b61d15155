//! CDC publishing (PROTOCOL §4): one message per changed row per matching route, written in
//! the caller's transaction so an acknowledged write never loses its messages.

use crate::catalog::{TableDef, TableType};
use crate::store::Inner;
use crate::types::encode_cell;
use rusqlite::params;
use rusqlite::types::Value as SqlValue;
use serde_json::{Map, Value as Json};

/// One row version to publish: the values in catalog column order.
pub struct ChangedRow {
    pub values: Vec<SqlValue>,
    pub seq: i64,
    pub deleted: bool,
    /// Owner of a USER/STREAM row; None for SHARED tables.
    pub owner: Option<String>,
}

/// `op` is "insert" | "update" | "delete" (route spelling).
pub fn publish(
    inner: &mut Inner,
    table: &TableDef,
    op: &str,
    rows: &[ChangedRow],
    commit_seq: i64,
) -> rusqlite::Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let table_id = table.id();
    let mut targets: Vec<(String, u32, String)> = inner
        .topics
        .values()
        .flat_map(|t| {
            t.routes
                .iter()
                .filter(|r| r.table_id.eq_ignore_ascii_case(&table_id) && r.op == op)
                .map(|r| (t.topic_id.clone(), t.partitions, r.payload_mode.clone()))
                .collect::<Vec<_>>()
        })
        .collect();
    if targets.is_empty() {
        return Ok(());
    }
    targets.sort();
    let timestamp_ms = crate::ids::now_millis();
    let wire_op = match op {
        "insert" => "Insert",
        "update" => "Update",
        _ => "Delete",
    };
    for row in rows {
        let key = message_key(table, &row.values);
        for (topic_id, partitions, mode) in &targets {
            let payload = payload_json(table, row, commit_seq, mode != "key");
            let bytes = serde_json::to_vec(&payload).unwrap_or_default();
            let partition = match &key {
                Some(k) => super::partition::partition_for(k, *partitions),
                None => {
                    super::partition::partition_for(&String::from_utf8_lossy(&bytes), *partitions)
                }
            };
            let offset = inner.allocate_offset(topic_id, partition)?;
            inner
                .conn
                .prepare_cached(
                    "INSERT INTO topic_messages (topic_id, partition_id, offset, key, payload, timestamp_ms, user_id, op) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                )?
                .execute(params![topic_id, partition, offset as i64, key, bytes, timestamp_ms, row.owner, wire_op])?;
        }
    }
    Ok(())
}

/// The payload object of §4.3.
fn payload_json(table: &TableDef, row: &ChangedRow, commit_seq: i64, with_table: bool) -> Json {
    let mut obj = Map::new();
    for (col, value) in table.columns.iter().zip(&row.values) {
        obj.insert(col.name.clone(), encode_cell(&col.ty, value));
    }
    obj.insert("_seq".into(), Json::String(row.seq.to_string()));
    if table.table_type != TableType::Stream {
        obj.insert("_commit_seq".into(), Json::String(commit_seq.to_string()));
        obj.insert("_deleted".into(), Json::Bool(row.deleted));
    }
    if with_table {
        obj.insert("_table".into(), Json::String(table.colon_id()));
    }
    Json::Object(obj)
}

/// Single-column PK value as a plain string; None without a PK (§4.4).
fn message_key(table: &TableDef, values: &[SqlValue]) -> Option<String> {
    let idx = table.columns.iter().position(|c| c.primary_key)?;
    let col = &table.columns[idx];
    match encode_cell(&col.ty, values.get(idx)?) {
        Json::Null => None,
        Json::String(s) => Some(s),
        other => Some(other.to_string()),
    }
}
