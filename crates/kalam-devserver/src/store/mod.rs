//! All durable state in one SQLite database (`<data-dir>/kalam.db`, WAL, synchronous=NORMAL),
//! plus the in-memory state the real server also keeps only in memory (consumer-group claims
//! and cursors, offset counters). One connection behind one mutex: every request is a short
//! critical section, and CDC messages are written in the same transaction as the row change.

pub mod options;
pub mod schema;
pub mod session;
pub mod system_tables;

use crate::catalog::{ColumnRecord, TableDef, TableType};
use crate::topics::claims::{GroupKey, GroupState};
use crate::topics::TopicDef;
use anyhow::Context;
use options::EngineOptions;
use rusqlite::{params, Connection, OptionalExtension};
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

pub struct Engine {
    inner: Mutex<Inner>,
}

pub struct Inner {
    pub conn: Connection,
    /// KalamDB tables by `ns.table` (lower case), including `system.*`.
    pub tables: HashMap<String, TableDef>,
    pub namespaces: HashSet<String>,
    pub topics: HashMap<String, TopicDef>,
    /// Next offset per (topic, partition). Seeded lazily from the stored messages and, like the
    /// real server's counters, not reset by CLEAR/DROP TOPIC within one process (§10.17).
    pub counters: HashMap<(String, u32), u64>,
    /// Offsets allocated by the open transaction; merged into `counters` on commit.
    pub pending_counters: HashMap<(String, u32), u64>,
    pub groups: HashMap<GroupKey, GroupState>,
    pub commit_seq: i64,
    pub options: EngineOptions,
    /// An explicit BEGIN of the current request is open (PROTOCOL §2.4).
    pub explicit_tx: bool,
}

impl Engine {
    pub fn open(data_dir: &Path, options: EngineOptions) -> anyhow::Result<Engine> {
        std::fs::create_dir_all(data_dir)
            .with_context(|| format!("creating data dir {}", data_dir.display()))?;
        let path = data_dir.join("kalam.db");
        let conn =
            Connection::open(&path).with_context(|| format!("opening {}", path.display()))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "OFF")?;
        conn.busy_timeout(Duration::from_secs(5))?;
        conn.set_prepared_statement_cache_capacity(256);
        conn.execute_batch(schema::SCHEMA)?;
        crate::sql::functions::register(&conn)?;
        let mut inner = Inner {
            conn,
            tables: HashMap::new(),
            namespaces: HashSet::new(),
            topics: HashMap::new(),
            counters: HashMap::new(),
            pending_counters: HashMap::new(),
            groups: HashMap::new(),
            commit_seq: 0,
            options,
            explicit_tx: false,
        };
        inner.bootstrap_namespaces()?;
        inner.reload_catalog()?;
        inner.reload_topics()?;
        inner.commit_seq = inner
            .meta_get("commit_seq")?
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        Ok(Engine {
            inner: Mutex::new(inner),
        })
    }

    /// Locks the engine. A poisoned lock (a panic while holding it) is recovered, and whatever
    /// transaction the panicking request left open is rolled back.
    pub fn lock(&self) -> MutexGuard<'_, Inner> {
        match self.inner.lock() {
            Ok(guard) => guard,
            Err(poisoned) => {
                self.inner.clear_poison();
                let mut guard = poisoned.into_inner();
                if !guard.conn.is_autocommit() {
                    tracing::warn!("rolling back a transaction left open by a panicked request");
                    guard.explicit_tx = true;
                    guard.rollback_explicit();
                }
                guard
            }
        }
    }
}

impl Inner {
    fn bootstrap_namespaces(&mut self) -> rusqlite::Result<()> {
        let now = crate::ids::now_millis();
        for ns in ["default", "dba"] {
            self.conn.execute(
                "INSERT OR IGNORE INTO namespaces (name, created_at) VALUES (?1, ?2)",
                params![ns, now],
            )?;
        }
        Ok(())
    }

