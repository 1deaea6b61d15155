//! Topic statements (PROTOCOL §5.5): CREATE/DROP/CLEAR TOPIC, ALTER TOPIC ... ADD SOURCE,
//! and the SQL forms of consume and ack.

use super::errors::ExecError;
use super::kalam_parser::ConsumePosition;
use super::{Outcome, StmtCtx};
use crate::catalog::split_table_name;
use crate::store::Inner;
use crate::topics::consume::{self, StartPos, TopicError};
use crate::topics::{insert_topic, save_routes, Route, TopicDef};
use crate::types::{encode_cell, KalamType};
use rusqlite::params;
use rusqlite::types::Value as SqlValue;
use serde_json::{json, Value as Json};

fn require_admin(ctx: &StmtCtx, what: &str) -> Result<(), ExecError> {
    if ctx.effective.role.is_admin() {
        Ok(())
    } else {
        Err(ExecError::PermissionDenied(format!(
            "{what} requires role dba or system"
        )))
    }
}

fn topic_error(e: TopicError) -> ExecError {
    match e {
        TopicError::NotFound(m) => ExecError::NotFound(m),
        TopicError::Storage(m) => ExecError::Other(m),
    }
}

fn require_topic(inner: &Inner, topic: &str) -> Result<(), ExecError> {
    if inner.topics.contains_key(topic) {
        Ok(())
    } else {
        Err(ExecError::NotFound(format!(
            "Topic '{topic}' does not exist"
        )))
    }
}

pub fn create_topic(
    inner: &mut Inner,
    ctx: &StmtCtx,
    topic: &str,
    partitions: u32,
) -> Result<Outcome, ExecError> {
    require_admin(ctx, "CREATE TOPIC")?;
    let Some((ns, name)) = topic.split_once('.') else {
        return Err(ExecError::InvalidOperation(format!(
            "Topic name '{topic}' must be namespace-qualified (namespace.topic)"
        )));
    };
    if !inner.namespaces.contains(&ns.to_ascii_lowercase()) {
        return Err(ExecError::NotFound(format!(
            "Namespace '{ns}' does not exist"
        )));
    }
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(ExecError::InvalidOperation(format!(
            "Invalid topic name '{topic}'"
        )));
    }
    if inner.topics.contains_key(topic) {
        return Err(ExecError::AlreadyExists(format!(
            "Topic '{topic}' already exists"
        )));
    }
    insert_topic(&inner.conn, topic, partitions)?;
    inner.topics.insert(
        topic.to_string(),
        TopicDef {
            topic_id: topic.to_string(),
            partitions,
            routes: vec![],
        },
    );
    Ok(Outcome::Message(format!(
        "Created topic '{topic}' with {partitions} partition(s)"
    )))
}

pub fn drop_topic(
    inner: &mut Inner,
    ctx: &StmtCtx,
    topic: &str,
    if_exists: bool,
) -> Result<Outcome, ExecError> {
    require_admin(ctx, "DROP TOPIC")?;
    if !inner.topics.contains_key(topic) {
        return if if_exists {
            Ok(Outcome::Message(format!("Topic '{topic}' does not exist")))
        } else {
            Err(ExecError::NotFound(format!(
                "Topic '{topic}' does not exist"
            )))
        };
    }
    inner.in_transaction(|inner| -> Result<(), ExecError> {
        inner
            .conn
            .execute("DELETE FROM topics WHERE topic_id = ?1", params![topic])?;
        inner.conn.execute(
            "DELETE FROM topic_messages WHERE topic_id = ?1",
            params![topic],
        )?;
        inner.conn.execute(
            "DELETE FROM topic_offsets WHERE topic_id = ?1",
            params![topic],
        )?;
        Ok(())
    })?;
    // Offset counters and group cursors stay, like the real server (§10.17).
    inner.topics.remove(topic);
    Ok(Outcome::Message(format!("Dropped topic '{topic}'")))
}

pub fn clear_topic(inner: &mut Inner, ctx: &StmtCtx, topic: &str) -> Result<Outcome, ExecError> {
    require_admin(ctx, "CLEAR TOPIC")?;
    require_topic(inner, topic)?;
    inner.in_transaction(|inner| -> Result<(), ExecError> {
        inner.conn.execute(
            "DELETE FROM topic_messages WHERE topic_id = ?1",
            params![topic],
        )?;
        inner.conn.execute(
            "DELETE FROM topic_offsets WHERE topic_id = ?1",
            params![topic],
        )?;
        Ok(())
    })?;
    Ok(Outcome::Message(format!("Cleared topic '{topic}'")))
}

