//! Start positions: what the user wrote (`'earliest'`, `5`, `{ offset: 5 }`, ...) to the wire
//! form `"Latest" | "Earliest" | {"Offset": n}` (§3.1), following the SDK rules of §7.2:
//!
//! * absent (`undefined`/`null`), `""` or `"latest"` → `Latest` (the default);
//! * `"earliest"` → `Earliest` (both names case-insensitive, surrounding blanks ignored);
//! * a finite number `n` → `Offset(max(0, floor(n)))`;
//! * a string of ASCII digits → `Offset(n)`;
//! * `{ offset: v }` or `{ Offset: v }` with `v` a number or digit string as above;
//! * anything else → [`StartError`] (the wasm crate reports it as `INVALID_OPTION`).
//!
//! Offsets above 2^53 − 1 are rejected: JavaScript cannot represent them exactly.

use thiserror::Error;

use crate::write::write_u64;

/// Largest integer a JavaScript number holds exactly.
pub const MAX_SAFE_OFFSET: u64 = (1 << 53) - 1;

/// The wire form of a start position (§3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WireStart {
    /// Only messages published after the group's first consume.
    Latest,
    /// From offset 0.
    Earliest,
    /// From the given offset.
    Offset(u64),
}

impl WireStart {
    /// Appends the wire JSON: `"Latest"`, `"Earliest"` or `{"Offset":n}` (the consume body's
    /// `start`, §3.1; written without fmt like every request body).
    pub fn write_json(&self, out: &mut String) {
        match self {
            WireStart::Latest => out.push_str("\"Latest\""),
            WireStart::Earliest => out.push_str("\"Earliest\""),
            WireStart::Offset(n) => {
                out.push_str("{\"Offset\":");
                write_u64(out, *n);
                out.push('}');
            }
        }
    }
}

/// A start position as a caller wrote it, already split by JavaScript type.
#[derive(Debug, Clone, PartialEq)]
pub enum StartInput<'a> {
    /// `undefined` or `null`.
    Absent,
    /// A number.
    Number(f64),
    /// A string.
    Text(&'a str),
    /// An object; `offset` is the value of its `Offset` key, else of its `offset` key
    /// (`None` when it has neither).
    Object {
        /// The offset value found in the object.
        offset: Option<Box<StartInput<'a>>>,
    },
    /// Any other type (boolean, array, function, ...); the payload names the type.
    Other(&'static str),
}

/// Why a start position was rejected.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum StartError {
    /// An unknown start string.
    #[error(
        "unknown start position '{0}': expected 'earliest', 'latest', an offset or {{ offset: n }}"
    )]
    UnknownString(String),
    /// A number that is NaN or infinite.
    #[error("start offset must be a finite number")]
    NotFinite,
    /// An offset beyond 2^53 - 1.
    #[error("start offset is larger than 2^53 - 1")]
    TooLarge,
    /// An object without `offset`/`Offset`, or with an unusable value.
    #[error("start object must be {{ offset: n }} with a non-negative integer n")]
    BadObject,
    /// A value of the wrong type.
    #[error("start position must be a string, a number or {{ offset: n }}, not {0}")]
    WrongType(&'static str),
}

fn offset_from_number(n: f64) -> Result<WireStart, StartError> {
    if !n.is_finite() {
        return Err(StartError::NotFinite);
    }
    let floored = n.floor().max(0.0);
    if floored > MAX_SAFE_OFFSET as f64 {
        return Err(StartError::TooLarge);
    }
    Ok(WireStart::Offset(floored as u64))
}

fn offset_from_digits(text: &str) -> Option<Result<WireStart, StartError>> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(match text.parse::<u64>() {
        Ok(n) if n <= MAX_SAFE_OFFSET => Ok(WireStart::Offset(n)),
        _ => Err(StartError::TooLarge),
    })
}

