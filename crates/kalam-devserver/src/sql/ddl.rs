//! Namespaces, tables and users (PROTOCOL §5.2-§5.4).

use super::errors::ExecError;
use super::exec::unquote;
use super::kalam_parser::{UserAuth, UserChange};
use super::prehash::hash_for;
use super::rewrite::quote_ident;
use super::values::default_from_expr;
use super::{Outcome, StmtCtx};
use crate::catalog::{
    split_table_name, valid_identifier, ColumnDef, ColumnRecord, DefaultExpr, TableDef, TableType,
    RESERVED_COLUMNS, RESERVED_NAMESPACES,
};
use crate::store::Inner;
use crate::types::KalamType;
use crate::users::{find_user, Role};
use rusqlite::params;
use sqlparser::ast::{
    ColumnOption, CreateTable, CreateTableOptions, Expr, ObjectName, SqlOption, TableConstraint,
};

fn require_admin(ctx: &StmtCtx, what: &str) -> Result<(), ExecError> {
    if ctx.effective.role.is_admin() {
        Ok(())
    } else {
        Err(ExecError::PermissionDenied(format!(
            "{what} requires role dba or system"
        )))
    }
}

pub fn create_namespace(
    inner: &mut Inner,
    ctx: &StmtCtx,
    name: &str,
    if_not_exists: bool,
) -> Result<Outcome, ExecError> {
    require_admin(ctx, "CREATE NAMESPACE")?;
    let name = name.to_ascii_lowercase();
    if inner.namespaces.contains(&name) {
        return if if_not_exists {
            Ok(Outcome::Message(format!(
                "Namespace '{name}' already exists"
            )))
        } else {
            Err(ExecError::AlreadyExists(format!(
                "Namespace '{name}' already exists"
            )))
        };
    }
    if !valid_identifier(&name) || RESERVED_NAMESPACES.contains(&name.as_str()) {
        return Err(ExecError::InvalidOperation(format!(
            "Invalid namespace name '{name}'"
        )));
    }
    inner.conn.execute(
        "INSERT INTO namespaces (name, created_at) VALUES (?1, ?2)",
        params![name, crate::ids::now_millis()],
    )?;
    inner.namespaces.insert(name.clone());
    Ok(Outcome::Message(format!(
        "Namespace '{name}' created successfully"
    )))
}

pub fn drop_namespace(
    inner: &mut Inner,
    ctx: &StmtCtx,
    name: &str,
    if_exists: bool,
) -> Result<Outcome, ExecError> {
    require_admin(ctx, "DROP NAMESPACE")?;
    let name = name.to_ascii_lowercase();
    if !inner.namespaces.contains(&name) || name == "system" {
        return if if_exists {
            Ok(Outcome::Message(format!(
                "Namespace '{name}' does not exist"
            )))
        } else {
            Err(ExecError::NotFound(format!(
                "Namespace '{name}' does not exist"
            )))
        };
    }
    if name == "default" {
        return Err(ExecError::InvalidOperation(
            "Cannot drop the default namespace".into(),
        ));
    }
    let tables: Vec<TableDef> = inner
        .tables
        .values()
        .filter(|t| t.namespace == name)
        .cloned()
        .collect();
    inner.in_transaction(|inner| -> Result<(), ExecError> {
        for t in &tables {
            inner
                .conn
                .execute_batch(&format!("DROP TABLE IF EXISTS main.{}", t.sqlite_name()))?;
            inner.conn.execute(
                "DELETE FROM catalog_tables WHERE table_id = ?1",
                params![t.id()],
            )?;
        }
        inner
            .conn
            .execute("DELETE FROM namespaces WHERE name = ?1", params![name])?;
        Ok(())
    })?;
    inner
        .reload_catalog()
        .map_err(|e| ExecError::Other(e.to_string()))?;
    Ok(Outcome::Message(format!(
        "Namespace '{name}' dropped successfully"
    )))
}

