//! Decoding rules of consume and ack responses (unit + property tests), checked on the path
//! the package ships: `decode_consume_columns` and the JS assembly (`support::assemble`).

mod support;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use kalam_consumer_core::payload::decode_raw_base64_at;
use kalam_consumer_core::{
    decode_ack_response, AckResponse, DecodeError, PayloadError, RequestContext,
};
use proptest::prelude::*;
use serde_json::{json, Value};
use support::assemble::decode as decode_consume_response;
use support::batch::ConsumeBatch;

const CTX: RequestContext<'static> = RequestContext {
    topic_id: "app.events",
    group_id: "billing",
    partition_id: 3,
};

fn b64(text: &str) -> String {
    STANDARD.encode(text.as_bytes())
}

fn decode_value(body: &Value) -> Value {
    decode_consume_response(&body.to_string(), &CTX).expect("decodes")
}

fn one(message: Value) -> Value {
    let out = decode_value(&json!({ "messages": [message], "next_offset": 1, "has_more": false }));
    out["messages"][0].clone()
}

#[test]
fn protocol_example_decodes() {
    // §3.2 example, verbatim.
    let body = r#"{"messages":[{"topic_id":"app.events","partition_id":0,"offset":17,"payload":"eyJpZCI6IjQyIiwic3RhdHVzIjoibmV3IiwiX3NlcSI6IjcyOTIwMDAwMDAwMDAwMTIzNDUiLCJfY29tbWl0X3NlcSI6IjExNyIsIl9kZWxldGVkIjpmYWxzZSwiX3RhYmxlIjoiYXBwOm9yZGVycyJ9","key":"42","timestamp_ms":1730000000123,"user":"alice","op":"Insert"}],"next_offset":18,"has_more":false}"#;
    let batch = ConsumeBatch::decode(body, &CTX).unwrap();
    assert_eq!(batch.next_offset, 18);
    assert!(!batch.has_more);
    let m = &batch.messages[0];
    assert_eq!(m.topic, "app.events");
    assert_eq!(m.group_id, "billing");
    assert_eq!(m.partition_id, 0);
    assert_eq!(m.offset, 17);
    assert_eq!(m.key.as_deref(), Some("42"));
    assert_eq!(m.timestamp_ms, 1730000000123);
    assert_eq!(m.user.as_deref(), Some("alice"));
    assert_eq!(m.op, "Insert");
    assert_eq!(
        m.payload,
        Some(
            json!({"id":"42","status":"new","_seq":"7292000000000012345","_commit_seq":"117","_deleted":false,"_table":"app:orders"})
        )
    );
    assert_eq!(m.decode_error, None);
    assert_eq!(m.raw_payload, None);
}

#[test]
fn group_id_always_comes_from_the_request() {
    let m = one(
        json!({ "topic_id": "t", "group_id": "other", "offset": 1, "payload": b64("{}"), "op": "Insert" }),
    );
    assert_eq!(m["group_id"], "billing");
}

#[test]
fn fallbacks_and_aliases() {
    let m = one(
        json!({ "op": "Update", "value": b64("{\"a\":1}"), "message_id": "k", "ts": 99, "username": "bob" }),
    );
    assert_eq!(m["topic"], "app.events");
    assert_eq!(m["partition_id"], 3);
    assert_eq!(m["offset"], 0);
    assert_eq!(m["key"], "k");
    assert_eq!(m["timestamp_ms"], 99);
    assert_eq!(m["user"], "bob");
    assert_eq!(m["payload"], json!({"a": 1}));
    let m = one(json!({ "topic": "alias.topic", "op": "Insert", "payload": b64("1") }));
    assert_eq!(m["topic"], "alias.topic");
}

