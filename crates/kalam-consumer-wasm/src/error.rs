//! `KalamConsumerError`: the one error shape every export throws.
//!
//! A real `Error` with `name = "KalamConsumerError"`, a stable `code`, `status` (HTTP status,
//! 0 when there was no response), `kind` (`'auth' | 'transient' | 'permanent'`), and for HTTP
//! errors `body` (the raw text, cut to 2 KiB). `code` is the server's own code when an error
//! envelope carried one, otherwise one of [`Code`] (the list lives in the core crate's
//! `codes.rs`). A network error keeps the original rejection as `cause`.

use js_sys::{Error, Reflect};
pub use kalam_consumer_core::Code;
use kalam_consumer_core::{classify_failure, FailureKind};
use wasm_bindgen::JsValue;

/// The `name` of every error thrown by this module.
pub const ERROR_NAME: &str = "KalamConsumerError";

/// Bodies attached to errors are cut to this many bytes (at a character boundary).
pub const MAX_BODY_BYTES: usize = 2048;

/// An error on its way to JavaScript.
#[derive(Debug, Clone)]
pub struct ConsumerError {
    code: String,
    message: String,
    status: u16,
    kind: FailureKind,
    body: Option<String>,
    cause: Option<JsValue>,
}

fn cut(body: &str) -> String {
    if body.len() <= MAX_BODY_BYTES {
        return body.to_owned();
    }
    let mut end = MAX_BODY_BYTES;
    while !body.is_char_boundary(end) {
        end -= 1;
    }
    body[..end].to_owned()
}

impl ConsumerError {
    /// An error raised before or without any response (bad option, bad input, no answer);
    /// its kind is [`Code::local_kind`].
    pub fn local(code: Code, message: impl Into<String>) -> Self {
        ConsumerError {
            code: code.as_str().into(),
            message: message.into(),
            status: 0,
            kind: code.local_kind(),
            body: None,
            cause: None,
        }
    }

    /// An HTTP response error: `code` from the envelope (else `HTTP_ERROR`), kind classified
    /// from status and code.
    pub fn http(status: u16, code: Option<String>, message: String, body: &str) -> Self {
        let kind = classify_failure(status, code.as_deref());
        ConsumerError {
            code: code.unwrap_or_else(|| Code::HttpError.as_str().into()),
            message,
            status,
            kind,
            body: Some(cut(body)),
            cause: None,
        }
    }

    /// A 2xx response whose body could not be decoded (transient).
    pub fn invalid_response(status: u16, message: String, body: &str) -> Self {
        ConsumerError {
            code: Code::InvalidResponse.as_str().into(),
            message,
            status,
            kind: classify_failure(status, None),
            body: Some(cut(body)),
            cause: None,
        }
    }

    /// Keeps the original JS error as `cause`.
    pub fn with_cause(mut self, cause: JsValue) -> Self {
        self.cause = Some(cause);
        self
    }

    /// The code.
    pub fn code(&self) -> &str {
        &self.code
    }

    /// The kind.
    pub fn kind(&self) -> FailureKind {
        self.kind
    }
}

impl From<ConsumerError> for JsValue {
    fn from(e: ConsumerError) -> JsValue {
        let error = Error::new(&e.message);
        error.set_name(ERROR_NAME);
        let set = |key: &str, value: &JsValue| {
            let _ = Reflect::set(&error, &JsValue::from_str(key), value);
        };
        set("code", &JsValue::from_str(&e.code));
        set("status", &JsValue::from_f64(f64::from(e.status)));
        set("kind", &JsValue::from_str(e.kind.as_str()));
        if let Some(body) = &e.body {
            set("body", &JsValue::from_str(body));
        }
        if let Some(cause) = &e.cause {
            set("cause", cause);
        }
        error.into()
    }
}
