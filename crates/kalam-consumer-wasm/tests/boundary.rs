//! Boundary mechanics only (docs/STYLE.md 17b): the shape of thrown errors and of the values that
//! cross into JS. Behaviour is tested in the core crate and in the package tests.
#![cfg(target_arch = "wasm32")]

use js_sys::{Array, Error, Object, Reflect, JSON};
use kalam_consumer_wasm::classify::classify_failure_js;
use kalam_consumer_wasm::client::KalamConsumerClient;
use kalam_consumer_wasm::connection_backoff::ConnectionBackoff;
use kalam_consumer_wasm::decode::{decode_consume_response_js, unwrap_legacy_row_js};
use kalam_consumer_wasm::message_retry::MessageRetry;
use kalam_consumer_wasm::start::normalize_start_js;
use kalam_consumer_wasm::wasm_release_info;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::wasm_bindgen_test;

fn get(value: &JsValue, key: &str) -> JsValue {
    Reflect::get(value, &JsValue::from_str(key)).unwrap()
}

fn json(text: &str) -> JsValue {
    JSON::parse(text).unwrap()
}

fn stringify(value: &JsValue) -> String {
    JSON::stringify(value).unwrap().as_string().unwrap()
}

fn assert_error(err: JsValue, code: &str, kind: &str) {
    assert!(err.is_instance_of::<Error>(), "thrown value is an Error");
    assert_eq!(
        get(&err, "name").as_string().as_deref(),
        Some("KalamConsumerError")
    );
    assert_eq!(get(&err, "code").as_string().as_deref(), Some(code));
    assert_eq!(get(&err, "status").as_f64(), Some(0.0));
    assert_eq!(get(&err, "kind").as_string().as_deref(), Some(kind));
    assert!(!get(&err, "message").as_string().unwrap().is_empty());
}

