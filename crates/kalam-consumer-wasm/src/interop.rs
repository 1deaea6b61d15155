//! Hand-written `js_sys` glue (STYLE.md §5, §10): the global `fetch`, the typed option
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
pub fn call_fetch(fetch: Option<&Function>, url: &str, init: &web_sys::RequestInit) -> Result<Promise, JsValue> {
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
        let _ = Reflect::set(&headers, &JsValue::from_str(name), &JsValue::from_str(value));
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
pub fn utf8_of(text: &JsString) -> String {
    let bytes = ENCODER.with(|encoder| encoder.encode(text)).to_vec();
    // TextEncoder always produces UTF-8; the check is cheap and keeps this crate free of unsafe.
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}