/// Reads `WITH (KEY = value, ...)` options as upper-case keys and unquoted values.
fn with_options(ct: &CreateTable) -> Vec<(String, String)> {
    let opts: &[SqlOption] = match &ct.table_options {
        CreateTableOptions::With(o)
        | CreateTableOptions::Options(o)
        | CreateTableOptions::Plain(o) => o,
        _ => &[],
    };
    opts.iter()
        .filter_map(|o| match o {
            SqlOption::KeyValue { key, value } => {
                let v = match value {
                    Expr::Value(v) => match &v.value {
                        sqlparser::ast::Value::SingleQuotedString(s)
                        | sqlparser::ast::Value::DoubleQuotedString(s) => s.clone(),
                        other => other.to_string(),
                    },
                    other => other.to_string(),
                };
                Some((key.value.to_ascii_uppercase(), v))
            }
            _ => None,
        })
        .collect()
}

pub fn create_table(
    inner: &mut Inner,
    ctx: &StmtCtx,
    ct: CreateTable,
    typed: Option<TableType>,
) -> Result<Outcome, ExecError> {
    let (namespace, name) = split_table_name(&unquote(&ct.name.to_string()), ctx.namespace);
    let options = with_options(&ct);
    let opt = |k: &str| {
        options
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
    };
    let role = ctx.effective.role;
    let mut table_type = match (typed, opt("TYPE")) {
        (Some(t), _) => t,
        (None, Some(t)) => TableType::parse(&t)
            .ok_or_else(|| ExecError::InvalidOperation(format!("Invalid table TYPE '{t}'")))?,
        (None, None) => {
            // Untyped CREATE TABLE in one's own namespace by user/service → USER table.
            if !role.is_admin() && namespace == ctx.effective.user_id.to_ascii_lowercase() {
                TableType::User
            } else {
                TableType::Shared
            }
        }
    };
    if table_type == TableType::System {
        table_type = TableType::Shared;
    }
    if table_type == TableType::Shared && role == Role::User {
        return Err(ExecError::PermissionDenied(
            "Role 'user' may not create SHARED tables".into(),
        ));
    }
    if !inner.namespaces.contains(&namespace) || namespace == "system" {
        return Err(ExecError::NotFound(format!(
            "Namespace '{namespace}' does not exist"
        )));
    }
    let table_id = format!("{namespace}.{name}");
    if inner.tables.contains_key(&table_id) {
        return if ct.if_not_exists {
            Ok(Outcome::Message(format!(
                "Table '{table_id}' already exists"
            )))
        } else {
            Err(ExecError::AlreadyExists(format!(
                "Table '{table_id}' already exists"
            )))
        };
    }
    if !valid_identifier(&name) {
        return Err(ExecError::InvalidOperation(format!(
            "Invalid table name '{name}'"
        )));
    }
    let ttl_seconds = match opt("TTL_SECONDS") {
        Some(v) if table_type != TableType::Stream => {
            let _ = v;
            return Err(ExecError::InvalidOperation(
                "TTL_SECONDS is only valid for STREAM tables".into(),
            ));
        }
        Some(v) => Some(
            v.parse::<i64>()
                .map_err(|_| ExecError::InvalidOperation(format!("Invalid TTL_SECONDS '{v}'")))?,
        ),
        None if table_type == TableType::Stream => {
            return Err(ExecError::InvalidOperation(
                "STREAM tables require TTL_SECONDS".into(),
            ))
        }
        None => None,
    };
    let access_level = match opt("ACCESS_LEVEL") {
        Some(_) if table_type != TableType::Shared => {
            return Err(ExecError::InvalidOperation(
                "ACCESS_LEVEL is only valid for SHARED tables".into(),
            ))
        }
        Some(v) => {
            let v = v.to_ascii_lowercase();
            if !matches!(v.as_str(), "public" | "private" | "restricted" | "dba") {
                return Err(ExecError::InvalidOperation(format!(
                    "Invalid ACCESS_LEVEL '{v}'"
                )));
            }
            v
        }
        None => "private".into(),
    };
    if opt("USE_USER_STORAGE").is_some() && table_type != TableType::User {
        return Err(ExecError::InvalidOperation(
            "USE_USER_STORAGE is only valid for USER tables".into(),
        ));
    }
    let mut pk_names: Vec<String> = Vec::new();
    for c in &ct.constraints {
        if let TableConstraint::PrimaryKey { columns, .. } = c {
            for ic in columns {
                pk_names.push(unquote(&ic.column.expr.to_string()).to_ascii_lowercase());
            }
        }
    }
    let mut columns: Vec<ColumnDef> = Vec::new();
    for c in &ct.columns {
        let col_name = c.name.value.to_ascii_lowercase();
        if !valid_identifier(&col_name) || RESERVED_COLUMNS.contains(&col_name.as_str()) {
            return Err(ExecError::InvalidOperation(format!(
                "Invalid column name '{}'",
                c.name.value
            )));
        }
        if columns.iter().any(|x| x.name == col_name) {
            return Err(ExecError::InvalidOperation(format!(
                "Duplicate column name '{col_name}'"
            )));
        }
        let type_text = c.data_type.to_string();
        let ty = KalamType::from_sql_name(&type_text).ok_or_else(|| {
            ExecError::InvalidOperation(format!("Unsupported data type '{type_text}'"))
        })?;
        let serial = matches!(
            type_text.to_ascii_uppercase().as_str(),
            "SERIAL" | "BIGSERIAL"
        );
        let mut col = ColumnDef {
            name: col_name.clone(),
            ty,
            not_null: false,
            primary_key: pk_names.contains(&col_name),
            default: serial.then_some(DefaultExpr::Snowflake),
        };
        for o in &c.options {
            match &o.option {
                ColumnOption::NotNull => col.not_null = true,
                ColumnOption::Null => col.not_null = false,
                ColumnOption::Default(e) => col.default = Some(default_from_expr(e)),
                ColumnOption::Unique {
                    is_primary: true, ..
                } => {
                    col.primary_key = true;
                    pk_names.push(col_name.clone());
                }
                ColumnOption::DialectSpecific(tokens) => {
                    let text: String = tokens
                        .iter()
                        .map(|t| t.to_string())
                        .collect::<Vec<_>>()
                        .join(" ");
                    if text.to_ascii_uppercase().contains("AUTO_INCREMENT") {
                        col.default = Some(DefaultExpr::Snowflake);
                    }
                }
                ColumnOption::Generated { .. } => col.default = Some(DefaultExpr::Snowflake),
                _ => {}
            }
        }
        if col.primary_key {
            col.not_null = true;
        }
        columns.push(col);
    }
    if columns.is_empty() {
        return Err(ExecError::InvalidOperation(
            "A table needs at least one column".into(),
        ));
    }
    pk_names.sort();
    pk_names.dedup();
    if pk_names.len() > 1 {
        return Err(ExecError::InvalidOperation(
            "Composite primary keys are not supported".into(),
        ));
    }
    if let Some(pk) = pk_names.first() {
        if !columns.iter().any(|c| &c.name == pk) {
            return Err(ExecError::InvalidOperation(format!(
                "Primary key column '{pk}' does not exist"
            )));
        }
    } else if table_type != TableType::Stream {
        return Err(ExecError::InvalidOperation(format!(
            "{} tables require a PRIMARY KEY column",
            table_type.as_str()
        )));
    }
    let def = TableDef {
        namespace: namespace.clone(),
        name: name.clone(),
        table_type,
        access_level,
        ttl_seconds,
        columns,
        system_source: None,
    };
    let ddl = sqlite_ddl(&def);
    let records: Vec<ColumnRecord> = def.columns.iter().map(ColumnRecord::from).collect();
    let columns_json =
        serde_json::to_string(&records).map_err(|e| ExecError::Other(e.to_string()))?;
    inner.in_transaction(|inner| -> Result<(), ExecError> {
        inner.conn.execute_batch(&ddl)?;
        inner.conn.execute(
            "INSERT INTO catalog_tables (table_id, namespace, name, table_type, access_level, ttl_seconds, columns, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                def.id(),
                def.namespace,
                def.name,
                def.table_type.as_str(),
                def.access_level,
                def.ttl_seconds,
                columns_json,
                crate::ids::now_millis()
            ],
        )?;
        Ok(())
    })?;
    // The real server's wording, seen for a SHARED table (PROTOCOL §11); the other kinds are
    // assumed to follow the same pattern.
    let message = format!(
        "CREATE TABLE via Raft consensus: {} table {} created successfully",
        def.table_type.as_str().to_ascii_lowercase(),
        def.id()
    );
    inner.tables.insert(def.id(), def);
    Ok(Outcome::Message(message))
}

