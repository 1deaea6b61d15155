//! `normalizeStart`.

use kalam_consumer_core::{normalize_start, StartInput};
use wasm_bindgen::prelude::*;

use crate::error::{Code, ConsumerError};
use crate::interop::start_to_js;
use crate::interop::{get, is_plain_object, type_name};

fn scalar_input(value: &JsValue, text: &mut Option<String>) -> StartInput<'static> {
    if value.is_undefined() || value.is_null() {
        StartInput::Absent
    } else if let Some(n) = value.as_f64() {
        StartInput::Number(n)
    } else if value.is_string() {
        *text = value.as_string();
        StartInput::Absent // replaced by the caller with the borrowed text
    } else if is_plain_object(value) {
        StartInput::Object { offset: None }
    } else {
        StartInput::Other(type_name(value))
    }
}

/// Normalises a user-facing start position into the wire form (§7.2): `undefined`, `''` or
/// `'latest'` → `'Latest'`; `'earliest'` → `'Earliest'` (case-insensitive); a finite number
/// `n` → `{ Offset: max(0, floor(n)) }`; a digit string → `{ Offset: n }`; `{ offset: n }` or
/// `{ Offset: n }` likewise. Throws `INVALID_OPTION` for anything else.
///
/// @example
/// ```ts
/// normalizeStart('earliest'); // 'Earliest'
/// normalizeStart({ offset: 5 }); // { Offset: 5 }
/// ```
#[wasm_bindgen(js_name = "normalizeStart", unchecked_return_type = "WireStart")]
pub fn normalize_start_js(
    #[wasm_bindgen(unchecked_param_type = "unknown")] start: JsValue,
) -> Result<JsValue, JsValue> {
    let mut text = None;
    let outer = scalar_input(&start, &mut text);
    let mut inner_text = None;
    let result = match (&outer, &text) {
        (_, Some(t)) => normalize_start(&StartInput::Text(t)),
        (StartInput::Object { .. }, None) => {
            let mut value = get(&start, "Offset");
            if value.is_undefined() {
                value = get(&start, "offset");
            }
            let inner = scalar_input(&value, &mut inner_text);
            let inner = match (&inner, &inner_text) {
                (_, Some(t)) => StartInput::Text(t),
                (StartInput::Absent, None) if value.is_undefined() => {
                    return Err(ConsumerError::local(
                        Code::InvalidOption,
                        "start object must be { offset: n } with a non-negative integer n",
                    )
                    .into())
                }
                _ => inner,
            };
            normalize_start(&StartInput::Object {
                offset: Some(Box::new(inner)),
            })
        }
        _ => normalize_start(&outer),
    };
    let wire = result.map_err(|e| ConsumerError::local(Code::InvalidOption, e.to_string()))?;
    Ok(start_to_js(&wire))
}