#[wasm_bindgen_test]
fn errors_are_error_objects_with_code_status_kind() {
    assert_error(
        normalize_start_js(JsValue::from_str("soon")).unwrap_err(),
        "INVALID_OPTION",
        "permanent",
    );
    assert_error(
        KalamConsumerClient::new("ftp://host", None).err().unwrap(),
        "INVALID_URL",
        "permanent",
    );
    assert_error(
        MessageRetry::new(json(r#"{"maxAttempts":"x"}"#))
            .err()
            .unwrap(),
        "INVALID_OPTION",
        "permanent",
    );
    let mut backoff = ConnectionBackoff::new(JsValue::UNDEFINED).unwrap();
    assert_error(
        backoff.on_failure("fatal", 0.5).unwrap_err(),
        "INVALID_OPTION",
        "permanent",
    );
    let request = json(r#"{"topic_id":"t","group_id":"g","partition_id":0}"#);
    assert_error(
        decode_consume_response_js(&"<html>".into(), request).unwrap_err(),
        "INVALID_RESPONSE",
        "transient",
    );
}

#[wasm_bindgen_test]
fn start_positions_round_trip() {
    assert_eq!(
        normalize_start_js(JsValue::UNDEFINED)
            .unwrap()
            .as_string()
            .as_deref(),
        Some("Latest")
    );
    assert_eq!(
        normalize_start_js("earliest".into())
            .unwrap()
            .as_string()
            .as_deref(),
        Some("Earliest")
    );
    assert_eq!(
        stringify(&normalize_start_js(json(r#"{"offset":5}"#)).unwrap()),
        r#"{"Offset":5}"#
    );
    assert_eq!(
        stringify(&normalize_start_js(JsValue::from_f64(7.9)).unwrap()),
        r#"{"Offset":7}"#
    );
}

#[wasm_bindgen_test]
fn retry_decisions_are_plain_objects() {
    let mut retry = MessageRetry::new(json(r#"{"maxAttempts":2,"shouldRetry":null}"#)).unwrap();
    assert_eq!(retry.attempt(), 1);
    assert_eq!(
        stringify(&retry.on_failure(true, 0.5).unwrap()),
        r#"{"action":"retry","delayMs":300,"attempt":2}"#
    );
    assert_eq!(
        stringify(&retry.on_failure(true, 0.5).unwrap()),
        r#"{"action":"give_up","attempt":2}"#
    );
    let mut backoff = ConnectionBackoff::new(json("{}")).unwrap();
    assert_eq!(
        stringify(&backoff.on_failure("transient", 0.5).unwrap()),
        r#"{"action":"retry","delayMs":125,"attempt":2}"#
    );
    assert_eq!(backoff.failures(), 1);
    backoff.on_success();
    assert_eq!(
        stringify(&backoff.on_failure("permanent", 0.5).unwrap()),
        r#"{"action":"give_up","attempt":1}"#
    );
}

#[wasm_bindgen_test]
fn decoded_batches_are_plain_objects() {
    let body = r#"{"messages":[
        {"topic_id":"t","partition_id":0,"offset":1,"payload":"eyJyb3ciOnsiYSI6MX19","key":null,"timestamp_ms":5,"user":"u","op":"insert"},
        {"topic_id":"t","partition_id":0,"offset":2,"payload":"e30","key":"k","timestamp_ms":6,"op":"Delete"},
        {"topic_id":"t","partition_id":0,"offset":3,"payload":"eyJh","key":"k","timestamp_ms":6,"op":"Update"}
    ],"next_offset":4,"has_more":true}"#;
    let request = json(r#"{"topic_id":"t","group_id":"g","partition_id":0}"#);
    let batch = decode_consume_response_js(&body.into(), request).unwrap();
    let messages: Array = get(&batch, "messages").unchecked_into();
    assert_eq!(messages.length(), 3);
    let first = messages.get(0);
    assert_eq!(
        stringify(&first),
        r#"{"topic":"t","group_id":"g","partition_id":0,"offset":1,"key":null,"timestamp_ms":5,"user":"u","op":"Insert","payload":{"row":{"a":1}}}"#
    );
    assert_eq!(
        stringify(&unwrap_legacy_row_js(get(&first, "payload"))),
        r#"{"a":1}"#
    );
    let bad_base64 = messages.get(1);
    assert!(get(&bad_base64, "payload").is_undefined());
    assert!(get(&bad_base64, "decode_error")
        .as_string()
        .unwrap()
        .contains("base64"));
    assert_eq!(
        get(&bad_base64, "raw_payload").as_string().as_deref(),
        Some("e30")
    );
    let bad_json = messages.get(2);
    assert!(!Object::has_own(
        bad_json.unchecked_ref::<Object>(),
        &"payload".into()
    ));
    assert!(get(&bad_json, "decode_error")
        .as_string()
        .unwrap()
        .contains("JSON"));
    assert_eq!(
        get(&bad_json, "raw_payload").as_string().as_deref(),
        Some("eyJh")
    );
    assert_eq!(get(&batch, "has_more").as_bool(), Some(true));
}

/// The columns path checks UTF-8 and JSON in JS (`js/assemble.js`): each failure is a
/// per-message decode_error with the payload as received, never a replaced character or `{}`.
#[wasm_bindgen_test]
fn payload_checks_in_js_keep_every_message() {
    let b64 = |bytes: &[u8]| {
        // Tiny standard base64 encoder, so the test states its payload bytes plainly.
        const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut out = String::new();
        for chunk in bytes.chunks(3) {
            let n = chunk
                .iter()
                .enumerate()
                .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
            for i in 0..4 {
                out.push(if i <= chunk.len() {
                    ABC[(n >> (18 - 6 * i) & 63) as usize] as char
                } else {
                    '='
                });
            }
        }
        out
    };
    let payloads = [
        b64(b"\xc3("),
        b64(b"\xef\xbb\xbf{}"),
        b64("{\"n\":\"caf\u{e9} \u{1F600}\"}".as_bytes()),
    ];
    let body = format!(
        r#"{{"messages":[
        {{"offset":1,"payload":"{}","key":"\u00e9t\u00e9","user":"z\u00f6e","op":"Insert"}},
        {{"offset":2,"payload":"{}","op":"Insert"}},
        {{"offset":3,"payload":"{}","key":"\ud83d\ude00","op":"Update"}},
        {{"offset":4,"op":"Delete"}}
    ]}}"#,
        payloads[0], payloads[1], payloads[2]
    );
    let request = json(r#"{"topic_id":"t","group_id":"g","partition_id":2}"#);
    let batch = decode_consume_response_js(&body.as_str().into(), request).unwrap();
    let messages: Array = get(&batch, "messages").unchecked_into();
    assert_eq!(messages.length(), 4);
    let not_utf8 = messages.get(0);
    assert!(get(&not_utf8, "decode_error")
        .as_string()
        .unwrap()
        .starts_with("payload is not valid UTF-8: "));
    assert_eq!(
        get(&not_utf8, "raw_payload").as_string(),
        Some(payloads[0].clone())
    );
    assert_eq!(
        get(&not_utf8, "key").as_string().as_deref(),
        Some("\u{e9}t\u{e9}")
    );
    assert_eq!(
        get(&not_utf8, "user").as_string().as_deref(),
        Some("z\u{f6}e")
    );
    // A BOM is kept, so JSON.parse refuses it (as the batch-text decoder does).
    let bom = messages.get(1);
    assert!(get(&bom, "decode_error")
        .as_string()
        .unwrap()
        .starts_with("payload is not valid JSON: "));
    assert_eq!(
        stringify(&messages.get(2)),
        "{\"topic\":\"t\",\"group_id\":\"g\",\"partition_id\":2,\"offset\":3,\"key\":\"\u{1F600}\",\"timestamp_ms\":0,\"op\":\"Update\",\"payload\":{\"n\":\"caf\u{e9} \u{1F600}\"}}"
    );
    let missing = messages.get(3);
    assert_eq!(
        get(&missing, "decode_error").as_string().as_deref(),
        Some("payload is missing")
    );
    assert!(!Object::has_own(
        missing.unchecked_ref::<Object>(),
        &"raw_payload".into()
    ));
}

#[wasm_bindgen_test]
fn small_exports() {
    assert_eq!(classify_failure_js(401.0, None), "auth");
    assert_eq!(
        classify_failure_js(404.0, Some("NOT_FOUND".into())),
        "permanent"
    );
    assert_eq!(classify_failure_js(f64::NAN, None), "transient");
    assert_eq!(
        get(&wasm_release_info().unwrap(), "version")
            .as_string()
            .as_deref(),
        Some(env!("CARGO_PKG_VERSION"))
    );
    let same = json("[1]");
    assert!(JsValue::eq(&unwrap_legacy_row_js(same.clone()), &same));
}

/// The legacy `{ row: {...} }` rule (docs/PROTOCOL.md §7.3), on the one implementation the
/// package ships: an object whose `row` is an object (not an array, not null) becomes that
/// inner object, the same object, not a copy; anything else comes back as it is.
#[wasm_bindgen_test]
fn legacy_rows_unwrap_object_rows_only() {
    for (payload, row) in [
        (r#"{"row":{"a":1}}"#, r#"{"a":1}"#),
        (r#"{"row":{"a":1},"extra":2}"#, r#"{"a":1}"#),
        (r#"{"row":{}}"#, "{}"),
        (
            r#"{"row":{"id":1,"n":{"row":{}}}}"#,
            r#"{"id":1,"n":{"row":{}}}"#,
        ),
    ] {
        let payload = json(payload);
        let unwrapped = unwrap_legacy_row_js(payload.clone());
        assert_eq!(stringify(&unwrapped), row);
        assert!(JsValue::eq(&unwrapped, &get(&payload, "row")), "no copy");
    }
    for same in [
        r#"{"row":[1,2]}"#,
        r#"{"row":null}"#,
        r#"{"row":"text"}"#,
        r#"{"row":3}"#,
        r#"{"id":1}"#,
        r#"[{"row":{}}]"#,
        r#""row""#,
        "null",
        "7",
    ] {
        let value = json(same);
        assert!(
            JsValue::eq(&unwrap_legacy_row_js(value.clone()), &value),
            "{same}"
        );
    }
    assert!(unwrap_legacy_row_js(JsValue::UNDEFINED).is_undefined());
}