#[test]
fn key_and_user_shapes() {
    let m = one(json!({ "op": "Insert", "payload": b64("{}"), "key": null }));
    assert_eq!(m["key"], Value::Null);
    assert!(m.get("user").is_none(), "missing user is omitted, not null");
    let m = one(json!({ "op": "Insert", "payload": b64("{}"), "user": null }));
    assert!(m.get("user").is_none());
    let m = one(json!({ "op": "Insert", "payload": b64("{}") }));
    assert_eq!(m["key"], Value::Null);
    let m = one(json!({ "op": "Insert", "payload": b64("{}"), "key": 42, "user": 7 }));
    assert_eq!(m["key"], "42");
    assert_eq!(m["user"], "7");
    let m = one(json!({ "op": "Insert", "payload": b64("{}"), "key": "quote\"and\\slash\u{1}" }));
    assert_eq!(m["key"], "quote\"and\\slash\u{1}");
}

#[test]
fn op_is_canonicalised_case_insensitively() {
    for (raw, want) in [
        ("insert", "Insert"),
        ("UPDATE", "Update"),
        ("Delete", "Delete"),
        ("upsert", "upsert"),
    ] {
        assert_eq!(one(json!({ "op": raw, "payload": b64("{}") }))["op"], want);
    }
    let err = decode_consume_response(r#"{"messages":[{"payload":"e30="}]}"#, &CTX).unwrap_err();
    assert!(matches!(err, DecodeError::Shape(_)), "{err:?}");
}

#[test]
fn payload_not_base64_is_a_decode_error() {
    for bad in ["not base64!", "e30", "e3=0", " e30=", "e30=\n"] {
        let m = one(json!({ "op": "Insert", "payload": bad }));
        assert!(m.get("payload").is_none(), "{bad:?}");
        assert!(
            m["decode_error"].as_str().unwrap().contains("base64"),
            "{bad:?}: {m}"
        );
        assert_eq!(m["raw_payload"], bad);
    }
}

#[test]
fn payload_not_utf8_is_a_decode_error() {
    let raw = STANDARD.encode([0x7b, 0xff, 0x7d]);
    let m = one(json!({ "op": "Insert", "payload": raw }));
    assert!(m.get("payload").is_none());
    assert!(m["decode_error"].as_str().unwrap().contains("UTF-8"), "{m}");
    assert_eq!(m["raw_payload"], raw);
}

#[test]
fn payload_not_json_is_a_decode_error_never_empty_object() {
    for text in ["", "{", "{\"a\":}", "hello", "{} {}", "[1,]"] {
        let m = one(json!({ "op": "Insert", "payload": b64(text) }));
        assert!(m.get("payload").is_none(), "{text:?}");
        assert!(
            m["decode_error"].as_str().unwrap().contains("JSON"),
            "{text:?}: {m}"
        );
        assert_eq!(m["raw_payload"], b64(text));
    }
}

#[test]
fn payload_missing_or_null_is_a_decode_error() {
    let m = one(json!({ "op": "Insert" }));
    assert_eq!(m["decode_error"], "payload is missing");
    assert!(m.get("raw_payload").is_none());
    let m = one(json!({ "op": "Insert", "payload": null }));
    assert_eq!(m["decode_error"], "payload is missing");
}

#[test]
fn non_object_json_payloads_are_kept_as_they_are() {
    for text in ["[1,2]", "\"s\"", "12.5", "null", "true", " {\"a\" : 1} "] {
        let m = one(json!({ "op": "Insert", "payload": b64(text) }));
        assert_eq!(
            m["payload"],
            serde_json::from_str::<Value>(text).unwrap(),
            "{text:?}"
        );
    }
}

#[test]
fn payload_already_json_is_used() {
    let m = one(json!({ "op": "Insert", "payload": { "x": [1, {"y": null}] } }));
    assert_eq!(m["payload"], json!({ "x": [1, {"y": null}] }));
}

#[test]
fn escaped_base64_string_is_decoded() {
    // JSON may escape '/' as '\/'; the payload is the unescaped string.
    let encoded = b64("{\"k\":\"???\"}");
    assert!(
        encoded.contains('/'),
        "test needs a '/' in the base64: {encoded}"
    );
    let body = format!(
        r#"{{"messages":[{{"op":"Insert","payload":"{}"}}]}}"#,
        encoded.replace('/', "\\/")
    );
    let out = decode_consume_response(&body, &CTX).unwrap();
    assert_eq!(out["messages"][0]["payload"], json!({"k": "???"}));
}

#[test]
fn unicode_payloads_survive() {
    let m = one(json!({ "op": "Insert", "payload": b64(r#"{"s":"é✓𝄞\u0000\n"}"#) }));
    assert_eq!(m["payload"]["s"], "é✓𝄞\u{0}\n");
}

#[test]
fn response_level_defaults() {
    let out = decode_value(&json!({}));
    assert_eq!(
        out,
        json!({ "messages": [], "next_offset": 0, "has_more": false })
    );
    let out =
        decode_value(&json!({ "messages": null, "next_offset": 5, "has_more": true, "extra": 1 }));
    assert_eq!(
        out,
        json!({ "messages": [], "next_offset": 5, "has_more": true })
    );
}

#[test]
fn response_level_errors() {
    for body in [
        "",
        "<html>502</html>",
        "{\"messages\":[",
        "{\"messages\":[{\"op\":\"Insert\",\"payload\":\"e30=\"}]",
    ] {
        let err = decode_consume_response(body, &CTX).unwrap_err();
        assert!(
            matches!(err, DecodeError::Malformed(_)),
            "{body:?}: {err:?}"
        );
    }
    for body in [
        "[]",
        "null",
        "5",
        "{\"messages\":{}}",
        "{\"next_offset\":\"x\"}",
        "{\"messages\":[{\"offset\":-1,\"op\":\"Insert\"}]}",
    ] {
        let err = decode_consume_response(body, &CTX).unwrap_err();
        assert!(matches!(err, DecodeError::Shape(_)), "{body:?}: {err:?}");
    }
}

#[test]
fn one_bad_payload_does_not_spoil_the_batch() {
    let body = json!({ "messages": [
        { "offset": 1, "op": "Insert", "payload": b64("{\"ok\":1}") },
        { "offset": 2, "op": "Insert", "payload": "###" },
        { "offset": 3, "op": "Insert", "payload": b64("{\"ok\":3}") },
    ], "next_offset": 4, "has_more": true });
    let batch = ConsumeBatch::decode(&body.to_string(), &CTX).unwrap();
    assert_eq!(batch.messages.len(), 3);
    assert_eq!(batch.messages[0].payload, Some(json!({"ok": 1})));
    assert!(batch.messages[1].decode_error.is_some());
    assert_eq!(batch.messages[2].payload, Some(json!({"ok": 3})));
}

#[test]
fn base64_errors_are_typed() {
    // Rust checks base64 only; UTF-8 and JSON are checked where the bytes are parsed (in the
    // package: assemble.js, see `payload_not_utf8_is_a_decode_error` above and the wasm
    // boundary test `payload_checks_in_js_keep_every_message`).
    let mut scratch = Vec::new();
    assert!(matches!(
        decode_raw_base64_at(br#""!!""#, &mut scratch, 0),
        Err(PayloadError::NotBase64(_))
    ));
    let not_utf8 = format!("\"{}\"", STANDARD.encode([0xc3]));
    assert_eq!(
        decode_raw_base64_at(not_utf8.as_bytes(), &mut scratch, 0),
        Ok(1)
    );
    assert_eq!(scratch[0], 0xc3);
    let list = format!("\"{}\"", b64("[1]"));
    assert_eq!(
        decode_raw_base64_at(list.as_bytes(), &mut scratch, 0),
        Ok(3)
    );
    assert_eq!(&scratch[..3], b"[1]");
    // Decoding at an offset leaves what is before it alone.
    assert_eq!(
        decode_raw_base64_at(list.as_bytes(), &mut scratch, 3),
        Ok(3)
    );
    assert_eq!(&scratch[..6], b"[1][1]");
}

#[test]
fn ack_response() {
    assert_eq!(
        decode_ack_response(r#"{"success":true,"acknowledged_offset":17}"#, 5),
        Ok(AckResponse {
            success: true,
            acknowledged_offset: 17
        })
    );
    assert_eq!(
        decode_ack_response("{}", 5),
        Ok(AckResponse {
            success: true,
            acknowledged_offset: 5
        })
    );
    assert_eq!(
        decode_ack_response(r#"{"success":false}"#, 5),
        Ok(AckResponse {
            success: false,
            acknowledged_offset: 5
        })
    );
    assert!(decode_ack_response("ok", 5).is_err());
    assert!(decode_ack_response("[]", 5).is_err());
    assert!(decode_ack_response(r#"{"success":"yes"}"#, 5).is_err());
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        // Quarters only: serde_json (without float_roundtrip) re-parses other floats inexactly,
        // which would be a test artifact (the decoder splices payload text, it never re-prints).
        (-1e9f64..1e9).prop_map(|f| json!((f * 4.0).round() / 4.0)),
        ".{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 32, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map(".{0,6}", inner, 0..5)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #[test]
    fn any_json_payload_round_trips(payload in arb_json(), offset in 0u64..1 << 53, ts in 0u64..1 << 53, key in proptest::option::of(".{0,10}"), user in proptest::option::of(".{0,10}"), partition in 0u32..8) {
        let mut message = json!({
            "topic_id": "app.events", "partition_id": partition, "offset": offset,
            "payload": b64(&payload.to_string()), "key": key, "timestamp_ms": ts, "op": "Delete",
        });
        if let Some(user) = &user {
            message["user"] = json!(user);
        }
        let batch = ConsumeBatch::decode(&json!({ "messages": [message], "next_offset": offset + 1, "has_more": true }).to_string(), &CTX).unwrap();
        let m = &batch.messages[0];
        prop_assert_eq!(m.payload.as_ref(), Some(&payload));
        prop_assert_eq!(m.offset, offset);
        prop_assert_eq!(m.timestamp_ms, ts);
        prop_assert_eq!(&m.key, &key);
        prop_assert_eq!(&m.user, &user);
        prop_assert_eq!(m.partition_id, partition);
        prop_assert_eq!(m.group_id.as_str(), "billing");
        prop_assert_eq!(batch.next_offset, offset + 1);
    }

    #[test]
    fn pretty_printed_payloads_decode_too(payload in arb_json()) {
        let text = serde_json::to_string_pretty(&payload).unwrap();
        let m = one(json!({ "op": "Insert", "payload": b64(&text) }));
        prop_assert_eq!(&m["payload"], &payload);
    }

    #[test]
    fn arbitrary_payload_strings_never_vanish(raw in ".{0,40}") {
        // Whatever the string is, the message is there: decoded, or with its error and raw text.
        let m = one(json!({ "op": "Insert", "payload": raw.clone() }));
        match m.get("payload") {
            Some(_) => prop_assert!(m.get("decode_error").is_none()),
            None => {
                prop_assert!(m["decode_error"].is_string());
                prop_assert_eq!(&m["raw_payload"], &json!(raw));
            }
        }
    }

    #[test]
    fn arbitrary_bytes_decode_iff_utf8_json(bytes in prop::collection::vec(any::<u8>(), 0..40)) {
        let m = one(json!({ "op": "Insert", "payload": STANDARD.encode(&bytes) }));
        let expected = std::str::from_utf8(&bytes).ok().and_then(|t| serde_json::from_str::<Value>(t).ok());
        match expected {
            Some(v) => prop_assert_eq!(&m["payload"], &v),
            None => prop_assert!(m["decode_error"].is_string()),
        }
    }

    #[test]
    fn bodies_never_panic(body in ".{0,80}") {
        let _ = decode_consume_response(&body, &CTX);
    }

    #[test]
    fn many_messages_keep_order(n in 0usize..40) {
        let messages: Vec<Value> = (0..n).map(|i| json!({ "offset": i, "op": "Insert", "payload": b64(&format!("{{\"i\":{i}}}")) })).collect();
        let batch = ConsumeBatch::decode(&json!({ "messages": messages }).to_string(), &CTX).unwrap();
        prop_assert_eq!(batch.messages.len(), n);
        for (i, m) in batch.messages.iter().enumerate() {
            prop_assert_eq!(m.offset, i as u64);
            prop_assert_eq!(m.payload.as_ref(), Some(&json!({ "i": i })));
        }
    }
}