/// SQLite DDL: user columns plus `_owner`, `_seq`, `_commit_seq`; the PK is unique per owner.
fn sqlite_ddl(def: &TableDef) -> String {
    let mut cols: Vec<String> = def
        .columns
        .iter()
        .map(|c| format!("{} {}", quote_ident(&c.name), c.ty.sqlite_decl()))
        .collect();
    cols.push("_owner TEXT".into());
    cols.push("_seq INTEGER NOT NULL".into());
    cols.push("_commit_seq INTEGER NOT NULL".into());
    if let Some(pk) = def.pk() {
        if def.table_type.is_per_user() {
            cols.push(format!("UNIQUE (_owner, {})", quote_ident(&pk.name)));
        } else {
            cols.push(format!("UNIQUE ({})", quote_ident(&pk.name)));
        }
    }
    let mut sql = format!(
        "CREATE TABLE main.{} ({});",
        def.sqlite_name(),
        cols.join(", ")
    );
    if def.table_type.is_per_user() {
        sql.push_str(&format!(
            "CREATE INDEX main.{0}_owner ON {0} (_owner, _seq);",
            def.sqlite_name()
        ));
    }
    sql
}

pub fn drop_tables(
    inner: &mut Inner,
    ctx: &StmtCtx,
    names: &[ObjectName],
    if_exists: bool,
) -> Result<Outcome, ExecError> {
    let mut dropped = Vec::new();
    for n in names {
        let (ns, t) = split_table_name(&unquote(&n.to_string()), ctx.namespace);
        let id = format!("{ns}.{t}");
        let Some(def) = inner.tables.get(&id).cloned() else {
            if if_exists {
                continue;
            }
            return Err(ExecError::TableNotFound(id));
        };
        if def.table_type == TableType::System {
            return Err(ExecError::PermissionDenied(format!(
                "Cannot drop system table '{id}'"
            )));
        }
        if !ctx.effective.role.is_admin()
            && (def.table_type == TableType::Shared || ctx.effective.role == Role::User)
        {
            return Err(ExecError::PermissionDenied(format!(
                "Role '{}' may not drop table '{id}'",
                ctx.effective.role.as_str()
            )));
        }
        inner.in_transaction(|inner| -> Result<(), ExecError> {
            inner
                .conn
                .execute_batch(&format!("DROP TABLE IF EXISTS main.{}", def.sqlite_name()))?;
            inner.conn.execute(
                "DELETE FROM catalog_tables WHERE table_id = ?1",
                params![id],
            )?;
            Ok(())
        })?;
        inner.tables.remove(&id);
        dropped.push(id);
    }
    Ok(Outcome::Message(format!(
        "Table(s) dropped: {}",
        dropped.join(", ")
    )))
}

