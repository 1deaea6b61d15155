//! Topics: definitions and routes (§4.1, §5.5), CDC publishing (§4) and the consume/ack
//! operations (§3) shared by HTTP and SQL `CONSUME`/`ACK`.

pub mod claims;
pub mod consume;
pub mod partition;
pub mod publish;

use rusqlite::{params, Connection};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// One `ALTER TOPIC ... ADD SOURCE` route, stored in `system.topics.routes` as this JSON.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Route {
    pub table_id: String,
    pub op: String,
    pub payload_mode: String,
    pub filter_expr: Option<String>,
    pub partition_key_expr: Option<String>,
}

#[derive(Clone, Debug)]
pub struct TopicDef {
    pub topic_id: String,
    pub partitions: u32,
    pub routes: Vec<Route>,
}

pub const RETENTION_SECONDS: i64 = 604_800;
pub const RETENTION_MAX_BYTES: i64 = 1_073_741_824;

pub fn load_topics(conn: &Connection) -> anyhow::Result<HashMap<String, TopicDef>> {
    let mut stmt = conn.prepare("SELECT topic_id, partitions, routes FROM topics")?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, i64>(1)?,
            r.get::<_, String>(2)?,
        ))
    })?;
    let mut out = HashMap::new();
    for r in rows {
        let (topic_id, partitions, routes) = r?;
        let routes: Vec<Route> = serde_json::from_str(&routes).unwrap_or_default();
        out.insert(
            topic_id.clone(),
            TopicDef {
                topic_id,
                partitions: partitions.max(1) as u32,
                routes,
            },
        );
    }
    Ok(out)
}

pub fn insert_topic(conn: &Connection, topic_id: &str, partitions: u32) -> rusqlite::Result<()> {
    let now = crate::ids::now_millis();
    let name = topic_id.split_once('.').map(|(_, n)| n).unwrap_or(topic_id);
    conn.execute(
        "INSERT INTO topics (topic_id, name, alias, partitions, retention_seconds, retention_max_bytes, \
         routes, created_at, updated_at) VALUES (?1, ?2, NULL, ?3, ?4, ?5, '[]', ?6, ?6)",
        params![topic_id, name, partitions, RETENTION_SECONDS, RETENTION_MAX_BYTES, now],
    )?;
    Ok(())
}

pub fn save_routes(conn: &Connection, topic_id: &str, routes: &[Route]) -> rusqlite::Result<()> {
    let json = serde_json::to_string(routes).unwrap_or_else(|_| "[]".into());
    conn.execute(
        "UPDATE topics SET routes = ?2, updated_at = ?3 WHERE topic_id = ?1",
        params![topic_id, json, crate::ids::now_millis()],
    )?;
    Ok(())
}
