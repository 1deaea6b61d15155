//! Error bodies: the three JSON envelopes the server uses, and plain text.
//!
//! | shape | where | code | message |
//! |---|---|---|---|
//! | `{"status":"error","error":{"code","message"},...}` | SQL, auth failures on any protected endpoint (§1.7, §2.5) | `error.code` | `error.message` |
//! | `{"error":"<code>","message":"..."}` | `/v1/api/auth/*`, connection guard (§1.1, §1.7) | `error` | `message` |
//! | `{"error":"<text>","code":"<CODE>"}` | topic endpoints (§3.8) | `code` | `error` |
//! | anything else (400 text, HTML from a proxy) | | none | the trimmed text |

use crate::scan::{self, ScanError, Scanner};

/// The machine code and human message found in an error body.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ErrorEnvelope {
    /// The server's machine code, when the body carried one.
    pub code: Option<String>,
    /// The human message: the envelope's message, or the trimmed body text; `None` for an
    /// empty body.
    pub message: Option<String>,
}

/// `code` and `message` of an object whose `{` is next: string or null each; another type, or
/// a body that is not JSON, makes the caller treat the whole body as plain text. `error` (raw)
/// is collected when `error` is given. Scanned without serde_json (see [`crate::scan`]); the
/// body is `&str` (error bodies are small and converted whole), so `text_value` never finds
/// invalid UTF-8 here.
type Fields<'a> = (Option<&'a str>, Option<String>, Option<String>);

fn scan_envelope<'a>(scanner: &mut Scanner<'a>) -> Result<Fields<'a>, ScanError> {
    let (mut error, mut code, mut message, mut seen) = (None, None, None, 0u32);
    scanner.object_once(&mut |key, scanner| {
        let key = scanner.key_text(key)?;
        let raw = scanner.text_value()?;
        match key {
            "error" => {
                scan::mark(&mut seen, 0, key)?;
                error = scan::non_null(raw);
            }
            "code" => {
                scan::mark(&mut seen, 1, key)?;
                code = scan::read_string(raw, key)?;
            }
            "message" => {
                scan::mark(&mut seen, 2, key)?;
                message = scan::read_string(raw, key)?;
            }
            _ => {}
        }
        Ok(())
    })?;
    Ok((error, code, message))
}

fn scan_whole(text: &str) -> Option<Fields<'_>> {
    let mut scanner = Scanner::new(text.as_bytes());
    let fields = scan_envelope(&mut scanner).ok()?;
    scanner.finish().ok()?;
    Some(fields)
}

fn non_blank(value: Option<String>) -> Option<String> {
    value.filter(|s| !s.trim().is_empty())
}