fn validate_user_name(name: &str) -> Result<(), ExecError> {
    let ok = !name.is_empty()
        && name.len() <= 128
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '@'));
    if ok {
        Ok(())
    } else {
        Err(ExecError::InvalidOperation(format!(
            "Invalid user name '{name}'"
        )))
    }
}

pub fn create_user(
    inner: &mut Inner,
    ctx: &StmtCtx,
    name: &str,
    auth: UserAuth,
    role: Role,
    email: Option<String>,
) -> Result<Outcome, ExecError> {
    require_admin(ctx, "CREATE USER")?;
    if role == Role::System && ctx.effective.role != Role::System {
        return Err(ExecError::PermissionDenied(
            "Only a system user may grant role 'system'".into(),
        ));
    }
    validate_user_name(name)?;
    if find_user(&inner.conn, name)?.is_some() {
        return Err(ExecError::AlreadyExists(format!(
            "User '{name}' already exists"
        )));
    }
    let (hash, auth_type) = match auth {
        UserAuth::Password(pw) => (
            hash_for(ctx.prehashed, &pw).map_err(ExecError::Other)?,
            "internal",
        ),
        UserAuth::OAuth(_) => (String::new(), "oauth"),
        UserAuth::Internal => (String::new(), "internal"),
    };
    let now = crate::ids::now_millis();
    inner.conn.execute(
        "INSERT INTO users (user_id, role, email, password_hash, auth_type, created_at, updated_at, deleted_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, NULL) ON CONFLICT(user_id) DO UPDATE SET role = excluded.role, \
         email = excluded.email, password_hash = excluded.password_hash, auth_type = excluded.auth_type, \
         created_at = excluded.created_at, updated_at = excluded.updated_at, deleted_at = NULL",
        params![name, role.as_str(), email, hash, auth_type, now],
    )?;
    Ok(Outcome::Message(format!(
        "User '{name}' created successfully"
    )))
}