    pub fn reload_catalog(&mut self) -> anyhow::Result<()> {
        let mut namespaces = HashSet::new();
        {
            let mut stmt = self.conn.prepare("SELECT name FROM namespaces")?;
            let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
            for r in rows {
                namespaces.insert(r?);
            }
        }
        namespaces.insert("system".into());
        let mut tables = HashMap::new();
        {
            let mut stmt = self.conn.prepare(
                "SELECT namespace, name, table_type, access_level, ttl_seconds, columns FROM catalog_tables",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, Option<i64>>(4)?,
                    r.get::<_, String>(5)?,
                ))
            })?;
            for r in rows {
                let (namespace, name, ty, access_level, ttl_seconds, columns) = r?;
                let records: Vec<ColumnRecord> = serde_json::from_str(&columns)?;
                let def = TableDef {
                    namespace,
                    name,
                    table_type: TableType::parse(&ty).unwrap_or(TableType::Shared),
                    access_level,
                    ttl_seconds,
                    columns: records.into_iter().map(Into::into).collect(),
                    system_source: None,
                };
                tables.insert(def.id(), def);
            }
        }
        for def in system_tables::system_tables() {
            tables.insert(def.id(), def);
        }
        self.tables = tables;
        self.namespaces = namespaces;
        Ok(())
    }

    pub fn reload_topics(&mut self) -> anyhow::Result<()> {
        self.topics = crate::topics::load_topics(&self.conn)?;
        Ok(())
    }

    pub fn meta_get(&self, key: &str) -> rusqlite::Result<Option<String>> {
        self.conn
            .query_row("SELECT value FROM meta WHERE key = ?1", params![key], |r| {
                r.get(0)
            })
            .optional()
    }

    pub fn meta_set(&self, key: &str, value: &str) -> rusqlite::Result<()> {
        self.conn.execute(
            "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            params![key, value],
        )?;
        Ok(())
    }

    /// Runs `f` inside one SQLite transaction. Offsets allocated inside become visible to
    /// other requests only when the commit succeeded, so offsets stay gapless.
    pub fn in_transaction<T, E: From<rusqlite::Error>>(
        &mut self,
        f: impl FnOnce(&mut Inner) -> Result<T, E>,
    ) -> Result<T, E> {
        if self.explicit_tx {
            // Inside BEGIN ... COMMIT the explicit COMMIT or ROLLBACK decides.
            return f(self);
        }
        self.pending_counters.clear();
        self.conn.execute_batch("BEGIN IMMEDIATE")?;
        match f(self) {
            Ok(v) => match self.conn.execute_batch("COMMIT") {
                Ok(()) => {
                    let pending = std::mem::take(&mut self.pending_counters);
                    self.counters.extend(pending);
                    Ok(v)
                }
                Err(e) => {
                    let _ = self.conn.execute_batch("ROLLBACK");
                    self.pending_counters.clear();
                    Err(e.into())
                }
            },
            Err(e) => {
                let _ = self.conn.execute_batch("ROLLBACK");
                self.pending_counters.clear();
                Err(e)
            }
        }
    }

    pub fn begin_explicit(&mut self) -> rusqlite::Result<()> {
        self.pending_counters.clear();
        self.conn.execute_batch("BEGIN IMMEDIATE")?;
        self.explicit_tx = true;
        Ok(())
    }

    pub fn commit_explicit(&mut self) -> rusqlite::Result<()> {
        self.conn.execute_batch("COMMIT")?;
        self.explicit_tx = false;
        let pending = std::mem::take(&mut self.pending_counters);
        self.counters.extend(pending);
        Ok(())
    }

    /// Rolls back an open explicit transaction and re-reads the cached catalog and topics,
    /// which DDL inside the transaction may have changed.
    pub fn rollback_explicit(&mut self) {
        if !self.explicit_tx {
            return;
        }
        let _ = self.conn.execute_batch("ROLLBACK");
        self.explicit_tx = false;
        self.pending_counters.clear();
        if let Err(e) = self.reload_catalog().and_then(|_| self.reload_topics()) {
            tracing::error!("reloading catalog after rollback failed: {e:#}");
        }
    }

    /// Next `_commit_seq`, persisted with the write it belongs to.
    pub fn next_commit_seq(&mut self) -> rusqlite::Result<i64> {
        self.commit_seq += 1;
        let v = self.commit_seq;
        self.meta_set("commit_seq", &v.to_string())?;
        Ok(v)
    }

    /// Next offset for (topic, partition) without allocating it: "Latest" in §3.3.
    pub fn next_offset(&mut self, topic: &str, partition: u32) -> rusqlite::Result<u64> {
        let key = (topic.to_string(), partition);
        if let Some(v) = self
            .pending_counters
            .get(&key)
            .or_else(|| self.counters.get(&key))
        {
            return Ok(*v);
        }
        let max: Option<i64> = self.conn.query_row(
            "SELECT MAX(offset) FROM topic_messages WHERE topic_id = ?1 AND partition_id = ?2",
            params![topic, partition],
            |r| r.get(0),
        )?;
        let next = max.map(|m| m as u64 + 1).unwrap_or(0);
        self.counters.insert(key, next);
        Ok(next)
    }

    /// Allocates one offset inside the current transaction.
    pub fn allocate_offset(&mut self, topic: &str, partition: u32) -> rusqlite::Result<u64> {
        let next = self.next_offset(topic, partition)?;
        self.pending_counters
            .insert((topic.to_string(), partition), next + 1);
        Ok(next)
    }
}