pub fn add_source(
    inner: &mut Inner,
    ctx: &StmtCtx,
    topic: &str,
    table: &str,
    op: &str,
    payload_mode: &str,
    filter: Option<String>,
) -> Result<Outcome, ExecError> {
    require_admin(ctx, "ALTER TOPIC")?;
    require_topic(inner, topic)?;
    // A bare table name means namespace `default`, not the request namespace (§4.1).
    let (ns, t) = split_table_name(table, "default");
    let table_id = format!("{ns}.{t}");
    let mut routes = inner
        .topics
        .get(topic)
        .map(|d| d.routes.clone())
        .unwrap_or_default();
    if routes.iter().any(|r| r.table_id == table_id && r.op == op) {
        return Err(ExecError::AlreadyExists(format!(
            "Topic '{topic}' already has a source for {table_id} ON {}",
            op.to_ascii_uppercase()
        )));
    }
    routes.push(Route {
        table_id: table_id.clone(),
        op: op.to_string(),
        payload_mode: payload_mode.to_string(),
        filter_expr: filter,
        partition_key_expr: None,
    });
    save_routes(&inner.conn, topic, &routes)?;
    if let Some(def) = inner.topics.get_mut(topic) {
        def.routes = routes;
    }
    Ok(Outcome::Message(format!(
        "Added source '{table_id}' ON {} to topic '{topic}'",
        op.to_ascii_uppercase()
    )))
}

fn schema(cols: &[(&str, KalamType)]) -> Vec<Json> {
    cols.iter()
        .enumerate()
        .map(|(i, (n, t))| json!({ "name": n, "data_type": t.wire_name(), "index": i }))
        .collect()
}

pub fn consume(
    inner: &mut Inner,
    ctx: &StmtCtx,
    topic: &str,
    group: Option<String>,
    position: ConsumePosition,
    limit: u64,
) -> Result<Outcome, ExecError> {
    if !ctx.effective.role.may_consume() {
        return Err(ExecError::PermissionDenied(
            "CONSUME requires role service, dba or system".into(),
        ));
    }
    require_topic(inner, topic)?;
    let start = match position {
        ConsumePosition::Latest => StartPos::Latest,
        ConsumePosition::Earliest => StartPos::Earliest,
        ConsumePosition::Offset(n) => StartPos::Offset(n),
    };
    let messages = match &group {
        Some(g) => {
            let d = consume::consume(inner, topic, g, 0, start, limit).map_err(topic_error)?;
            if let Some(last) = d.messages.last() {
                consume::ack(inner, topic, g, 0, last.offset).map_err(topic_error)?;
            }
            d.messages
        }
        None => {
            let from = match start {
                StartPos::Earliest => 0,
                StartPos::Offset(n) => n,
                StartPos::Latest => inner.next_offset(topic, 0)?,
            };
            consume::read_messages(inner, topic, 0, from, None, limit)?
        }
    };
    let rows = messages
        .into_iter()
        .map(|m| {
            vec![
                json!(topic),
                json!(m.partition_id),
                encode_cell(&KalamType::BigInt, &SqlValue::Integer(m.offset as i64)),
                json!(m.key),
                encode_cell(&KalamType::Bytes, &SqlValue::Blob(m.payload)),
                encode_cell(&KalamType::BigInt, &SqlValue::Integer(m.timestamp_ms)),
                json!(m.user_id),
                json!(m.op.to_ascii_lowercase()),
            ]
        })
        .collect();
    Ok(Outcome::Rows {
        schema: schema(&[
            ("topic_id", KalamType::Text),
            ("partition_id", KalamType::Int),
            ("offset", KalamType::BigInt),
            ("key", KalamType::Text),
            ("payload", KalamType::Bytes),
            ("timestamp_ms", KalamType::BigInt),
            ("user_id", KalamType::Text),
            ("op", KalamType::Text),
        ]),
        rows,
    })
}

pub fn ack(
    inner: &mut Inner,
    ctx: &StmtCtx,
    topic: &str,
    group: &str,
    partition: u32,
    offset: u64,
) -> Result<Outcome, ExecError> {
    if !ctx.effective.role.may_consume() {
        return Err(ExecError::PermissionDenied(
            "ACK requires role service, dba or system".into(),
        ));
    }
    consume::ack(inner, topic, group, partition, offset).map_err(topic_error)?;
    Ok(Outcome::Rows {
        schema: schema(&[
            ("topic", KalamType::Text),
            ("group_id", KalamType::Text),
            ("partition", KalamType::Int),
            ("committed_offset", KalamType::BigInt),
        ]),
        rows: vec![vec![
            json!(topic),
            json!(group),
            json!(partition),
            json!(offset.to_string()),
        ]],
    })
}
