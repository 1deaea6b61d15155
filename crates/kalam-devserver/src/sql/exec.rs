//! Dispatch of one statement: KalamDB-only statements first, then standard SQL via sqlparser.

use super::errors::ExecError;
use super::kalam_parser::{self, KalamStatement};
use super::{ddl, dml, select, topic_sql, update, Outcome, StmtCtx};
use crate::catalog::{split_table_name, TableDef, TableType};
use crate::store::session::Session;
use crate::store::Inner;
use sqlparser::ast::{ObjectType, Statement};
use sqlparser::dialect::GenericDialect;
use sqlparser::parser::Parser;

pub fn execute(inner: &mut Session, ctx: &StmtCtx, sql: &str) -> Result<Outcome, ExecError> {
    match kalam_parser::parse(sql)
        .map_err(|e| ExecError::InvalidSql(format!("sql parser error: {e}")))?
    {
        Some(stmt) => execute_kalam(inner, ctx, stmt),
        None => {
            let stmt = parse_one(sql)?;
            execute_standard(inner, ctx, stmt, None)
        }
    }
}

/// One standard statement through sqlparser. `CURRENT_USER()` is accepted like KalamDB does.
fn parse_one(sql: &str) -> Result<Statement, ExecError> {
    let sql = super::split::strip_call_parens(sql, &["current_user", "current_role"]);
    let mut parsed = Parser::parse_sql(&GenericDialect {}, &sql)
        .map_err(|e| ExecError::InvalidSql(e.to_string()))?;
    if parsed.len() != 1 {
        return Err(ExecError::InvalidSql(
            "Expected exactly one statement".into(),
        ));
    }
    Ok(parsed.remove(0))
}

fn execute_kalam(
    inner: &mut Session,
    ctx: &StmtCtx,
    stmt: KalamStatement,
) -> Result<Outcome, ExecError> {
    use KalamStatement as K;
    match stmt {
        K::CreateNamespace {
            name,
            if_not_exists,
        } => ddl::create_namespace(inner, ctx, &name, if_not_exists),
        K::DropNamespace { name, if_exists } => ddl::drop_namespace(inner, ctx, &name, if_exists),
        K::CreateTypedTable {
            table_type,
            standard_sql,
        } => {
            let stmt = parse_one(&standard_sql)?;
            execute_standard(inner, ctx, stmt, TableType::parse(&table_type))
        }
        K::CreateUser {
            name,
            auth,
            role,
            email,
        } => ddl::create_user(inner, ctx, &name, auth, role, email),
        K::AlterUser { name, change } => ddl::alter_user(inner, ctx, &name, change),
        K::DropUser { name, if_exists } => ddl::drop_user(inner, ctx, &name, if_exists),
        K::CreateTopic { topic, partitions } => {
            topic_sql::create_topic(inner, ctx, &topic, partitions)
        }
        K::DropTopic { topic, if_exists } => topic_sql::drop_topic(inner, ctx, &topic, if_exists),
        K::ClearTopic { topic } => topic_sql::clear_topic(inner, ctx, &topic),
        K::AddTopicSource {
            topic,
            table,
            op,
            payload_mode,
            filter,
        } => topic_sql::add_source(inner, ctx, &topic, &table, &op, &payload_mode, filter),
        K::Consume {
            topic,
            group,
            position,
            limit,
        } => topic_sql::consume(inner, ctx, &topic, group, position, limit),
        K::Ack {
            topic,
            group,
            partition,
            offset,
        } => topic_sql::ack(inner, ctx, &topic, &group, partition, offset),
    }
}

fn execute_standard(
    inner: &mut Session,
    ctx: &StmtCtx,
    stmt: Statement,
    typed: Option<TableType>,
) -> Result<Outcome, ExecError> {
    match stmt {
        Statement::Query(q) => select::run_query(inner, ctx, *q),
        Statement::Insert(ins) => dml::insert(inner, ctx, ins),
        Statement::Update {
            table,
            assignments,
            selection,
            ..
        } => update::update(inner, ctx, table, assignments, selection),
        Statement::Delete(del) => dml::delete(inner, ctx, del),
        Statement::CreateTable(ct) => ddl::create_table(inner, ctx, ct, typed),
        Statement::Drop {
            object_type: ObjectType::Table,
            if_exists,
            names,
            ..
        } => ddl::drop_tables(inner, ctx, &names, if_exists),
        Statement::StartTransaction { .. } => {
            if inner.explicit_tx {
                return Err(ExecError::InvalidOperation(
                    "A transaction is already open".into(),
                ));
            }
            inner.begin_explicit()?;
            Ok(Outcome::Message("Transaction started".into()))
        }
        Statement::Commit { .. } => {
            if !inner.explicit_tx {
                return Err(ExecError::InvalidOperation("No transaction is open".into()));
            }
            inner.commit_explicit()?;
            Ok(Outcome::Message("Transaction committed".into()))
        }
        Statement::Rollback { .. } => {
            if !inner.explicit_tx {
                return Err(ExecError::InvalidOperation("No transaction is open".into()));
            }
            inner.rollback_explicit();
            Ok(Outcome::Message("Transaction rolled back".into()))
        }
        other => {
            let text = other.to_string();
            let head: String = text.chars().take(40).collect();
            Err(ExecError::InvalidSql(format!(
                "Unsupported statement: {head}"
            )))
        }
    }
}

/// Resolves a table name (bare names use the request namespace) to its catalog entry.
pub fn resolve_table(inner: &Inner, name: &str, namespace: &str) -> Result<TableDef, ExecError> {
    let (ns, table) = split_table_name(&unquote(name), namespace);
    inner
        .tables
        .get(&format!("{ns}.{table}"))
        .cloned()
        .ok_or_else(|| ExecError::TableNotFound(format!("{ns}.{table}")))
}

/// `"App"."Orders"` → `App.Orders`.
pub fn unquote(name: &str) -> String {
    name.replace(['"', '`'], "")
}

/// Read/write permission of a table for the effective identity (PROTOCOL §1.8, §2.6).
pub fn check_access(ctx: &StmtCtx, table: &TableDef, write: bool) -> Result<(), ExecError> {
    let role = ctx.effective.role;
    match table.table_type {
        TableType::System => {
            if write {
                return Err(ExecError::PermissionDenied(format!(
                    "System table '{}' is read-only",
                    table.id()
                )));
            }
            if !role.is_admin() {
                // The real server's words (PROTOCOL §11), role name capitalised as it prints it.
                let name = role.as_str();
                return Err(ExecError::PermissionDenied(format!(
                    "Role '{}{}' cannot access table '{}'. System tables require 'dba' or 'system' role.",
                    name[..1].to_ascii_uppercase(),
                    &name[1..],
                    table.id()
                )));
            }
        }
        TableType::Shared => {
            if ctx.impersonating {
                return Err(ExecError::InvalidOperation(format!(
                    "EXECUTE AS USER is not supported for shared table '{}'",
                    table.colon_id()
                )));
            }
            let level = table.access_level.to_ascii_lowercase();
            let allowed = if write {
                role != crate::users::Role::User
            } else {
                match level.as_str() {
                    "public" => true,
                    "dba" => role.is_admin(),
                    _ => role != crate::users::Role::User,
                }
            };
            if !allowed {
                return Err(ExecError::PermissionDenied(format!(
                    "Role '{}' may not {} shared table '{}'",
                    role.as_str(),
                    if write { "write" } else { "read" },
                    table.id()
                )));
            }
        }
        TableType::User | TableType::Stream => {}
    }
    Ok(())
}
