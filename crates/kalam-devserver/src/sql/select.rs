//! SELECT: rewritten for SQLite, executed there, encoded with the catalog's column types
//! (PROTOCOL §2.2, §2.3, §11: `count(*)`, `Int64(1)`, BigInt as strings, flags).

use super::errors::ExecError;
use super::rewrite::{query_rows, rewrite_expressions, rewrite_tables, top_select};
use super::{Outcome, StmtCtx};
use crate::catalog::{ColumnDef, TableDef};
use crate::store::Inner;
use crate::types::{encode_cell, infer_type, KalamType};
use serde_json::{json, Value as Json};
use sqlparser::ast::{
    Expr, FunctionArg, FunctionArgExpr, FunctionArguments, Query, SelectItem, Statement, Value,
};

/// What we know about an output column before running the query.
struct ColumnGuess {
    name: Option<String>,
    ty: Option<KalamType>,
    column: Option<ColumnDef>,
}

pub fn run_query(inner: &mut Inner, ctx: &StmtCtx, query: Query) -> Result<Outcome, ExecError> {
    let mut stmt = Statement::Query(Box::new(query));
    rewrite_expressions(
        &mut stmt,
        &ctx.effective.user_id,
        ctx.effective.role.as_str(),
    );
    let original = match &stmt {
        Statement::Query(q) => q.as_ref().clone(),
        _ => return Err(ExecError::Other("not a query".into())),
    };
    let tables = rewrite_tables(inner, ctx, &mut stmt)?;
    let guesses = guess_columns(&original, &tables, ctx.raw_params);
    let cap = inner.options.query_limits.row_cap(&original);
    let (names, rows) = query_rows(&inner.conn, &stmt.to_string(), ctx.params, cap)?;

    let mut schema = Vec::with_capacity(names.len());
    let mut types = Vec::with_capacity(names.len());
    for (i, sqlite_name) in names.iter().enumerate() {
        let guess = guesses.as_ref().and_then(|g| g.get(i));
        let by_name = find_column(&tables, sqlite_name);
        let column = guess.and_then(|g| g.column.clone()).or_else(|| {
            if guesses.is_none() {
                by_name
            } else {
                None
            }
        });
        let name = guess
            .and_then(|g| g.name.clone())
            .unwrap_or_else(|| sqlite_name.clone());
        let ty = guess
            .and_then(|g| g.ty.clone())
            .or_else(|| column.as_ref().map(|c| c.ty.clone()))
            .unwrap_or_else(|| infer_type(&rows.iter().map(|r| &r[i]).collect::<Vec<_>>()));
        let mut entry = json!({ "name": name, "data_type": ty.wire_name(), "index": i });
        if let Some(c) = &column {
            let flags = c.flags();
            if !flags.is_empty() {
                entry["flags"] = json!(flags);
            }
        }
        schema.push(entry);
        types.push(ty);
    }
    let rows: Vec<Vec<Json>> = rows
        .iter()
        .map(|r| {
            r.iter()
                .zip(&types)
                .map(|(v, t)| encode_cell(t, v))
                .collect()
        })
        .collect();
    Ok(Outcome::Rows { schema, rows })
}

fn find_column(tables: &[TableDef], name: &str) -> Option<ColumnDef> {
    tables.iter().find_map(|t| t.column(name).cloned())
}

/// Names and types from the top-level projection; None when it has wildcards or is not a
/// plain SELECT (then SQLite's names and a lookup by name are used).
fn guess_columns(query: &Query, tables: &[TableDef], params: &[Json]) -> Option<Vec<ColumnGuess>> {
    let select = top_select(query)?;
    let mut out = Vec::new();
    for item in &select.projection {
        match item {
            SelectItem::UnnamedExpr(expr) => out.push(guess_expr(expr, tables, params, None)),
            SelectItem::ExprWithAlias { expr, alias } => {
                out.push(guess_expr(expr, tables, params, Some(alias.value.clone())))
            }
            _ => return None,
        }
    }
    Some(out)
}