/// Parses an error response body into its code and message (see the module table).
///
/// ```
/// use kalam_consumer_core::parse_error_body;
/// let e = parse_error_body(r#"{"error":"Topic 'x' does not exist","code":"NOT_FOUND"}"#);
/// assert_eq!(e.code.as_deref(), Some("NOT_FOUND"));
/// assert_eq!(e.message.as_deref(), Some("Topic 'x' does not exist"));
/// ```
pub fn parse_error_body(body: &str) -> ErrorEnvelope {
    let text = body.trim();
    let plain = || (!text.is_empty()).then(|| text.to_owned());
    let parsed = if text.starts_with('{') {
        scan_whole(text)
    } else {
        None
    };
    let Some((error, env_code, env_message)) = parsed else {
        return ErrorEnvelope {
            code: None,
            message: plain(),
        };
    };
    let error = error.unwrap_or("null");
    if error.starts_with('{') {
        // SQL-style / extractor envelope (§1.7, §2.5); its own `error` key is ignored.
        let (_, code, message) = scan_whole(error).unwrap_or((None, None, None));
        return ErrorEnvelope {
            code: non_blank(code),
            message: non_blank(message).or_else(plain),
        };
    }
    if error.starts_with('"') {
        let error = scan::unescape(error).map(std::borrow::Cow::into_owned);
        if let Some(code) = non_blank(env_code) {
            // Topic envelope (§3.8): `error` is the text, `code` the code.
            return ErrorEnvelope {
                code: Some(code),
                message: non_blank(error).or_else(plain),
            };
        }
        // Auth-endpoint / middleware envelope (§1.1): `error` is the code.
        return ErrorEnvelope {
            code: non_blank(error),
            message: non_blank(env_message).or_else(plain),
        };
    }
    ErrorEnvelope {
        code: non_blank(env_code),
        message: non_blank(env_message).or_else(plain),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn extractor_envelope() {
        let e = parse_error_body(
            r#"{"status":"error","error":{"code":"TOKEN_EXPIRED","message":"Invalid credentials"},"results":[],"took":0.42}"#,
        );
        assert_eq!(e.code.as_deref(), Some("TOKEN_EXPIRED"));
        assert_eq!(e.message.as_deref(), Some("Invalid credentials"));
    }

    #[test]
    fn auth_endpoint_envelope() {
        let e = parse_error_body(r#"{"error":"unauthorized","message":"invalid credentials"}"#);
        assert_eq!(e.code.as_deref(), Some("unauthorized"));
        assert_eq!(e.message.as_deref(), Some("invalid credentials"));
        let e = parse_error_body(
            r#"{"error":"RATE_LIMIT_EXCEEDED","message":"slow down","retry_after_seconds":1}"#,
        );
        assert_eq!(e.code.as_deref(), Some("RATE_LIMIT_EXCEEDED"));
    }

    #[test]
    fn topic_envelope() {
        let e =
            parse_error_body(r#"{"error":"Topic 'app.events' does not exist","code":"NOT_FOUND"}"#);
        assert_eq!(e.code.as_deref(), Some("NOT_FOUND"));
        assert_eq!(
            e.message.as_deref(),
            Some("Topic 'app.events' does not exist")
        );
    }

    #[test]
    fn plain_text_and_garbage() {
        let e = parse_error_body("Json deserialize error: missing field `topic_id`\n");
        assert_eq!(e.code, None);
        assert_eq!(
            e.message.as_deref(),
            Some("Json deserialize error: missing field `topic_id`")
        );
        let e = parse_error_body("<html><body>502 Bad Gateway</body></html>");
        assert_eq!(e.code, None);
        assert!(e.message.unwrap().contains("502"));
        assert_eq!(parse_error_body("   "), ErrorEnvelope::default());
        let e = parse_error_body("{not json");
        assert_eq!(e.code, None);
        assert_eq!(e.message.as_deref(), Some("{not json"));
    }

    #[test]
    fn odd_json_shapes() {
        // Object without a message: the whole text is the message.
        let e = parse_error_body(r#"{"error":{"code":"X"}}"#);
        assert_eq!(e.code.as_deref(), Some("X"));
        assert_eq!(e.message.as_deref(), Some(r#"{"error":{"code":"X"}}"#));
        // No error key at all.
        let e = parse_error_body(r#"{"code":"BODY_TOO_LARGE"}"#);
        assert_eq!(e.code.as_deref(), Some("BODY_TOO_LARGE"));
        // Empty code strings are no code.
        let e = parse_error_body(r#"{"error":"text","code":""}"#);
        assert_eq!(e.code.as_deref(), Some("text"));
    }

    proptest! {
        #[test]
        fn never_panics(body in ".{0,200}") {
            let _ = parse_error_body(&body);
        }

        #[test]
        fn topic_shape_round_trips(msg in "[a-zA-Z'][a-zA-Z ']{0,39}", code in "[A-Z_]{1,20}") {
            let body = serde_json::json!({ "error": msg, "code": code }).to_string();
            let e = parse_error_body(&body);
            prop_assert_eq!(e.code, Some(code));
            prop_assert_eq!(e.message, Some(msg));
        }

        #[test]
        fn extractor_shape_round_trips(msg in "[a-zA-Z][a-zA-Z ]{0,39}", code in "[A-Z_]{1,20}") {
            let body = serde_json::json!({ "status": "error", "error": { "code": code, "message": msg }, "results": [], "took": 1.0 }).to_string();
            let e = parse_error_body(&body);
            prop_assert_eq!(e.code, Some(code));
            prop_assert_eq!(e.message, Some(msg));
        }

        #[test]
        fn plain_text_is_its_own_message(text in "[a-zA-Z0-9 :`]{1,80}") {
            let e = parse_error_body(&text);
            prop_assert_eq!(e.code, None);
            let trimmed = text.trim();
            prop_assert_eq!(e.message.as_deref(), (!trimmed.is_empty()).then_some(trimmed));
        }
    }
}
