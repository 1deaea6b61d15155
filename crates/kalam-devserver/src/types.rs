//! KalamDB column types and the JSON encoding of cells (PROTOCOL §2.2, §2.3, §5.8).
//! Rows and topic payloads share these rules, so both go through `encode_cell`.

use rusqlite::types::Value as SqlValue;
use serde_json::{json, Value as Json};

/// A column type as KalamDB names it on the wire (`schema[].data_type`).
#[derive(Clone, Debug, PartialEq)]
pub enum KalamType {
    Boolean,
    Int,
    SmallInt,
    BigInt,
    Double,
    Float,
    Text,
    Timestamp,
    Date,
    DateTime,
    Time,
    Json,
    Bytes,
    Uuid,
    File,
    Embedding(u32),
    Decimal { precision: u32, scale: u32 },
}

impl KalamType {
    /// Maps a SQL type name (as written in CREATE TABLE, upper-cased) to a Kalam type.
    pub fn from_sql_name(name: &str) -> Option<KalamType> {
        let upper = name.trim().to_ascii_uppercase();
        let (base, args) = match upper.find('(') {
            Some(i) => (
                upper[..i].trim().to_string(),
                upper[i + 1..].trim_end_matches(')').to_string(),
            ),
            None => (upper.clone(), String::new()),
        };
        let nums: Vec<u32> = args
            .split(',')
            .filter_map(|s| s.trim().parse().ok())
            .collect();
        Some(match base.as_str() {
            "TEXT" | "VARCHAR" | "CHAR" | "STRING" | "CHARACTER VARYING" => KalamType::Text,
            "INT" | "INTEGER" | "INT4" => KalamType::Int,
            "BIGINT" | "INT8" | "BIGSERIAL" | "SERIAL" => KalamType::BigInt,
            "SMALLINT" | "INT2" => KalamType::SmallInt,
            "BOOLEAN" | "BOOL" => KalamType::Boolean,
            "DOUBLE" | "FLOAT8" | "DOUBLE PRECISION" => KalamType::Double,
            "FLOAT" | "REAL" | "FLOAT4" => KalamType::Float,
            "JSON" | "JSONB" => KalamType::Json,
            "TIMESTAMP" => KalamType::Timestamp,
            "DATETIME" => KalamType::DateTime,
            "DATE" => KalamType::Date,
            "TIME" => KalamType::Time,
            "UUID" => KalamType::Uuid,
            "BYTEA" | "BLOB" | "BYTES" => KalamType::Bytes,
            "FILE" => KalamType::File,
            "EMBEDDING" => KalamType::Embedding(*nums.first().unwrap_or(&0)),
            "DECIMAL" | "NUMERIC" => KalamType::Decimal {
                precision: *nums.first().unwrap_or(&38),
                scale: *nums.get(1).unwrap_or(&0),
            },
            _ => return None,
        })
    }

    /// The `data_type` value of a schema entry.
    pub fn wire_name(&self) -> Json {
        match self {
            KalamType::Boolean => json!("Boolean"),
            KalamType::Int => json!("Int"),
            KalamType::SmallInt => json!("SmallInt"),
            KalamType::BigInt => json!("BigInt"),
            KalamType::Double => json!("Double"),
            KalamType::Float => json!("Float"),
            KalamType::Text => json!("Text"),
            KalamType::Timestamp => json!("Timestamp"),
            KalamType::Date => json!("Date"),
            KalamType::DateTime => json!("DateTime"),
            KalamType::Time => json!("Time"),
            KalamType::Json => json!("Json"),
            KalamType::Bytes => json!("Bytes"),
            KalamType::Uuid => json!("Uuid"),
            KalamType::File => json!("File"),
            KalamType::Embedding(n) => json!({ "Embedding": n }),
            KalamType::Decimal { precision, scale } => {
                json!({ "Decimal": { "precision": precision, "scale": scale } })
            }
        }
    }

    /// Stable text stored in the catalog; parsed back by `from_catalog`.
    pub fn catalog_name(&self) -> String {
        match self {
            KalamType::Embedding(n) => format!("EMBEDDING({n})"),
            KalamType::Decimal { precision, scale } => format!("DECIMAL({precision},{scale})"),
            other => match other.wire_name() {
                Json::String(s) => s.to_ascii_uppercase(),
                _ => "TEXT".into(),
            },
        }
    }

    pub fn from_catalog(name: &str) -> KalamType {
        KalamType::from_sql_name(name).unwrap_or(KalamType::Text)
    }

    /// The SQLite declared type, chosen so SQLite's affinity rules compare values sensibly
    /// (a BIGINT column compared with the text '42' still matches 42).
    pub fn sqlite_decl(&self) -> &'static str {
        match self {
            KalamType::Boolean
            | KalamType::Int
            | KalamType::SmallInt
            | KalamType::BigInt
            | KalamType::Timestamp
            | KalamType::Date
            | KalamType::DateTime
            | KalamType::Time => "INTEGER",
            KalamType::Double | KalamType::Float => "REAL",
            KalamType::Bytes => "BLOB",
            _ => "TEXT",
        }
    }

    pub fn is_integer_like(&self) -> bool {
        self.sqlite_decl() == "INTEGER"
    }
}

