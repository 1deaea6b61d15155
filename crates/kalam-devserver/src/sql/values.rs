//! Values: JSON parameters to SQL (PROTOCOL §2.1), literal evaluation for INSERT, defaults
//! and coercion of a value to its column's type before it is stored.

use crate::catalog::{ColumnDef, DefaultExpr};
use crate::ids;
use crate::types::KalamType;
use rusqlite::types::Value as SqlValue;
use serde_json::Value as Json;
use sqlparser::ast::{Expr, FunctionArguments, UnaryOperator, Value};

/// JSON → SQL: null, bool, integral → BIGINT, other number → DOUBLE, string → TEXT.
/// Arrays and objects are rejected with the real server's message.
pub fn json_param(index: usize, v: &Json) -> Result<SqlValue, String> {
    Ok(match v {
        Json::Null => SqlValue::Null,
        Json::Bool(b) => SqlValue::Integer(*b as i64),
        Json::Number(n) => match n.as_i64() {
            Some(i) => SqlValue::Integer(i),
            None => match n.as_u64() {
                Some(u) => SqlValue::Real(u as f64),
                None => SqlValue::Real(n.as_f64().unwrap_or(0.0)),
            },
        },
        Json::String(s) => SqlValue::Text(s.clone()),
        Json::Array(_) => {
            return Err(format!(
                "Parameter ${index} invalid: Array parameters not yet supported"
            ))
        }
        Json::Object(_) => {
            return Err(format!(
                "Parameter ${index} invalid: Object parameters not yet supported"
            ))
        }
    })
}

/// Evaluates constant expressions without SQLite. None: not a simple constant (the caller
/// evaluates it through SQLite instead).
pub fn eval_simple(expr: &Expr, params: &[SqlValue], current_user: &str) -> Option<SqlValue> {
    match expr {
        Expr::Value(v) => match &v.value {
            Value::Number(n, _) => Some(number(n)?),
            Value::SingleQuotedString(s) | Value::DoubleQuotedString(s) => {
                Some(SqlValue::Text(s.clone()))
            }
            Value::Boolean(b) => Some(SqlValue::Integer(*b as i64)),
            Value::Null => Some(SqlValue::Null),
            Value::Placeholder(p) => {
                let idx: usize = p.trim_start_matches(['$', '?']).parse().ok()?;
                Some(
                    params
                        .get(idx.checked_sub(1)?)
                        .cloned()
                        .unwrap_or(SqlValue::Null),
                )
            }
            _ => None,
        },
        Expr::UnaryOp {
            op: UnaryOperator::Minus,
            expr,
        } => match eval_simple(expr, params, current_user)? {
            SqlValue::Integer(i) => Some(SqlValue::Integer(-i)),
            SqlValue::Real(f) => Some(SqlValue::Real(-f)),
            _ => None,
        },
        Expr::Nested(inner) => eval_simple(inner, params, current_user),
        Expr::Function(f) => {
            let no_args = match &f.args {
                FunctionArguments::None => true,
                FunctionArguments::List(l) => l.args.is_empty(),
                _ => false,
            };
            if !no_args {
                return None;
            }
            let name = f.name.to_string().to_ascii_lowercase();
            function_value(&name, current_user)
        }
        _ => None,
    }
}

fn number(text: &str) -> Option<SqlValue> {
    if let Ok(i) = text.parse::<i64>() {
        return Some(SqlValue::Integer(i));
    }
    text.parse::<f64>().ok().map(SqlValue::Real)
}

fn function_value(name: &str, current_user: &str) -> Option<SqlValue> {
    Some(match name {
        "now" | "current_timestamp" => SqlValue::Integer(ids::now_micros()),
        "snowflake_id" => SqlValue::Integer(ids::snowflake_id()),
        "ulid" => SqlValue::Text(ids::ulid()),
        "uuid_v7" => SqlValue::Text(ids::uuid_v7()),
        "current_user" | "kdb_current_user" => SqlValue::Text(current_user.to_string()),
        _ => return None,
    })
}