/// Normalises a start position; see the module docs for the rules.
///
/// ```
/// use kalam_consumer_core::{normalize_start, StartInput, WireStart};
/// assert_eq!(normalize_start(&StartInput::Text("Earliest")), Ok(WireStart::Earliest));
/// assert_eq!(normalize_start(&StartInput::Number(7.9)), Ok(WireStart::Offset(7)));
/// assert!(normalize_start(&StartInput::Text("soon")).is_err());
/// ```
pub fn normalize_start(input: &StartInput<'_>) -> Result<WireStart, StartError> {
    match input {
        StartInput::Absent => Ok(WireStart::Latest),
        StartInput::Number(n) => offset_from_number(*n),
        StartInput::Text(raw) => {
            let text = raw.trim();
            if text.is_empty() || text.eq_ignore_ascii_case("latest") {
                Ok(WireStart::Latest)
            } else if text.eq_ignore_ascii_case("earliest") {
                Ok(WireStart::Earliest)
            } else if let Some(result) = offset_from_digits(text) {
                result
            } else {
                Err(StartError::UnknownString((*raw).to_owned()))
            }
        }
        StartInput::Object { offset } => match offset.as_deref() {
            Some(StartInput::Number(n)) => offset_from_number(*n),
            Some(StartInput::Text(t)) => {
                offset_from_digits(t.trim()).unwrap_or(Err(StartError::BadObject))
            }
            _ => Err(StartError::BadObject),
        },
        StartInput::Other(type_name) => Err(StartError::WrongType(type_name)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn obj(inner: StartInput<'static>) -> StartInput<'static> {
        StartInput::Object {
            offset: Some(Box::new(inner)),
        }
    }

    #[test]
    fn named_positions() {
        for text in ["latest", "Latest", "LATEST", " latest ", "", "  "] {
            assert_eq!(
                normalize_start(&StartInput::Text(text)),
                Ok(WireStart::Latest),
                "{text:?}"
            );
        }
        for text in ["earliest", "Earliest", "EARLIEST"] {
            assert_eq!(
                normalize_start(&StartInput::Text(text)),
                Ok(WireStart::Earliest)
            );
        }
        assert_eq!(normalize_start(&StartInput::Absent), Ok(WireStart::Latest));
    }

    #[test]
    fn numbers() {
        assert_eq!(
            normalize_start(&StartInput::Number(0.0)),
            Ok(WireStart::Offset(0))
        );
        assert_eq!(
            normalize_start(&StartInput::Number(5.0)),
            Ok(WireStart::Offset(5))
        );
        assert_eq!(
            normalize_start(&StartInput::Number(5.99)),
            Ok(WireStart::Offset(5))
        );
        assert_eq!(
            normalize_start(&StartInput::Number(-3.0)),
            Ok(WireStart::Offset(0))
        );
        assert_eq!(
            normalize_start(&StartInput::Number(-0.5)),
            Ok(WireStart::Offset(0))
        );
        assert_eq!(
            normalize_start(&StartInput::Number(f64::NAN)),
            Err(StartError::NotFinite)
        );
        assert_eq!(
            normalize_start(&StartInput::Number(f64::INFINITY)),
            Err(StartError::NotFinite)
        );
        assert!(matches!(
            normalize_start(&StartInput::Number(1e300)),
            Err(StartError::TooLarge)
        ));
        assert_eq!(
            normalize_start(&StartInput::Number(MAX_SAFE_OFFSET as f64)),
            Ok(WireStart::Offset(MAX_SAFE_OFFSET))
        );
    }

    #[test]
    fn digit_strings() {
        assert_eq!(
            normalize_start(&StartInput::Text("42")),
            Ok(WireStart::Offset(42))
        );
        assert_eq!(
            normalize_start(&StartInput::Text(" 42 ")),
            Ok(WireStart::Offset(42))
        );
        assert_eq!(
            normalize_start(&StartInput::Text("007")),
            Ok(WireStart::Offset(7))
        );
        assert!(matches!(
            normalize_start(&StartInput::Text("-1")),
            Err(StartError::UnknownString(_))
        ));
        assert!(matches!(
            normalize_start(&StartInput::Text("1.5")),
            Err(StartError::UnknownString(_))
        ));
        assert!(matches!(
            normalize_start(&StartInput::Text("99999999999999999999999")),
            Err(StartError::TooLarge)
        ));
        assert!(matches!(
            normalize_start(&StartInput::Text("soon")),
            Err(StartError::UnknownString(_))
        ));
    }

    #[test]
    fn objects() {
        assert_eq!(
            normalize_start(&obj(StartInput::Number(9.0))),
            Ok(WireStart::Offset(9))
        );
        assert_eq!(
            normalize_start(&obj(StartInput::Text("9"))),
            Ok(WireStart::Offset(9))
        );
        assert_eq!(
            normalize_start(&obj(StartInput::Text("x"))),
            Err(StartError::BadObject)
        );
        assert_eq!(
            normalize_start(&obj(StartInput::Absent)),
            Err(StartError::BadObject)
        );
        assert_eq!(
            normalize_start(&StartInput::Object { offset: None }),
            Err(StartError::BadObject)
        );
        assert_eq!(
            normalize_start(&obj(StartInput::Number(f64::NAN))),
            Err(StartError::NotFinite)
        );
    }

    #[test]
    fn wrong_types() {
        assert_eq!(
            normalize_start(&StartInput::Other("boolean")),
            Err(StartError::WrongType("boolean"))
        );
        let message = StartError::WrongType("boolean").to_string();
        assert!(message.contains("boolean"));
    }

    #[test]
    fn wire_serialisation() {
        let json = |start: WireStart| {
            let mut out = String::new();
            start.write_json(&mut out);
            out
        };
        assert_eq!(json(WireStart::Latest), r#""Latest""#);
        assert_eq!(json(WireStart::Earliest), r#""Earliest""#);
        assert_eq!(json(WireStart::Offset(3)), r#"{"Offset":3}"#);
        assert_eq!(
            json(WireStart::Offset(MAX_SAFE_OFFSET)),
            r#"{"Offset":9007199254740991}"#
        );
    }

    proptest! {
        #[test]
        fn finite_numbers_floor_and_clamp(n in -1e15f64..1e15) {
            let expected = n.floor().max(0.0) as u64;
            prop_assert_eq!(normalize_start(&StartInput::Number(n)), Ok(WireStart::Offset(expected)));
            prop_assert_eq!(normalize_start(&obj(StartInput::Number(n))), Ok(WireStart::Offset(expected)));
        }

        #[test]
        fn digit_strings_parse(n in 0u64..=MAX_SAFE_OFFSET) {
            let text = n.to_string();
            prop_assert_eq!(normalize_start(&StartInput::Text(&text)), Ok(WireStart::Offset(n)));
        }

        #[test]
        fn arbitrary_strings_never_panic(text in ".{0,30}") {
            match normalize_start(&StartInput::Text(&text)) {
                Ok(WireStart::Latest) => {
                    let t = text.trim();
                    prop_assert!(t.is_empty() || t.eq_ignore_ascii_case("latest"));
                }
                Ok(WireStart::Earliest) => prop_assert!(text.trim().eq_ignore_ascii_case("earliest")),
                Ok(WireStart::Offset(n)) => prop_assert_eq!(text.trim().parse::<u64>().ok(), Some(n)),
                Err(_) => {}
            }
        }
    }
}