pub fn alter_user(
    inner: &mut Inner,
    ctx: &StmtCtx,
    name: &str,
    change: UserChange,
) -> Result<Outcome, ExecError> {
    require_admin(ctx, "ALTER USER")?;
    if find_user(&inner.conn, name)?.is_none() {
        return Err(ExecError::NotFound(format!("User '{name}' not found")));
    }
    let now = crate::ids::now_millis();
    match change {
        UserChange::Password(pw) => {
            let hash = hash_for(ctx.prehashed, &pw).map_err(ExecError::Other)?;
            inner.conn.execute(
                "UPDATE users SET password_hash = ?2, updated_at = ?3 WHERE user_id = ?1",
                params![name, hash, now],
            )?;
        }
        UserChange::Role(role) => {
            if role == Role::System && ctx.effective.role != Role::System {
                return Err(ExecError::PermissionDenied(
                    "Only a system user may grant role 'system'".into(),
                ));
            }
            inner.conn.execute(
                "UPDATE users SET role = ?2, updated_at = ?3 WHERE user_id = ?1",
                params![name, role.as_str(), now],
            )?;
        }
        UserChange::Email(email) => {
            inner.conn.execute(
                "UPDATE users SET email = ?2, updated_at = ?3 WHERE user_id = ?1",
                params![name, email, now],
            )?;
        }
    }
    Ok(Outcome::Message(format!(
        "User '{name}' updated successfully"
    )))
}

pub fn drop_user(
    inner: &mut Inner,
    ctx: &StmtCtx,
    name: &str,
    if_exists: bool,
) -> Result<Outcome, ExecError> {
    require_admin(ctx, "DROP USER")?;
    if name == "root" {
        return Err(ExecError::InvalidOperation(
            "Cannot drop the root user".into(),
        ));
    }
    if find_user(&inner.conn, name)?.is_none() {
        return if if_exists {
            Ok(Outcome::Message(format!("User '{name}' does not exist")))
        } else {
            Err(ExecError::NotFound(format!("User '{name}' not found")))
        };
    }
    inner.conn.execute(
        "UPDATE users SET deleted_at = ?2, updated_at = ?2 WHERE user_id = ?1",
        params![name, crate::ids::now_millis()],
    )?;
    Ok(Outcome::Message(format!(
        "User '{name}' dropped successfully"
    )))
}
