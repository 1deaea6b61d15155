//! Hand-written `js_sys` glue (docs/STYLE.md §5, §10): the global `fetch`, the typed option
//! objects, and the reflection used on measured hot paths.

use js_sys::{Array, Function, JsString, Object, Promise, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

#[wasm_bindgen]
extern "C" {
    /// The global `fetch`, looked up on every call (never through `window()`), so a test can
    /// still replace `globalThis.fetch` after the module loaded.
    #[wasm_bindgen(catch, js_name = "fetch")]
    fn global_fetch(input: &str, init: &web_sys::RequestInit) -> Result<Promise, JsValue>;

    /// The global `TextEncoder` (Node >= 11, every browser).
    type TextEncoder;

    #[wasm_bindgen(constructor, js_class = "TextEncoder")]
    fn new() -> TextEncoder;

    #[wasm_bindgen(method, js_class = "TextEncoder")]
    fn encode(this: &TextEncoder, input: &JsString) -> Uint8Array;

    /// `encodeInto` writes straight into wasm memory (a `&mut [u8]` crosses as a view).
    #[wasm_bindgen(method, js_class = "TextEncoder", js_name = "encodeInto")]
    fn encode_into(this: &TextEncoder, input: &JsString, dest: &mut [u8]) -> EncodeIntoResult;

    /// `{ read, written }` of `encodeInto`.
    type EncodeIntoResult;

    #[wasm_bindgen(method, getter, structural)]
    fn read(this: &EncodeIntoResult) -> f64;

    #[wasm_bindgen(method, getter, structural)]
    fn written(this: &EncodeIntoResult) -> f64;

    /// `KalamConsumerClientOptions`.
    #[wasm_bindgen(typescript_type = "KalamConsumerClientOptions")]
    pub type JsClientOptions;

    /// `options.fetch`.
    #[wasm_bindgen(method, getter, structural, js_name = "fetch")]
    pub fn fetch(this: &JsClientOptions) -> JsValue;

    /// `RequestOptions`.
    #[wasm_bindgen(typescript_type = "RequestOptions")]
    pub type JsRequestOptions;

    /// `options.signal`.
    #[wasm_bindgen(method, getter, structural, js_name = "signal")]
    pub fn signal(this: &JsRequestOptions) -> JsValue;
}

/// Calls the injected `fetch` when there is one, the global one otherwise. A synchronous
/// throw becomes `Err`; a non-promise result is wrapped in a resolved promise.
pub fn call_fetch(
    fetch: Option<&Function>,
    url: &str,
    init: &web_sys::RequestInit,
) -> Result<Promise, JsValue> {
    match fetch {
        None => global_fetch(url, init),
        Some(f) => {
            let result = f.call2(&JsValue::UNDEFINED, &JsValue::from_str(url), init)?;
            Ok(match result.dyn_into::<Promise>() {
                Ok(p) => p,
                Err(other) => Promise::resolve(&other),
            })
        }
    }
}

/// A plain (non-array) object.
pub fn is_plain_object(value: &JsValue) -> bool {
    value.is_object() && !Array::is_array(value)
}

/// `value[key]`, `undefined` when reading throws.
pub fn get(value: &JsValue, key: &str) -> JsValue {
    Reflect::get(value, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

/// A string property of an object, if it is a string.
pub fn get_string(value: &JsValue, key: &str) -> Option<String> {
    if value.is_object() {
        get(value, key).as_string()
    } else {
        None
    }
}

/// The `typeof`-style name of a value that is not a string, number, object or nullish.
pub fn type_name(value: &JsValue) -> &'static str {
    if value.is_function() {
        "a function"
    } else if Array::is_array(value) {
        "an array"
    } else if value.as_bool().is_some() {
        "a boolean"
    } else if value.is_bigint() {
        "a bigint"
    } else if value.is_symbol() {
        "a symbol"
    } else {
        "an unsupported value"
    }
}

/// An empty object, for building `RequestInit` headers.
pub fn headers_object(pairs: &[(&str, &str)]) -> Object {
    let headers = Object::new();
    for (name, value) in pairs {
        let _ = Reflect::set(
            &headers,
            &JsValue::from_str(name),
            &JsValue::from_str(value),
        );
    }
    headers
}

thread_local! {
    static ENCODER: TextEncoder = TextEncoder::new();
}

/// A JS string as UTF-8, through the native `TextEncoder` and one copy into wasm memory.
///
/// Measured (bench/decode.mjs, 4.4 MB body): wasm-bindgen's own `&str` parameter conversion
/// walks the string char by char in JS first and took ~37% of `decodeConsumeResponse`.
/// Lone surrogates become U+FFFD, as in every UTF-8 encoding of a JS string.
///
/// Response bodies are ASCII but for the odd key or user name, so the first try is
/// `encodeInto` a buffer of the string's length, straight into wasm memory (no second copy);
/// only when that does not hold it all is the string encoded whole.
///
/// Bytes, not `String`: the consume decoder reads bytes and checks UTF-8 only in the strings it
/// reads (`kalam_consumer_core::scan`), and a `String::from_utf8` here was a second pass over
/// the whole body (TextEncoder output is UTF-8 anyway).
pub fn utf8_of(text: &JsString) -> Vec<u8> {
    let units = text.length() as usize;
    let mut bytes = vec![0u8; units];
    let result = ENCODER.with(|encoder| encoder.encode_into(text, &mut bytes));
    if result.read() as usize == units {
        bytes.truncate(result.written() as usize);
        bytes
    } else {
        ENCODER.with(|encoder| encoder.encode(text)).to_vec()
    }
}

// ---------------------------------------------------------------------------------------------
// Option readers and result writers.
//
// These replace serde-wasm-bindgen (docs/STYLE.md §5 allows hand-written js_sys for a measured
// need): the module has a 150 KB budget and serde-wasm-bindgen plus the serde visitor and
// error machinery it instantiates cost ~15 KB of the 204 KB module (twiggy / build.mjs size
// report). Our boundary objects are a handful of flat shapes, so a few readers do the job.

use kalam_consumer_core::{write_json_str, write_u64, PolicyInput, RetryDecision, WireStart};

use crate::error::{Code, ConsumerError};

/// Largest integer a JS number holds exactly (2^53 - 1).
const MAX_SAFE_INTEGER: f64 = 9_007_199_254_740_991.0;

/// An `INVALID_OPTION` error "invalid <what>: <field> <problem>", built without fmt.
fn invalid(what: &str, field: &str, problem: &str) -> ConsumerError {
    let mut message = String::with_capacity(what.len() + field.len() + problem.len() + 12);
    message.push_str("invalid ");
    message.push_str(what);
    message.push_str(": ");
    message.push_str(field);
    message.push(' ');
    message.push_str(problem);
    ConsumerError::local(Code::InvalidOption, message)
}

/// A typed view of a caller's option object; `what` names it in error messages.
pub struct Fields<'a> {
    object: &'a JsValue,
    what: &'static str,
}

impl<'a> Fields<'a> {
    /// `value` must be a plain object.
    pub fn of(value: &'a JsValue, what: &'static str) -> Result<Self, ConsumerError> {
        if !is_plain_object(value) {
            return Err(invalid(what, "the value", "must be an object"));
        }
        Ok(Fields {
            object: value,
            what,
        })
    }

    /// Rejects keys outside `allowed` (the request objects are sent verbatim, so a typo such
    /// as `offset` for `start` must not be dropped silently).
    pub fn only(&self, allowed: &[&str]) -> Result<(), ConsumerError> {
        for key in Object::keys(self.object.unchecked_ref::<Object>()).iter() {
            let key = key.as_string().unwrap_or_default();
            if !allowed.contains(&key.as_str()) {
                return Err(invalid(self.what, &key, "is not a known field"));
            }
        }
        Ok(())
    }

    /// The field, `None` when it is `undefined` or `null`.
    fn present(&self, key: &str) -> Option<JsValue> {
        let value = get(self.object, key);
        if value.is_undefined() || value.is_null() {
            None
        } else {
            Some(value)
        }
    }

    /// A required string field.
    pub fn string(&self, key: &str) -> Result<String, ConsumerError> {
        match self.present(key) {
            None => Err(invalid(self.what, key, "is missing")),
            Some(value) => value
                .as_string()
                .ok_or_else(|| invalid(self.what, key, "must be a string")),
        }
    }

    /// An optional integer field in `0..=max` (`max` at most 2^53 - 1).
    pub fn uint(&self, key: &str, max: f64) -> Result<Option<u64>, ConsumerError> {
        let Some(value) = self.present(key) else {
            return Ok(None);
        };
        match value.as_f64() {
            Some(n) if n >= 0.0 && n <= max && n.fract() == 0.0 => Ok(Some(n as u64)),
            Some(_) => Err(invalid(
                self.what,
                key,
                "must be a non-negative integer in range",
            )),
            None => Err(invalid(self.what, key, "must be a number")),
        }
    }

    /// A required integer field in `0..=max`.
    pub fn required_uint(&self, key: &str, max: f64) -> Result<u64, ConsumerError> {
        self.uint(key, max)?
            .ok_or_else(|| invalid(self.what, key, "is missing"))
    }

    /// An optional number (NaN and infinities pass through: the policy checks judge them).
    pub fn number(&self, key: &str) -> Result<Option<f64>, ConsumerError> {
        let Some(value) = self.present(key) else {
            return Ok(None);
        };
        value
            .as_f64()
            .map(Some)
            .ok_or_else(|| invalid(self.what, key, "must be a number"))
    }

    /// A wire start position: `'Latest'`, `'Earliest'` or `{ Offset: n }`, exactly.
    pub fn wire_start(&self, key: &str) -> Result<WireStart, ConsumerError> {
        let Some(value) = self.present(key) else {
            return Err(invalid(self.what, key, "is missing"));
        };
        match value.as_string().as_deref() {
            Some("Latest") => return Ok(WireStart::Latest),
            Some("Earliest") => return Ok(WireStart::Earliest),
            _ => {}
        }
        if is_plain_object(&value) {
            let inner = Fields {
                object: &value,
                what: self.what,
            };
            inner.only(&["Offset"])?;
            if let Some(offset) = inner.uint("Offset", MAX_SAFE_INTEGER)? {
                return Ok(WireStart::Offset(offset));
            }
        }
        Err(invalid(
            self.what,
            key,
            "must be 'Latest', 'Earliest' or { Offset: n }",
        ))
    }
}

/// A retry policy object (`RetryPolicy` / `ConnectionRetryPolicy`): every field an optional
/// number, extra keys (`shouldRetry`) ignored; `undefined`/`null` is the default policy.
/// The policy is then checked by the core's one set of rules (`PolicyInput::validate`), so
/// `retry` and `connectionRetry` are rejected for the same mistakes with the same words.
pub fn read_policy(
    value: &JsValue,
    what: &'static str,
    default_initial_ms: f64,
    jitter_allowed: bool,
) -> Result<PolicyInput, ConsumerError> {
    if value.is_undefined() || value.is_null() {
        return Ok(PolicyInput::default());
    }
    let fields = Fields::of(value, what)?;
    let input = PolicyInput {
        max_attempts: fields.number("maxAttempts")?,
        initial_backoff_ms: fields.number("initialBackoffMs")?,
        max_backoff_ms: fields.number("maxBackoffMs")?,
        multiplier: fields.number("multiplier")?,
        jitter_ratio: fields.number("jitterRatio")?,
    };
    input
        .validate(default_initial_ms, jitter_allowed)
        .map_err(|p| invalid(what, p.field, p.problem))?;
    Ok(input)
}

/// Appends `"key":"value"` (with a leading comma unless `first`).
pub fn write_str_field(out: &mut String, key: &str, value: &str, first: bool) {
    out.push_str(if first { "{\"" } else { ",\"" });
    out.push_str(key);
    out.push_str("\":");
    write_json_str(out, value);
}

/// Appends `,"key":n`.
pub fn write_u64_field(out: &mut String, key: &str, value: u64) {
    out.push_str(",\"");
    out.push_str(key);
    out.push_str("\":");
    write_u64(out, value);
}

/// A plain object built from `(key, value)` pairs in order (key order is what
/// `JSON.stringify` shows, so it is part of the contract's examples).
pub fn object_of(pairs: &[(&str, JsValue)]) -> JsValue {
    let object = Object::new();
    for (key, value) in pairs {
        let _ = Reflect::set(&object, &JsValue::from_str(key), value);
    }
    object.into()
}

/// `WireStart` as JS: `'Latest'`, `'Earliest'` or `{ Offset: n }`.
pub fn start_to_js(start: &WireStart) -> JsValue {
    match start {
        WireStart::Latest => JsValue::from_str("Latest"),
        WireStart::Earliest => JsValue::from_str("Earliest"),
        WireStart::Offset(n) => object_of(&[("Offset", JsValue::from_f64(*n as f64))]),
    }
}

/// `RetryDecision` as JS: `{ action: 'retry', delayMs, attempt }` or `{ action: 'give_up', attempt }`.
pub fn decision_to_js(decision: RetryDecision) -> JsValue {
    match decision {
        RetryDecision::Retry { delay_ms, attempt } => object_of(&[
            ("action", JsValue::from_str("retry")),
            ("delayMs", JsValue::from_f64(delay_ms)),
            ("attempt", JsValue::from_f64(f64::from(attempt))),
        ]),
        RetryDecision::GiveUp { attempt } => object_of(&[
            ("action", JsValue::from_str("give_up")),
            ("attempt", JsValue::from_f64(f64::from(attempt))),
        ]),
    }
}

/// The largest `u32`, as the bound of `Fields::uint` for partition ids.
pub const MAX_U32: f64 = u32::MAX as f64;
/// The bound of `Fields::uint` for offsets, limits and timeouts.
pub const MAX_SAFE: f64 = MAX_SAFE_INTEGER;
