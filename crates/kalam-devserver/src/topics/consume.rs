//! Consume and ack (PROTOCOL §3.3-§3.7): start resolution, claims, `next_offset`/`has_more`.

use super::claims::{GroupKey, GroupState};
use crate::store::Inner;
use rusqlite::{params, OptionalExtension};
use std::time::Instant;

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum StartPos {
    Latest,
    Earliest,
    Offset(u64),
}

pub struct StoredMessage {
    pub partition_id: u32,
    pub offset: u64,
    pub key: Option<String>,
    pub payload: Vec<u8>,
    pub timestamp_ms: i64,
    pub user_id: Option<String>,
    pub op: String,
}

pub struct Delivery {
    pub messages: Vec<StoredMessage>,
    pub next_offset: u64,
    pub has_more: bool,
}

#[derive(Debug)]
pub enum TopicError {
    NotFound(String),
    Storage(String),
}

impl From<rusqlite::Error> for TopicError {
    fn from(e: rusqlite::Error) -> Self {
        TopicError::Storage(e.to_string())
    }
}

fn require_topic(inner: &Inner, topic: &str) -> Result<(), TopicError> {
    if inner.topics.contains_key(topic) {
        Ok(())
    } else {
        Err(TopicError::NotFound(format!(
            "Topic '{topic}' does not exist"
        )))
    }
}

pub fn committed_offset(
    inner: &Inner,
    topic: &str,
    group: &str,
    partition: u32,
) -> rusqlite::Result<Option<u64>> {
    inner
        .conn
        .prepare_cached(
            "SELECT last_acked_offset FROM topic_offsets WHERE topic_id = ?1 AND group_id = ?2 AND partition_id = ?3",
        )?
        .query_row(params![topic, group, partition], |r| r.get::<_, i64>(0))
        .optional()
        .map(|o| o.map(|v| v as u64))
}

pub fn consume(
    inner: &mut Inner,
    topic: &str,
    group: &str,
    partition: u32,
    start: StartPos,
    limit: u64,
) -> Result<Delivery, TopicError> {
    require_topic(inner, topic)?;
    let start_offset = match committed_offset(inner, topic, group, partition)? {
        Some(acked) => acked + 1,
        None => match start {
            StartPos::Earliest => 0,
            StartPos::Offset(n) => n,
            StartPos::Latest => inner.next_offset(topic, partition)?,
        },
    };
    let key = GroupKey {
        topic: topic.to_string(),
        group: group.to_string(),
        partition,
    };
    let now = Instant::now();
    let timeout = inner.options.visibility_timeout;
    let state = inner
        .groups
        .entry(key.clone())
        .or_insert_with(|| GroupState::new(start_offset));
    state.expire(now, timeout);
    let (from, bound) = state.window();
    let messages = read_messages(inner, topic, partition, from, bound, limit)?;
    let next_offset = match (messages.first(), messages.last()) {
        (Some(first), Some(last)) => {
            let (first, last) = (first.offset, last.offset);
            if let Some(state) = inner.groups.get_mut(&key) {
                state.claim(first, last, now);
            }
            last + 1
        }
        _ => start_offset,
    };
    let has_more = messages.len() as u64 == limit;
    Ok(Delivery {
        messages,
        next_offset,
        has_more,
    })
}

pub fn ack(
    inner: &mut Inner,
    topic: &str,
    group: &str,
    partition: u32,
    upto: u64,
) -> Result<(), TopicError> {
    require_topic(inner, topic)?;
    let stored = sql_offset(upto);
    inner
        .conn
        .prepare_cached(
            "INSERT INTO topic_offsets (topic_id, group_id, partition_id, last_acked_offset, updated_at) \
             VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT(topic_id, group_id, partition_id) DO UPDATE SET \
             last_acked_offset = MAX(last_acked_offset, excluded.last_acked_offset), updated_at = excluded.updated_at",
        )?
        .execute(params![topic, group, partition, stored, crate::ids::now_millis()])?;
    let key = GroupKey {
        topic: topic.to_string(),
        group: group.to_string(),
        partition,
    };
    inner
        .groups
        .entry(key)
        .or_insert_with(|| GroupState::new(upto.saturating_add(1)))
        .ack(upto);
    Ok(())
}

/// Offsets are u64 on the wire and i64 in SQLite: clamp instead of wrapping to negative.
/// Stored messages of one partition in offset order: from `from` (inclusive) up to `bound`
/// (exclusive, `None` for no bound), at most `limit` of them. Missing offsets (deleted
/// messages) are simply absent, as on the real server.
pub fn read_messages(
    inner: &Inner,
    topic: &str,
    partition: u32,
    from: u64,
    bound: Option<u64>,
    limit: u64,
) -> Result<Vec<StoredMessage>, rusqlite::Error> {
    if limit == 0 {
        return Ok(Vec::new());
    }
    let upper = bound.map(sql_offset).unwrap_or(i64::MAX);
    let mut stmt = inner.conn.prepare_cached(
        "SELECT offset, key, payload, timestamp_ms, user_id, op FROM topic_messages \
         WHERE topic_id = ?1 AND partition_id = ?2 AND offset >= ?3 AND offset < ?4 \
         ORDER BY offset LIMIT ?5",
    )?;
    let rows = stmt.query_map(
        params![topic, partition, sql_offset(from), upper, sql_offset(limit)],
        |r| {
            Ok(StoredMessage {
                partition_id: partition,
                offset: r.get::<_, i64>(0)? as u64,
                key: r.get(1)?,
                payload: r.get(2)?,
                timestamp_ms: r.get(3)?,
                user_id: r.get(4)?,
                op: r.get(5)?,
            })
        },
    )?;
    rows.collect()
}

pub fn sql_offset(offset: u64) -> i64 {
    offset.min(i64::MAX as u64) as i64
}