/// The value of a column's DEFAULT, computed in Rust.
pub fn default_value(d: &DefaultExpr, current_user: &str) -> SqlValue {
    match d {
        DefaultExpr::Snowflake => SqlValue::Integer(ids::snowflake_id()),
        DefaultExpr::Ulid => SqlValue::Text(ids::ulid()),
        DefaultExpr::UuidV7 => SqlValue::Text(ids::uuid_v7()),
        DefaultExpr::Now => SqlValue::Integer(ids::now_micros()),
        DefaultExpr::CurrentUser => SqlValue::Text(current_user.to_string()),
        DefaultExpr::Literal(j) => match j {
            Json::Null => SqlValue::Null,
            Json::Bool(b) => SqlValue::Integer(*b as i64),
            Json::Number(n) => n
                .as_i64()
                .map(SqlValue::Integer)
                .unwrap_or(SqlValue::Real(n.as_f64().unwrap_or(0.0))),
            Json::String(s) => SqlValue::Text(s.clone()),
            other => SqlValue::Text(other.to_string()),
        },
    }
}

/// Converts a DEFAULT expression of CREATE TABLE (PROTOCOL §5.7).
pub fn default_from_expr(expr: &Expr) -> DefaultExpr {
    if let Expr::Function(f) = expr {
        match f.name.to_string().to_ascii_lowercase().as_str() {
            "now" | "current_timestamp" => return DefaultExpr::Now,
            "snowflake_id" => return DefaultExpr::Snowflake,
            "uuid_v7" => return DefaultExpr::UuidV7,
            "ulid" => return DefaultExpr::Ulid,
            "current_user" => return DefaultExpr::CurrentUser,
            _ => return DefaultExpr::Literal(Json::String(expr.to_string())),
        }
    }
    match eval_simple(expr, &[], "") {
        Some(SqlValue::Integer(i)) => DefaultExpr::Literal(Json::from(i)),
        Some(SqlValue::Real(f)) => DefaultExpr::Literal(
            serde_json::Number::from_f64(f)
                .map(Json::Number)
                .unwrap_or(Json::Null),
        ),
        Some(SqlValue::Text(s)) => DefaultExpr::Literal(Json::String(s)),
        Some(SqlValue::Null) | None if matches!(expr, Expr::Value(_)) => {
            DefaultExpr::Literal(Json::Null)
        }
        _ => DefaultExpr::Literal(Json::String(expr.to_string())),
    }
}

/// Coerces a value to the storage form of a column; Err(message) when it cannot be cast.
pub fn coerce(col: &ColumnDef, v: SqlValue) -> Result<SqlValue, String> {
    let fail = |v: &SqlValue| {
        format!(
            "Cannot cast value {v:?} to {} for column '{}'",
            col.ty.catalog_name(),
            col.name
        )
    };
    Ok(match (&col.ty, v) {
        (_, SqlValue::Null) => SqlValue::Null,
        (KalamType::Boolean, SqlValue::Integer(i)) => SqlValue::Integer((i != 0) as i64),
        (KalamType::Boolean, SqlValue::Text(s)) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "t" | "1" | "yes" => SqlValue::Integer(1),
            "false" | "f" | "0" | "no" => SqlValue::Integer(0),
            _ => return Err(fail(&SqlValue::Text(s))),
        },
        (KalamType::BigInt | KalamType::Int | KalamType::SmallInt, SqlValue::Integer(i)) => {
            SqlValue::Integer(in_range(&col.ty, i).ok_or_else(|| fail(&SqlValue::Integer(i)))?)
        }
        (KalamType::BigInt | KalamType::Int | KalamType::SmallInt, SqlValue::Real(f)) => {
            // Out-of-range literals (parsed as floats) are errors, never silently saturated.
            // `i64::MAX as f64` rounds up to 2^63, the first float that does not fit.
            if !f.is_finite() || f < i64::MIN as f64 || f >= i64::MAX as f64 {
                return Err(fail(&SqlValue::Real(f)));
            }
            SqlValue::Integer(in_range(&col.ty, f as i64).ok_or_else(|| fail(&SqlValue::Real(f)))?)
        }
        (KalamType::BigInt | KalamType::Int | KalamType::SmallInt, SqlValue::Text(s)) => {
            match s
                .trim()
                .parse::<i64>()
                .ok()
                .and_then(|i| in_range(&col.ty, i))
            {
                Some(i) => SqlValue::Integer(i),
                None => return Err(fail(&SqlValue::Text(s))),
            }
        }
        (KalamType::Double | KalamType::Float, SqlValue::Integer(i)) => SqlValue::Real(i as f64),
        (KalamType::Double | KalamType::Float, SqlValue::Text(s)) => {
            match s.trim().parse::<f64>() {
                Ok(f) => SqlValue::Real(f),
                Err(_) => return Err(fail(&SqlValue::Text(s))),
            }
        }
        (KalamType::Timestamp | KalamType::DateTime, SqlValue::Text(s)) => {
            match parse_timestamp_micros(&s) {
                Some(us) => SqlValue::Integer(us),
                None => return Err(fail(&SqlValue::Text(s))),
            }
        }
        (KalamType::Timestamp | KalamType::DateTime | KalamType::Time, SqlValue::Real(f)) => {
            SqlValue::Integer(f as i64)
        }
        (KalamType::Date, SqlValue::Text(s)) => {
            match chrono::NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d") {
                Ok(d) => SqlValue::Integer(
                    d.signed_duration_since(chrono::NaiveDate::default())
                        .num_days(),
                ),
                Err(_) => return Err(fail(&SqlValue::Text(s))),
            }
        }
        (
            KalamType::Text
            | KalamType::Json
            | KalamType::Uuid
            | KalamType::File
            | KalamType::Decimal { .. },
            SqlValue::Integer(i),
        ) => SqlValue::Text(i.to_string()),
        (
            KalamType::Text
            | KalamType::Json
            | KalamType::Uuid
            | KalamType::File
            | KalamType::Decimal { .. },
            SqlValue::Real(f),
        ) => SqlValue::Text(f.to_string()),
        (KalamType::Bytes, SqlValue::Text(s)) => SqlValue::Blob(s.into_bytes()),
        (_, other) => other,
    })
}

