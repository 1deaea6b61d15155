//! The server's own SQLite tables. KalamDB tables live next to them as `t_<ns>__<table>`.

pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS users (
    user_id TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    email TEXT,
    password_hash TEXT NOT NULL DEFAULT '',
    auth_type TEXT NOT NULL DEFAULT 'internal',
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    deleted_at INTEGER
);
CREATE TABLE IF NOT EXISTS namespaces (
    name TEXT PRIMARY KEY,
    created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS catalog_tables (
    table_id TEXT PRIMARY KEY,
    namespace TEXT NOT NULL,
    name TEXT NOT NULL,
    table_type TEXT NOT NULL,
    access_level TEXT NOT NULL,
    ttl_seconds INTEGER,
    columns TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS topics (
    topic_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    alias TEXT,
    partitions INTEGER NOT NULL,
    retention_seconds INTEGER NOT NULL,
    retention_max_bytes INTEGER NOT NULL,
    routes TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS topic_messages (
    topic_id TEXT NOT NULL,
    partition_id INTEGER NOT NULL,
    offset INTEGER NOT NULL,
    key TEXT,
    payload BLOB NOT NULL,
    timestamp_ms INTEGER NOT NULL,
    user_id TEXT,
    op TEXT NOT NULL,
    PRIMARY KEY (topic_id, partition_id, offset)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS topic_offsets (
    topic_id TEXT NOT NULL,
    group_id TEXT NOT NULL,
    partition_id INTEGER NOT NULL,
    last_acked_offset INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (topic_id, group_id, partition_id)
) WITHOUT ROWID;
";