/// Encodes one stored cell for JSON output per PROTOCOL §2.3.
pub fn encode_cell(ty: &KalamType, value: &SqlValue) -> Json {
    match value {
        SqlValue::Null => Json::Null,
        SqlValue::Integer(i) => match ty {
            KalamType::BigInt => Json::String(i.to_string()),
            KalamType::Boolean => Json::Bool(*i != 0),
            KalamType::Double | KalamType::Float => json!(*i as f64),
            KalamType::Text | KalamType::Json | KalamType::File | KalamType::Uuid => {
                Json::String(i.to_string())
            }
            KalamType::Decimal { scale, .. } => Json::String(format_decimal(*i as f64, *scale)),
            _ => json!(i),
        },
        SqlValue::Real(f) => match ty {
            KalamType::BigInt => Json::String((*f as i64).to_string()),
            KalamType::Int
            | KalamType::SmallInt
            | KalamType::Timestamp
            | KalamType::Date
            | KalamType::DateTime
            | KalamType::Time => json!(*f as i64),
            KalamType::Boolean => Json::Bool(*f != 0.0),
            KalamType::Text | KalamType::Json | KalamType::File | KalamType::Uuid => {
                Json::String(f.to_string())
            }
            KalamType::Decimal { scale, .. } => Json::String(format_decimal(*f, *scale)),
            _ => serde_json::Number::from_f64(*f)
                .map(Json::Number)
                .unwrap_or(Json::Null),
        },
        SqlValue::Text(s) => match ty {
            KalamType::BigInt => Json::String(s.clone()),
            KalamType::Int | KalamType::SmallInt => s
                .trim()
                .parse::<i64>()
                .map(|i| json!(i))
                .unwrap_or_else(|_| Json::String(s.clone())),
            KalamType::Double | KalamType::Float => s
                .trim()
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map(Json::Number)
                .unwrap_or_else(|| Json::String(s.clone())),
            KalamType::Boolean => match s.to_ascii_lowercase().as_str() {
                "true" | "t" | "1" => Json::Bool(true),
                "false" | "f" | "0" => Json::Bool(false),
                _ => Json::String(s.clone()),
            },
            KalamType::Decimal { scale, .. } => match s.trim().parse::<f64>() {
                Ok(f) => Json::String(format_decimal(f, *scale)),
                Err(_) => Json::String(s.clone()),
            },
            _ => Json::String(s.clone()),
        },
        SqlValue::Blob(b) => match ty {
            KalamType::Text | KalamType::Json => {
                Json::String(String::from_utf8_lossy(b).into_owned())
            }
            _ => Json::Array(b.iter().map(|x| json!(x)).collect()),
        },
    }
}

fn format_decimal(value: f64, scale: u32) -> String {
    format!("{:.*}", scale as usize, value)
}

/// Type of a computed column whose type the catalog cannot tell: taken from the values.
pub fn infer_type(values: &[&SqlValue]) -> KalamType {
    for v in values {
        match v {
            SqlValue::Integer(_) => return KalamType::BigInt,
            SqlValue::Real(_) => return KalamType::Double,
            SqlValue::Text(_) => return KalamType::Text,
            SqlValue::Blob(_) => return KalamType::Bytes,
            SqlValue::Null => {}
        }
    }
    KalamType::Text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bigint_is_a_string_and_timestamp_a_number() {
        assert_eq!(
            encode_cell(&KalamType::BigInt, &SqlValue::Integer(42)),
            json!("42")
        );
        assert_eq!(
            encode_cell(&KalamType::Timestamp, &SqlValue::Integer(1795729320457000)),
            json!(1795729320457000i64)
        );
        assert_eq!(
            encode_cell(&KalamType::Int, &SqlValue::Integer(7)),
            json!(7)
        );
        assert_eq!(
            encode_cell(&KalamType::Boolean, &SqlValue::Integer(1)),
            json!(true)
        );
        assert_eq!(
            encode_cell(&KalamType::Json, &SqlValue::Text("{\"a\":1}".into())),
            json!("{\"a\":1}")
        );
        assert_eq!(
            encode_cell(&KalamType::Bytes, &SqlValue::Blob(vec![1, 2])),
            json!([1, 2])
        );
        assert_eq!(encode_cell(&KalamType::Text, &SqlValue::Null), Json::Null);
        let dec = KalamType::Decimal {
            precision: 10,
            scale: 2,
        };
        assert_eq!(encode_cell(&dec, &SqlValue::Real(200.75)), json!("200.75"));
    }

    #[test]
    fn type_names_round_trip() {
        for name in [
            "BIGINT",
            "INT",
            "TEXT",
            "TIMESTAMP",
            "JSON",
            "BOOLEAN",
            "DOUBLE",
            "DECIMAL(10,2)",
        ] {
            let t = KalamType::from_sql_name(name).expect(name);
            assert_eq!(KalamType::from_catalog(&t.catalog_name()), t);
        }
        assert_eq!(
            KalamType::from_sql_name("varchar(20)"),
            Some(KalamType::Text)
        );
        assert_eq!(KalamType::from_sql_name("nonsense"), None);
    }
}