/// INT is 32-bit and SMALLINT 16-bit, as in KalamDB's Arrow types.
fn in_range(ty: &KalamType, i: i64) -> Option<i64> {
    let ok = match ty {
        KalamType::Int => i32::try_from(i).is_ok(),
        KalamType::SmallInt => i16::try_from(i).is_ok(),
        _ => true,
    };
    ok.then_some(i)
}

/// RFC 3339, `YYYY-MM-DD HH:MM:SS[.f]` (UTC) or a bare date, to microseconds since epoch.
pub fn parse_timestamp_micros(s: &str) -> Option<i64> {
    let s = s.trim();
    if let Ok(dt) = chrono::DateTime::parse_from_rfc3339(s) {
        return Some(dt.timestamp_micros());
    }
    for fmt in [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M:%S",
    ] {
        if let Ok(ndt) = chrono::NaiveDateTime::parse_from_str(s, fmt) {
            return Some(ndt.and_utc().timestamp_micros());
        }
    }
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|ndt| ndt.and_utc().timestamp_micros())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(ty: KalamType) -> ColumnDef {
        ColumnDef {
            name: "c".into(),
            ty,
            not_null: false,
            primary_key: false,
            default: None,
        }
    }

    #[test]
    fn params_map_like_the_server() {
        assert_eq!(
            json_param(1, &serde_json::json!(5)).unwrap(),
            SqlValue::Integer(5)
        );
        assert_eq!(
            json_param(1, &serde_json::json!(1.5)).unwrap(),
            SqlValue::Real(1.5)
        );
        assert_eq!(
            json_param(1, &serde_json::json!(true)).unwrap(),
            SqlValue::Integer(1)
        );
        assert_eq!(
            json_param(1, &serde_json::json!({"a": 1})).unwrap_err(),
            "Parameter $1 invalid: Object parameters not yet supported"
        );
        assert!(json_param(2, &serde_json::json!([1]))
            .unwrap_err()
            .contains("$2"));
    }

    #[test]
    fn coercion() {
        assert_eq!(
            coerce(&col(KalamType::BigInt), SqlValue::Text("42".into())).unwrap(),
            SqlValue::Integer(42)
        );
        assert!(coerce(&col(KalamType::BigInt), SqlValue::Text("x".into())).is_err());
        assert!(coerce(&col(KalamType::BigInt), SqlValue::Real(1e23)).is_err());
        assert!(coerce(&col(KalamType::Int), SqlValue::Integer(3_000_000_000)).is_err());
        assert_eq!(
            coerce(&col(KalamType::SmallInt), SqlValue::Integer(-5)).unwrap(),
            SqlValue::Integer(-5)
        );
        assert_eq!(
            coerce(
                &col(KalamType::Timestamp),
                SqlValue::Text("1970-01-01T00:00:01Z".into())
            )
            .unwrap(),
            SqlValue::Integer(1_000_000)
        );
        assert_eq!(
            coerce(&col(KalamType::Text), SqlValue::Integer(3)).unwrap(),
            SqlValue::Text("3".into())
        );
        assert_eq!(
            coerce(&col(KalamType::Boolean), SqlValue::Text("true".into())).unwrap(),
            SqlValue::Integer(1)
        );
    }
}
