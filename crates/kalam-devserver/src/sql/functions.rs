//! KalamDB functions made available to SQLite so expressions evaluated there
//! (WHERE, UPDATE SET, SELECT lists) see the same functions as DEFAULT clauses.

use crate::ids;
use rusqlite::functions::FunctionFlags;
use rusqlite::Connection;

pub fn register(conn: &Connection) -> rusqlite::Result<()> {
    let flags = FunctionFlags::SQLITE_UTF8;
    conn.create_scalar_function("now", 0, flags, |_| Ok(ids::now_micros()))?;
    conn.create_scalar_function("snowflake_id", 0, flags, |_| Ok(ids::snowflake_id()))?;
    conn.create_scalar_function("ulid", 0, flags, |_| Ok(ids::ulid()))?;
    conn.create_scalar_function("uuid_v7", 0, flags, |_| Ok(ids::uuid_v7()))?;
    Ok(())
}