fn guess_expr(
    expr: &Expr,
    tables: &[TableDef],
    params: &[Json],
    alias: Option<String>,
) -> ColumnGuess {
    let column_ref = |name: &str| find_column(tables, name);
    match expr {
        Expr::Identifier(id) => {
            let col = column_ref(&id.value);
            ColumnGuess {
                name: alias.or_else(|| {
                    Some(
                        col.as_ref()
                            .map(|c| c.name.clone())
                            .unwrap_or(id.value.clone()),
                    )
                }),
                ty: col.as_ref().map(|c| c.ty.clone()),
                column: col,
            }
        }
        Expr::CompoundIdentifier(parts) => {
            let last = parts.last().map(|p| p.value.clone()).unwrap_or_default();
            let col = column_ref(&last);
            ColumnGuess {
                name: alias.or(Some(col.as_ref().map(|c| c.name.clone()).unwrap_or(last))),
                ty: col.as_ref().map(|c| c.ty.clone()),
                column: col,
            }
        }
        Expr::Value(v) => {
            let (name, ty) = match &v.value {
                Value::Number(n, _) if n.parse::<i64>().is_ok() => {
                    (format!("Int64({n})"), Some(KalamType::BigInt))
                }
                Value::Number(n, _) => (format!("Float64({n})"), Some(KalamType::Double)),
                Value::SingleQuotedString(s) => (format!("Utf8(\"{s}\")"), Some(KalamType::Text)),
                Value::Boolean(b) => (format!("Boolean({b})"), Some(KalamType::Boolean)),
                Value::Placeholder(p) => {
                    let idx: Option<usize> = p.trim_start_matches(['$', '?']).parse().ok();
                    let ty =
                        idx.and_then(|i| params.get(i.checked_sub(1)?))
                            .and_then(|j| match j {
                                Json::Bool(_) => Some(KalamType::Boolean),
                                Json::Number(n) if n.is_i64() => Some(KalamType::BigInt),
                                Json::Number(_) => Some(KalamType::Double),
                                Json::String(_) => Some(KalamType::Text),
                                _ => None,
                            });
                    (format!("${}", p.trim_start_matches(['$', '?'])), ty)
                }
                other => (other.to_string(), None),
            };
            ColumnGuess {
                name: Some(alias.unwrap_or(name)),
                ty,
                column: None,
            }
        }
        Expr::Function(f) => {
            let fname = f.name.to_string().to_ascii_lowercase();
            let args: Vec<&FunctionArgExpr> = match &f.args {
                FunctionArguments::List(l) => l
                    .args
                    .iter()
                    .map(|a| match a {
                        FunctionArg::Unnamed(e) => e,
                        FunctionArg::Named { arg, .. } | FunctionArg::ExprNamed { arg, .. } => arg,
                    })
                    .collect(),
                _ => vec![],
            };
            let arg_text: Vec<String> = args
                .iter()
                .map(|a| match a {
                    FunctionArgExpr::Wildcard => "*".to_string(),
                    other => other.to_string(),
                })
                .collect();
            let arg_col = args.first().and_then(|a| match a {
                FunctionArgExpr::Expr(Expr::Identifier(id)) => column_ref(&id.value),
                FunctionArgExpr::Expr(Expr::CompoundIdentifier(p)) => {
                    p.last().and_then(|l| column_ref(&l.value))
                }
                _ => None,
            });
            let ty = match fname.as_str() {
                "count" => Some(KalamType::BigInt),
                "avg" => Some(KalamType::Double),
                "sum" => arg_col.map(|c| {
                    if c.ty.is_integer_like() {
                        KalamType::BigInt
                    } else {
                        KalamType::Double
                    }
                }),
                "min" | "max" => arg_col.map(|c| c.ty),
                "now" | "current_timestamp" => Some(KalamType::Timestamp),
                "snowflake_id" => Some(KalamType::BigInt),
                _ => None,
            };
            ColumnGuess {
                name: Some(alias.unwrap_or(format!("{fname}({})", arg_text.join(", ")))),
                ty,
                column: None,
            }
        }
        Expr::Nested(inner) => {
            let mut g = guess_expr(inner, tables, params, alias);
            g.column = None;
            g
        }
        other => ColumnGuess {
            name: Some(alias.unwrap_or_else(|| other.to_string())),
            ty: None,
            column: None,
        },
    }
}
